"""Small pure helpers for what is shown to people: fingerprints, hidden user:password, escaped
control characters, values that look like tokens. Standard library only, cheap to import."""

from __future__ import annotations

import re

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
    """A value a person gave, fit to repeat in a message: a token-like one only by fingerprint."""
    return fingerprint(value) if looks_like_token(value.strip()) else value[:limit]


def escape_controls(text: str) -> str:
    """Control characters (terminal escapes, bidi overrides) as visible escapes; newlines and tabs stay."""
    return _CONTROLS.sub(lambda match: ascii(match.group())[1:-1], text)


def shown_name(name: str) -> str:
    """A profile name as written in config.toml, fit to show on one line: a hand-edited newline,
    tab or escape sequence shows as its escape (`\\n`, `\\x1b`), never as itself."""
    return _NAME_CONTROLS.sub(lambda match: ascii(match.group())[1:-1], name)


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
