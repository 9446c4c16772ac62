"""What the services said of a token, as data: the replies and the facts around them. No
judgement and no wording (rules.py judges, advice.py words)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class Reply:
    """What one service answered, or why it could not answer."""

    service: str  # "Yandex ID" or "Metrika"
    host: str = ""
    status: int | None = None
    error_type: str | None = None
    data: Any = None
    network: str | None = None  # dns, refused, tls, proxy, timeout, cut, other
    detail: str = ""
    html: bool = False
    broken: bool = False  # a 200 whose body is not the JSON it should be, or any answer over the size limit
    retry_after: float | None = None  # seconds, from a Retry-After header
    raw: bytes = b""  # the body as received: `metrika api` prints it unchanged
    headers: list[tuple[str, str]] = field(default_factory=list)  # as received, for `metrika api --include`

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.broken and not self.html


@dataclass
class Evidence:
    token_source: str | None = None
    token_problem: str | None = None
    identity: Reply | None = None
    metrika: Reply | None = None
    counters: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> counter, as Metrika listed it
    counter_ids: list[int] = field(default_factory=list)
    need: str = "read"
    expected_client_id: str | None = None
    expected_login: str | None = None
    scopes: list[str] = field(default_factory=list)
    proxy: str | None = None  # its user:password already hidden
    proxy_variable: str | None = None  # the variable it came from, e.g. HTTPS_PROXY
    timeout: float = 10.0
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    profile: str = "default"
    accounts: Reply | None = None  # the accounts the owner represents: extra, never decides
    expires_at: str | None = None  # recorded at login, for a stored token
    expiring_within: int | None = None  # --expiring-within DAYS
    implicit_profile: str = "default"  # the one metrika picks without --profile: its fixes need none
    profiles: list[str] | None = None  # the stored profiles' names, when there is no token: a typo is named


def same_login(a: str, b: str) -> bool:
    """Yandex logins ignore case, and treat '.' and '-' alike."""

    def norm(login: str) -> str:
        return login.strip().lower().replace(".", "-")

    return norm(a) == norm(b)


def identity_data(ev: Evidence) -> dict[str, Any] | None:
    """What Yandex ID said of the token, when it said it properly."""
    reply = ev.identity
    return reply.data if reply is not None and reply.ok and isinstance(reply.data, dict) else None


def issued_to(ev: Evidence) -> str:
    """The ClientID of the app Yandex ID says the token was issued to ("" when it did not say)."""
    return str((identity_data(ev) or {}).get("client_id") or "")


def other_app(ev: Evidence) -> bool:
    """A ClientID is expected, and Yandex ID does not say the token was issued to it."""
    return bool(ev.expected_client_id) and issued_to(ev).lower() != (ev.expected_client_id or "").lower()


def owner_login(ev: Evidence) -> str | None:
    """The login of the token's owner, as Yandex ID says it."""
    login = (identity_data(ev) or {}).get("login")
    return str(login) if login else None


def metrika_ok(ev: Evidence) -> bool:
    return ev.metrika is not None and ev.metrika.ok


def metrika_said(ev: Evidence, *statuses: int) -> str | None:
    """Metrika's error_type when it refused with one of these statuses ("" without one)."""
    reply = ev.metrika
    if reply is None or reply.ok or reply.status not in statuses:
        return None
    return reply.error_type or ""
