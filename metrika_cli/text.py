"""Small pure helpers for what is shown to people: fingerprints, hidden user:password, escaped
control characters, values that look like tokens. Standard library only, cheap to import."""

from __future__ import annotations

import re
from collections.abc import Iterator

_TOKEN_LIKE = re.compile(r"[A-Za-z0-9._~+/-]{32,}=*")  # Yandex tokens: 39 to about 60 characters, or 32 hex
_HEX = re.compile(r"[0-9a-fA-F]{32}")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_NAME_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
# The commands that act on a profile: a fix that names one says which profile.
PROFILE_COMMANDS = (
    "check-access",
    "auth-url",
    "refresh",
    "logout",
    "whoami",
    "status",
    "login",
    "token",
    "check",
    "exec",
    "api",
)
_QUOTED = re.compile(r"`[^`\n]*`")
_PROFILE_COMMAND = re.compile(r"\bmetrika (?:" + "|".join(PROFILE_COMMANDS) + r")(?![\w-])")


def fingerprint(token: str) -> str:
    """`sha256:` and the first 8 hex digits: enough to tell tokens apart, useless to an attacker."""
    import hashlib  # not at the top: `metrika token` rarely needs it

    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:8]


def looks_like_token(value: str) -> bool:
    """Long, of the token alphabet, and random-looking (both cases and digits, or 32 hex): never echo it back.
    A long profile name or login (lower case words) does not look like one."""
    if not _TOKEN_LIKE.fullmatch(value):
        return False
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)
    return mixed or bool(_HEX.fullmatch(value))


def shown(value: str, limit: int = 40) -> str:
    """A value a person gave, fit to repeat in a message: a token-like one only by fingerprint, and
    any token-shaped run in it too; cut to `limit` only after that, so no cut hides a token's shape."""
    if looks_like_token(value.strip()):
        return fingerprint(value)
    return Secrets().redact(value)[:limit]


# ---- redaction -------------------------------------------------------------------------

MIN_SECRET = 16  # a shorter value cannot be a token (token_malformed), so it is never a secret to hide
PIECE = 8  # no run of this many characters of a known secret is ever shown
LONG_RUN = 32  # this many characters of the token alphabet in a row may be a token, whatever their case
TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_RUN = re.compile(r"[A-Za-z0-9_-]+")
_YANDEX_PREFIX = re.compile(r"y0_|AQAAAA|AgAAAA")
REDACTED = "[redacted]"


def token_shaped(run: str) -> bool:
    """A run of the token alphabet that may be a token: a Yandex prefix (y0_, AQAAAA, AgAAAA) in 16
    characters or more, or 32 characters or more whatever their case. Exactly 32 hex digits is a
    ClientID, which is shown by design (a token of that shape is caught when it is known, and
    where an argument is echoed, by `shown`)."""
    if len(run) < MIN_SECRET:
        return False
    if _YANDEX_PREFIX.search(run):
        return True
    return len(run) >= LONG_RUN and not _HEX.fullmatch(run)


class Secrets:
    """The secrets this run knows (the stored token, an environment token, a refresh token, the
    app's secret): every value shown is redacted with them before it is rendered. No piece of 8
    characters or more of one is shown, wherever it is cut; nor is any run shaped like a token."""

    def __init__(self) -> None:
        self._known: set[str] = set()
        self._pieces: set[str] = set()
        self._public: set[str] = set()

    def add(self, value: str | None) -> None:
        """Know `value` as a secret; one shorter than 16 characters cannot be a token and is ignored
        (hiding every "e" or "1" would garble every message, and hide nothing worth hiding)."""
        value = (value or "").strip()
        if len(value) < MIN_SECRET or value in self._known:
            return
        self._known.add(value)
        self._pieces.update(value[start : start + PIECE] for start in range(len(value) - PIECE + 1))

    def allow(self, text: str) -> None:
        """Long runs in `text` (the config folder's path) that are shown even though they are long;
        a piece of a known secret is hidden all the same."""
        self._public.update(_RUN.findall(text))

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._known))

    def __len__(self) -> int:
        return len(self._known)

    def __contains__(self, value: object) -> bool:
        return value in self._known

    def redact(self, text: str) -> str:
        """`text` with every piece of a known secret and every token-shaped run replaced: by the
        secret's fingerprint when a whole one is there, else by the run's, else by [redacted]."""
        spans = sorted([*self._secret_spans(text), *self._shaped_spans(text)])
        if not spans:
            return text
        parts, position = [], 0
        for start, end in _merged(spans):
            parts += [text[position:start], self._label(text[start:end])]
            position = end
        return "".join([*parts, text[position:]])

    def _label(self, hidden: str) -> str:
        whole = next((secret for secret in self._known if secret in hidden), None)
        if whole is not None:
            return fingerprint(whole)
        return fingerprint(hidden) if token_shaped(hidden) else REDACTED

    def _secret_spans(self, text: str) -> Iterator[tuple[int, int]]:
        """Every 8-character piece of a known secret, widened to the run of token characters around it."""
        if not self._pieces:
            return
        covered = 0
        for found in range(len(text) - PIECE + 1):
            if found + PIECE <= covered or text[found : found + PIECE] not in self._pieces:
                continue
            start, end = found, found + PIECE
            while start and text[start - 1] in TOKEN_ALPHABET:
                start -= 1
            while end < len(text) and text[end] in TOKEN_ALPHABET:
                end += 1
            covered = end
            yield start, end

    def _shaped_spans(self, text: str) -> Iterator[tuple[int, int]]:
        for match in _RUN.finditer(text):
            if token_shaped(match.group()) and match.group() not in self._public and not _folder(text, *match.span()):
                yield match.span()


def _folder(text: str, start: int, end: int) -> bool:
    """The run is a folder inside a path (`/…/run/…`): a long folder name, not a token."""
    return text[start - 1 : start] == "/" and text[end : end + 1] == "/" and not _YANDEX_PREFIX.search(text[start:end])


def _merged(spans: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    start, end = spans[0]
    for next_start, next_end in spans[1:]:
        if next_start <= end:
            end = max(end, next_end)
        else:
            yield start, end
            start, end = next_start, next_end
    yield start, end


def escape_controls(text: str) -> str:
    """Control characters (terminal escapes, bidi overrides) as visible escapes; newlines and tabs stay."""
    return _CONTROLS.sub(lambda match: ascii(match.group())[1:-1], text)


def shown_name(name: str) -> str:
    """A profile name as written in config.toml, fit to show on one line: a hand-edited newline,
    tab or escape sequence shows as its escape (`\\n`, `\\x1b`), never as itself."""
    return _NAME_CONTROLS.sub(lambda match: ascii(match.group())[1:-1], name)


CLOSE_NAMES = 3  # an unknown profile name is followed by this many of the closest stored ones


def close_names(name: str, stored: list[str]) -> list[str]:
    """The stored profile names closest to `name` (a typo of one, most likely), best first, as
    messages show them; empty when none is close."""
    import difflib

    return [shown_name(found) for found in difflib.get_close_matches(name, stored, n=CLOSE_NAMES)]


def with_profile(text: str, name: str, implicit: str) -> str:
    """Every `metrika COMMAND …` quoted in `text` carries `--profile NAME`, so following it acts on
    profile `name`; unless `name` is the profile metrika picks without --profile (`implicit`), or
    the command names a profile already."""
    if name == implicit:
        return text
    import shlex

    option = " --profile " + shlex.quote(shown_name(name))

    def carry(match: re.Match[str]) -> str:
        quoted = match.group()
        if "--profile" in quoted:
            return quoted
        return _PROFILE_COMMAND.sub(lambda command: command.group() + option, quoted, count=1)

    return _QUOTED.sub(carry, text)


def profile_command(words: str, name: str, implicit: str) -> str:
    """`metrika whoami` for profile `name`: with `--profile NAME` unless it is the implicit one."""
    return with_profile(f"`{words}`", name, implicit)[1:-1]


def hide_userinfo(url: str) -> str:
    """The URL with any user:password replaced by ***: a proxy's or a base URL's secret is not ours to show.
    Everything up to the last '@' goes, so a password with an unescaped '/', '?' or '#' in it goes too."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" not in rest:
        return url
    return f"{scheme}{sep}***@{rest.rpartition('@')[2]}"


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
