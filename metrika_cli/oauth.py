"""The authorize URL, and what people paste where a token is expected. Standard library only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlencode

from .errors import BadInput
from .i18n import N_, _, ngettext
from .text import MIN_SECRET, REDACTED, Secrets, fingerprint, looks_like_token, shown

CLIENT_ID_LENGTH = 32
CLIENT_ID_PATTERN = re.compile(r"[0-9a-fA-F]{32}")
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
# RFC 6750 b64token: every token Yandex has issued fits it ([A-Za-z0-9_-] seen so far).
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._~+/-]+=*")
PREFIX_ONLY = re.compile(r"(?:authorization\s*:\s*)?(?:oauth|bearer)(?:\s+(?:oauth|bearer))*", re.IGNORECASE)
PREFIX_PATTERN = re.compile(r"(?:authorization\s*:\s*)?(?:oauth|bearer)\s+(.*)", re.IGNORECASE | re.DOTALL)
QUOTES = "\"'`\u201c\u201d\u2018\u2019\u00ab\u00bb"
REDIRECT_URI = "https://oauth.yandex.ru/verification_code"
APP_REGISTRATION_URL = "https://oauth.yandex.ru/client/new"
DATA_ACCESS_URL = "https://id.yandex.ru/personal/data-access"  # where a user revokes tokens
METRIKA_SCOPES = ("metrika:read", "metrika:write")
# Every right a Metrika app can have (what --scope may ask for).
METRIKA_RIGHTS = ("metrika:read", "metrika:write", "metrika:expenses", "metrika:user_params", "metrika:offline_data")


@dataclass(frozen=True)
class PastedToken:
    token: str
    expires_in: int | None = None


def app_page_url(client_id: str) -> str:
    return f"https://oauth.yandex.ru/client/{client_id}"


def validate_client_id(value: str) -> str:
    """Return the ClientID in lower case, or refuse it without echoing it (it may be a token)."""
    candidate = value.strip()
    if CLIENT_ID_PATTERN.fullmatch(candidate):
        return candidate.lower()
    raise BadInput(
        client_id_problem(candidate),
        fix=[
            _("Copy the ClientID from your app's page at https://oauth.yandex.ru/ (it is shown under the app's name).")
        ],
    )


def client_id_problem(candidate: str) -> str:
    """What is wrong with a value given as a ClientID, in counts only: it may be a token."""
    problems = [_("That is not a ClientID: a ClientID is 32 hexadecimal characters (0-9, a-f).")]
    if len(candidate) != CLIENT_ID_LENGTH:
        problems.append(
            ngettext("This one has {count} character.", "This one has {count} characters.", len(candidate)).format(
                count=len(candidate)
            )
        )
    other = sum(1 for char in candidate if char not in HEX_DIGITS)
    if other:
        problems.append(
            ngettext(
                "{count} character in it is not a hexadecimal digit.",
                "{count} characters in it are not hexadecimal digits.",
                other,
            ).format(count=other)
        )
    return " ".join(problems)


def build_authorize_url(
    oauth_url: str,
    client_id: str,
    scopes: list[str] | tuple[str, ...] = (),
    login_hint: str | None = None,
    force_confirm: bool = False,
    secrets: Secrets | None = None,
) -> str:
    """The implicit-flow URL: Yandex shows the token on its verification_code page. A value that
    holds a token (a piece of one `secrets` knows, or anything shaped like one) is refused."""
    params = {"response_type": "token", "client_id": validate_client_id(client_id)}
    for value in (*scopes, login_hint or ""):
        if looks_like_token(value.strip()) or (secrets or Secrets()).redact(value) != value:
            raise BadInput(
                _(
                    "--login-hint and --scope take a Yandex login and rights such as metrika:read; this value "
                    "looks like a token ({fp}), and metrika never takes one in an option."
                ).format(fp=fingerprint(value.strip()) if looks_like_token(value.strip()) else REDACTED)
            )
    for scope in scopes:
        if not scope or any(ch.isspace() for ch in scope):
            raise BadInput(_("A scope is one word such as metrika:read; got an empty value or one with spaces."))
    if scopes:
        params["scope"] = " ".join(dict.fromkeys(scopes))
    if login_hint:
        params["login_hint"] = login_hint.strip()
    if force_confirm:
        params["force_confirm"] = "yes"
    return f"{oauth_url.rstrip('/')}/authorize?{urlencode(params, quote_via=quote)}"


def scope_problem(value: str) -> str | None:
    """Why `value` is not a right of Metrika that --scope may ask for (None when it is one)."""
    if value in METRIKA_RIGHTS:
        return None
    import difflib

    message = _("{value} is not a Metrika right; the rights are {rights}.").format(
        value=repr(shown(value)), rights=", ".join(METRIKA_RIGHTS)
    )
    close = difflib.get_close_matches(value.strip().lower(), METRIKA_RIGHTS, n=1)
    if close and not looks_like_token(value.strip()):
        message += " " + _("Did you mean {right}?").format(right=close[0])
    return message


def _strip_wrapping(value: str) -> str:
    previous = None
    while value != previous:
        previous = value
        value = value.strip()
        if len(value) >= 2 and value[0] in QUOTES and value[-1] in QUOTES:
            value = value[1:-1]
    return value


def _looks_like_address(value: str) -> bool:
    lowered = value.lower()
    return (
        "://" in value
        or value.startswith(("#", "?"))
        or any(key in lowered for key in ("access_token=", "error=", "code="))
    )


def _error_message(error: str, description: str) -> BadInput:
    if error == "access_denied":
        message = _("Yandex says access was denied: the consent page was refused or closed.")
        fix = [_('Run `metrika login` again and press "Allow" on the Yandex page.')]
    elif error == "unauthorized_client":
        message = _("Yandex refused the app (unauthorized_client): it is blocked, deleted, or its ClientID is wrong.")
        fix = [
            _(
                "Open your app at https://oauth.yandex.ru/ and check that it exists and that "
                "its ClientID is the one you gave."
            ),
            _("Create a new app if it was blocked: {url}").format(url=APP_REGISTRATION_URL),
        ]
    elif error == "invalid_scope":
        message = _("Yandex refused the requested rights (invalid_scope): the app does not have them.")
        fix = [_("Ask only for rights the app has, or add them on the app's page at https://oauth.yandex.ru/.")]
    else:
        message = _('Yandex answered with the error "{error}" instead of a token.').format(error=error)
        fix = [_("Run `metrika login` again.")]
    if description:
        message += " (" + description + ")"
    return BadInput(message, fix=fix)


def _parse_address(value: str) -> PastedToken:
    fragment = value.split("#", 1)[1] if "#" in value else ""
    before_fragment = value.split("#", 1)[0]
    query = before_fragment.split("?", 1)[1] if "?" in before_fragment else ""
    if "://" not in value and not fragment and not query:
        fragment = value  # a bare "access_token=...&expires_in=..." copied without the address
    params: dict[str, list[str]] = {}
    for part in (query, fragment):
        for key, values in parse_qs(part.lstrip("#?"), keep_blank_values=True).items():
            params.setdefault(key, []).extend(values)

    def first(key: str) -> str:
        return (params.get(key) or [""])[0].strip()

    if first("error"):
        raise _error_message(first("error"), first("error_description"))
    token = first("access_token")
    if token:
        expires = first("expires_in")
        # isascii: str.isdigit() also accepts '²' and other digits int() refuses; ten digits
        # (three centuries) keep the expiry date within what datetime can hold.
        valid = expires.isascii() and expires.isdigit() and len(expires) <= 10
        return PastedToken(token, int(expires) if valid else None)
    if first("code"):
        raise BadInput(
            _("This address carries a confirmation code (the ?code= flow), not a token."),
            fix=[
                _(
                    "Open the address that metrika printed: it asks for a token "
                    "(response_type=token), and Yandex then shows the token itself."
                ),
                _("Paste that token, or the whole address of the page it is shown on."),
            ],
        )
    raise BadInput(
        _("This address holds no token (no access_token in it)."),
        fix=[_('After you press "Allow", paste the token the Yandex page shows, or the whole address of that page.')],
    )


PROBLEMS = {
    "empty": N_("the value is empty"),
    "prefix_only": N_('it is only the word "OAuth" or "Bearer", with no token after it'),
    "prefix": N_('it starts with "OAuth " or "Bearer "'),
    "address": N_("it is an address or a piece of one, not the token"),
    "whitespace": N_("it has whitespace inside"),
    "non_ascii": N_("it has non-ASCII characters"),
    "control": N_("it has control characters"),
    "quotes": N_("it has quotes inside"),
    "client_id": N_("it is the app's ClientID, not a token"),
    "characters": N_("it has characters no token has"),
    "short": N_("it is shorter than 16 characters, and every token is longer"),
}


def token_problem(value: str, client_id: str | None = None) -> str | None:
    """Why `value` cannot be a token (a key of PROBLEMS), or None when it could be one.

    Yandex publishes no token format: only what no token can be is flagged.
    """
    if not value:
        return "empty"
    if PREFIX_ONLY.fullmatch(value.strip()):
        return "prefix_only"
    if PREFIX_PATTERN.fullmatch(value.strip()):
        return "prefix"
    if _looks_like_address(value):
        return "address"
    if any(ch.isspace() for ch in value):
        return "whitespace"
    if not value.isascii():
        return "non_ascii"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "control"
    if any(ch in QUOTES for ch in value):
        return "quotes"
    if client_id and value.lower() == client_id.lower():
        return "client_id"
    if not TOKEN_PATTERN.fullmatch(value):
        return "characters"
    if len(value) < MIN_SECRET:
        return "short"
    return None


def describe_problem(problem: str) -> str:
    return _(PROBLEMS[problem])


# Where a token came from (Token.source), as messages name it after "from".
SOURCES = {
    "env:METRIKA_TOKEN": "METRIKA_TOKEN",
    "env:METRIKA_TOKEN_FILE": N_("the file named by METRIKA_TOKEN_FILE"),
    "keyring": N_("the keyring"),
    "file": N_("the plain-text credentials file"),
    "login": N_("the pasted text"),
}


def describe_source(source: str) -> str:
    return _(SOURCES[source]) if source in SOURCES else source


def parse_pasted_token(text: str, client_id: str | None = None) -> PastedToken:
    """Recover the token from what a person pasted: the bare token, `OAuth <t>`, quotes,
    or the whole browser address; refuse, without echoing it, what cannot be a token."""
    value = _strip_wrapping(text)
    if not value:
        raise BadInput(
            _("No token was given: the input is empty."),
            fix=[_('Paste the token that the Yandex page shows after you press "Allow".')],
        )
    if _looks_like_address(value):
        pasted = _parse_address(value)
    else:
        prefixed = PREFIX_PATTERN.fullmatch(value)
        pasted = PastedToken(_strip_wrapping(prefixed.group(1)) if prefixed else value)
    problem = token_problem(pasted.token, client_id)
    if problem == "client_id":
        raise BadInput(
            _("That is the app's ClientID, not a token."),
            fix=[_('Open the authorize URL, press "Allow", and paste the token the Yandex page shows.')],
        )
    if problem:
        raise BadInput(
            _("That cannot be a token: {reason}.").format(reason=describe_problem(problem)),
            fix=[_("Paste the token alone, exactly as the Yandex page shows it.")],
        )
    return pasted
