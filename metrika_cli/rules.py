"""The rules: pure functions from the evidence to a finding, asked in order; the first finding
wins. A finding is a Diagnosis with the facts its words need, as data (advice.py words it). The
checks are read from the evidence by `checks`, as far as the finding's stage: no rule keeps any
state, so the order of the rules decides which finding wins and nothing else. No wording here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, dataclass_transform

from .errors import Diagnosis
from .evidence import (
    Evidence,
    Reply,
    identity_data,
    issued_to,
    metrika_ok,
    metrika_said,
    other_app,
    owner_login,
    same_login,
)
from .expiry import days_left

WRITE_PERMISSIONS = ("own", "edit")
DEFAULT_API_HOST = "api-metrika.yandex.net"  # METRIKA_API_URL's host, when Metrika's reply has none


class Stage(IntEnum):
    """How far a diagnosis goes, in order. The checks of the stages up to a finding's own are read
    from the evidence; those of later stages are skipped (nothing decided them)."""

    PRESENT = 0  # token_present
    FORMED = 1  # well_formed
    ANSWERED = 2  # both services answered: no network trouble, quota or broken service
    ACCEPTED = 3  # header_read, token_valid
    APP = 4  # expected_app
    RIGHTS = 5  # metrika_rights: Metrika answered
    IDENTIFIED = 6  # Yandex ID said whose token it is (expected_account, when an account is expected)
    SCOPED = 7  # metrika_rights: the scopes recorded at login allow the need
    ACCOUNT = 8  # expected_account
    COUNTERS = 9  # counter:N
    EXPIRY = 10  # expiry:N
    DONE = 11


@dataclass
class CounterResult:
    id: int
    name: str | None
    permission: str | None
    ok: bool


@dataclass_transform(eq_default=True, frozen_default=True)
class Finding:
    """What the evidence shows: a diagnosis, how far it went, and (in each kind) the facts that say
    it. A frozen value, as a frozen dataclass is (the fields are the annotated names), built
    without generating code: check-access's lean start-up defines twenty of these."""

    code: ClassVar[Diagnosis]
    stage: ClassVar[Stage]
    fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls) -> None:
        own = [name for name, kind in vars(cls).get("__annotations__", {}).items() if "ClassVar" not in str(kind)]
        cls.fields = (*cls.fields, *own)

    def __init__(self, *args: Any, **named: Any) -> None:
        given = self.fields[: len(args)]
        if len(args) > len(self.fields) or set(named) & set(given) or set(given) | set(named) != set(self.fields):
            raise TypeError(f"{type(self).__name__} takes the facts {', '.join(self.fields)}")
        values = dict(zip(given, args, strict=True), **named)
        self.__dict__.update((name, values[name]) for name in self.fields)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a finding is not changed: {type(self).__name__}.{name}")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{key}={value!r}' for key, value in vars(self).items())})"


# ---- the findings -------------------------------------------------------------------------


class NoToken(Finding):
    code = Diagnosis.NO_TOKEN
    stage = Stage.PRESENT
    profile: str
    stored: tuple[str, ...]  # the stored profiles' names, when known: a typo is named


class Malformed(Finding):
    code = Diagnosis.TOKEN_MALFORMED
    stage = Stage.FORMED
    source: str
    problem: str


class NetworkError(Finding):
    code = Diagnosis.NETWORK_ERROR
    stage = Stage.ANSWERED
    service: str
    host: str
    kind: str  # dns, refused, tls, proxy, timeout, cut, deadline, other


class TooLarge(Finding):
    code = Diagnosis.UNEXPECTED_RESPONSE
    stage = Stage.ANSWERED
    service: str


class RateLimited(Finding):
    code = Diagnosis.RATE_LIMITED
    stage = Stage.ANSWERED
    service: str
    quota: str  # the error_type, e.g. quota_requests_by_uid; "" when the service named none
    retry_after: float | None


class Unavailable(Finding):
    code = Diagnosis.SERVICE_UNAVAILABLE
    stage = Stage.ANSWERED
    service: str
    host: str
    status: int
    error_type: str
    html: bool


class BrokenBody(Finding):
    code = Diagnosis.UNEXPECTED_RESPONSE
    stage = Stage.ANSWERED
    service: str


class TokenInvalid(Finding):
    code = Diagnosis.TOKEN_INVALID
    stage = Stage.ACCEPTED
    source: str


class HeaderRejected(Finding):
    code = Diagnosis.HEADER_REJECTED
    stage = Stage.ACCEPTED
    host: str
    proxy: str | None


class UnknownRefusal(Finding):
    code = Diagnosis.UNEXPECTED_RESPONSE
    stage = Stage.ACCEPTED
    status: int | None
    error_type: str


class WrongApp(Finding):
    code = Diagnosis.WRONG_APP
    stage = Stage.APP
    app: str
    expected: str


class NoMetrikaRights(Finding):
    code = Diagnosis.SCOPE_MISSING
    stage = Stage.RIGHTS
    app: str


class IdentityUnknown(Finding):
    code = Diagnosis.UNEXPECTED_RESPONSE
    stage = Stage.IDENTIFIED
    expected_login: str


class WriteScopeMissing(Finding):
    code = Diagnosis.SCOPE_MISSING
    stage = Stage.SCOPED
    scopes: tuple[str, ...]
    app: str


class WrongAccount(Finding):
    code = Diagnosis.WRONG_ACCOUNT
    stage = Stage.ACCOUNT
    owner: str
    expected: str


class NoCounterAccess(Finding):
    code = Diagnosis.NO_COUNTER_ACCESS
    stage = Stage.COUNTERS
    owner: str | None
    need: str
    missing: tuple[int, ...]
    read_only: tuple[CounterResult, ...]  # any it can see but only read, when it must change them


class InsufficientPermission(Finding):
    code = Diagnosis.INSUFFICIENT_PERMISSION
    stage = Stage.COUNTERS
    owner: str | None
    read_only: tuple[CounterResult, ...]


class Expiring(Finding):
    code = Diagnosis.TOKEN_EXPIRING
    stage = Stage.EXPIRY
    expires_at: str
    within: int


class Expired(Finding):
    code = Diagnosis.TOKEN_INVALID
    stage = Stage.ACCEPTED
    date: str


class OfflineOk(Finding):
    code = Diagnosis.OK
    stage = Stage.DONE


class Ok(Finding):
    code = Diagnosis.OK
    stage = Stage.DONE
    counters_asked: bool
    need: str


# ---- facts the rules and the checks share -------------------------------------------------


def trouble(reply: Reply) -> Finding | None:
    """Network trouble, a quota, a broken service or an absurd answer, if this reply (of any
    service) says so."""
    if reply.network:
        return NetworkError(reply.service, reply.host, reply.network)
    if reply.detail == "too_large":
        return TooLarge(reply.service)
    status = reply.status or 0
    if status == 429 or (reply.error_type or "").startswith("quota_"):
        return RateLimited(reply.service, reply.error_type or "", reply.retry_after)
    if status >= 500 or reply.html or reply.error_type in ("backend_error", "timeout"):
        return Unavailable(reply.service, reply.host, status, reply.error_type or "", reply.html)
    if reply.status == 200 and reply.broken:
        return BrokenBody(reply.service)
    return None


def token_refused(ev: Evidence) -> bool:
    """Metrika refuses the token itself, and Yandex ID does not vouch for it."""
    said = metrika_said(ev, 401, 403)
    if said is None:
        return False
    unknown_owner = not identity_data(ev)
    return said == "invalid_token" or (unknown_owner and (metrika_said(ev, 401) is not None or said == "access_denied"))


def write_lacking(ev: Evidence) -> bool:
    """Writing is asked for, and the scopes recorded at login lack metrika:write."""
    return ev.need == "write" and bool(ev.scopes) and "metrika:write" not in ev.scopes


def counter_results(ev: Evidence) -> list[CounterResult]:
    """Every counter asked for, in the order asked, with the access Metrika listed for it."""
    results = []
    for cid in ev.counter_ids:
        counter = ev.counters.get(cid)
        permission = counter.get("permission") if counter else None
        allowed = permission is not None and (ev.need == "read" or permission in WRITE_PERMISSIONS)
        results.append(CounterResult(cid, counter.get("name") if counter else None, permission, allowed))
    return results


def read_only(results: list[CounterResult]) -> tuple[CounterResult, ...]:
    return tuple(r for r in results if r.permission is not None and not r.ok)


# ---- the rules, in the order they are asked; the first finding wins -----------------------

Rule = Callable[[Evidence], "Finding | None"]


def rule_no_token(ev: Evidence) -> Finding | None:
    return None if ev.token_source is not None else NoToken(ev.profile, tuple(ev.profiles or ()))


def rule_malformed(ev: Evidence) -> Finding | None:
    return Malformed(ev.token_source or "", ev.token_problem) if ev.token_problem else None


def rule_transport(ev: Evidence) -> Finding | None:
    """Network trouble, a quota or a broken service, on either side, before anything else."""
    for reply in (ev.metrika, ev.identity):
        assert reply is not None
        found = trouble(reply)
        if found:
            return found
    return None


def rule_token_invalid(ev: Evidence) -> Finding | None:
    return TokenInvalid(ev.token_source or "") if token_refused(ev) else None


def rule_header_rejected(ev: Evidence) -> Finding | None:
    """A 401 although Yandex ID accepts the same token: the header did not arrive as sent."""
    if metrika_said(ev, 401) is None:
        return None
    return HeaderRejected((ev.metrika.host if ev.metrika else "") or DEFAULT_API_HOST, ev.proxy)


def rule_wrong_app(ev: Evidence) -> Finding | None:
    if metrika_said(ev, 403) != "access_denied" or not other_app(ev):
        return None
    return WrongApp(issued_to(ev), ev.expected_client_id or "")


def rule_no_metrika_rights(ev: Evidence) -> Finding | None:
    return NoMetrikaRights(issued_to(ev)) if metrika_said(ev, 403) == "access_denied" else None


def rule_unknown_refusal(ev: Evidence) -> Finding | None:
    if metrika_ok(ev):
        return None
    assert ev.metrika is not None
    return UnknownRefusal(ev.metrika.status, ev.metrika.error_type or "")


def rule_identity_unknown(ev: Evidence) -> Finding | None:
    """A working token Yandex ID does not describe: fine, unless an account must be checked."""
    if identity_data(ev) is not None or not ev.expected_login:
        return None
    return IdentityUnknown(ev.expected_login)


def rule_write_scope(ev: Evidence) -> Finding | None:
    if not write_lacking(ev):
        return None
    return WriteScopeMissing(tuple(ev.scopes), issued_to(ev) or ev.expected_client_id or "")


def rule_wrong_account(ev: Evidence) -> Finding | None:
    owner = owner_login(ev)
    if not (ev.expected_login and owner) or same_login(owner, ev.expected_login):
        return None
    return WrongAccount(owner, ev.expected_login)


def rule_no_counter_access(ev: Evidence) -> Finding | None:
    """Counters the owner cannot see at all, all named; any it can only read are named too."""
    results = counter_results(ev)
    missing = tuple(r.id for r in results if r.permission is None)
    if not missing:
        return None
    return NoCounterAccess(owner_login(ev), ev.need, missing, read_only(results))


def rule_insufficient_permission(ev: Evidence) -> Finding | None:
    found = read_only(counter_results(ev))
    return InsufficientPermission(owner_login(ev), found) if found else None


def rule_expiring(ev: Evidence) -> Finding | None:
    """--expiring-within DAYS: a token with fewer days left than DAYS (unknown expiry never is)."""
    if ev.expiring_within is None:
        return None
    days = days_left(ev.expires_at, ev.now)
    if days is None or days >= ev.expiring_within:
        return None
    assert ev.expires_at is not None
    return Expiring(ev.expires_at, ev.expiring_within)


def rule_expired(ev: Evidence) -> Finding | None:
    """Offline only: the expiry recorded at login has passed (online, Yandex says so itself)."""
    days = days_left(ev.expires_at, ev.now)
    if days is None or days > 0:
        return None
    assert ev.expires_at is not None
    return Expired(ev.expires_at[:10])


def rule_offline_ok(ev: Evidence) -> Finding:
    return OfflineOk()


def rule_ok(ev: Evidence) -> Finding:
    return Ok(bool(ev.counter_ids), ev.need)


RULES: list[Rule] = [
    rule_no_token,
    rule_malformed,
    rule_transport,
    rule_token_invalid,
    rule_header_rejected,
    rule_wrong_app,
    rule_no_metrika_rights,
    rule_unknown_refusal,
    rule_identity_unknown,
    rule_write_scope,
    rule_wrong_account,
    rule_no_counter_access,
    rule_insufficient_permission,
    rule_expiring,
    rule_ok,
]
# What can be said without asking any server (`metrika status --offline`).
OFFLINE_RULES: list[Rule] = [rule_no_token, rule_malformed, rule_expired, rule_expiring, rule_offline_ok]


def decide(ev: Evidence, rules: list[Rule] | None = None) -> Finding:
    """Ask each rule in turn; the first that finds something decides."""
    for rule in RULES if rules is None else rules:
        found = rule(ev)
        if found is not None:
            return found
    raise AssertionError("rule_ok always decides")


# ---- the checks, read from the evidence as far as the finding's stage ---------------------


@dataclass
class CheckState:
    """A check as the evidence shows it. Its detail is data: `fact` as it is, or, with a `note`,
    the fact in the words advice.py gives that note."""

    name: str
    status: str  # passed, failed, skipped
    note: str = ""  # e.g. issued_to, belongs_to, expires: a key of advice.NOTES
    fact: str = ""  # a token source, a login, an app, a permission, a date


def checks(ev: Evidence, finding: Finding) -> list[CheckState]:
    """Every check in its fixed order. A check of a stage past the finding's is skipped: the
    diagnosis stopped before it. The rest say what the evidence says."""
    at = finding.stage
    found = [
        CheckState("token_present", "passed", fact=ev.token_source)
        if ev.token_source is not None
        else CheckState("token_present", "failed"),
        _well_formed(ev) if at >= Stage.FORMED else CheckState("well_formed", "skipped"),
        *_accepted(ev, at),
        _expected_app(ev, at),
        _metrika_rights(ev, at),
        _expected_account(ev, at),
        *_counter_checks(ev, at),
    ]
    if ev.expiring_within is not None:
        found.append(_expiry(ev, ev.expiring_within, at))
    return found


def _well_formed(ev: Evidence) -> CheckState:
    if ev.token_problem:
        return CheckState("well_formed", "failed", "problem", ev.token_problem)
    return CheckState("well_formed", "passed")


def _accepted(ev: Evidence, at: Stage) -> list[CheckState]:
    """header_read and token_valid: what Metrika (or, offline, the recorded expiry) says of the token."""
    header, valid = CheckState("header_read", "skipped"), CheckState("token_valid", "skipped")
    if at < Stage.ACCEPTED:
        return [header, valid]
    if ev.metrika is None:  # offline: Yandex was not asked; only an expiry recorded at login speaks
        days = days_left(ev.expires_at, ev.now)
        if days is not None and days <= 0 and ev.expires_at:
            valid = CheckState("token_valid", "failed", "expired_on", ev.expires_at[:10])
    elif token_refused(ev):
        valid = CheckState("token_valid", "failed", "rejected")
    elif metrika_said(ev, 401) is not None:
        header = CheckState("header_read", "failed", "unauthorized")
        valid = CheckState("token_valid", "passed", "yandex_id_accepts")
    elif metrika_ok(ev) or metrika_said(ev, 403) == "access_denied":
        header, valid = CheckState("header_read", "passed"), CheckState("token_valid", "passed")
    return [header, valid]


def _expected_app(ev: Evidence, at: Stage) -> CheckState:
    if at < Stage.APP or identity_data(ev) is None or not ev.expected_client_id:
        return CheckState("expected_app", "skipped")
    if not other_app(ev):
        return CheckState("expected_app", "passed")
    refused = metrika_said(ev, 403) == "access_denied"  # else it works: that app has Metrika rights
    return CheckState("expected_app", "failed" if refused else "passed", "issued_to", issued_to(ev))


def _metrika_rights(ev: Evidence, at: Stage) -> CheckState:
    if at < Stage.RIGHTS:
        return CheckState("metrika_rights", "skipped")
    if metrika_said(ev, 403) == "access_denied":
        return CheckState("metrika_rights", "failed", "access_denied")
    if not metrika_ok(ev):  # offline, Metrika was not asked
        return CheckState("metrika_rights", "skipped")
    if at >= Stage.SCOPED and write_lacking(ev):
        return CheckState("metrika_rights", "failed", "without_write")
    return CheckState("metrika_rights", "passed")


def _expected_account(ev: Evidence, at: Stage) -> CheckState:
    owner = owner_login(ev)
    if at >= Stage.ACCOUNT and ev.expected_login and owner:
        if same_login(owner, ev.expected_login):
            return CheckState("expected_account", "passed", fact=owner)
        return CheckState("expected_account", "failed", "belongs_to", owner)
    if at >= Stage.IDENTIFIED and ev.identity is not None and identity_data(ev) is None and ev.expected_login:
        return CheckState("expected_account", "failed", "no_owner")
    return CheckState("expected_account", "skipped")


def _counter_checks(ev: Evidence, at: Stage) -> list[CheckState]:
    """One check per counter asked for (a counter asked twice is one check)."""
    if at < Stage.COUNTERS or not metrika_ok(ev):
        return [CheckState(f"counter:{cid}", "skipped") for cid in dict.fromkeys(ev.counter_ids)]
    found = {}
    for result in counter_results(ev):
        name = f"counter:{result.id}"
        if result.ok:
            found[name] = CheckState(name, "passed", fact=str(result.permission))
        elif result.permission:
            found[name] = CheckState(name, "failed", fact=str(result.permission))
        else:
            found[name] = CheckState(name, "failed", "no_access")
    return list(found.values())


def _expiry(ev: Evidence, within: int, at: Stage) -> CheckState:
    name = f"expiry:{within}"
    if at < Stage.EXPIRY:
        return CheckState(name, "skipped")
    days = days_left(ev.expires_at, ev.now)
    if days is None:
        return CheckState(name, "passed", "expiry_unknown")
    return CheckState(name, "passed" if days >= within else "failed", "expires")


def counters(ev: Evidence, finding: Finding) -> list[CounterResult]:
    """The counters' results a verdict lists: once the diagnosis reached them, and Metrika answered."""
    return counter_results(ev) if finding.stage >= Stage.COUNTERS and metrika_ok(ev) else []


def remarks(ev: Evidence, finding: Finding) -> list[str]:
    """What a diagnosis that went past Yandex ID's description remarks on: `other_app` (the token
    works, though issued to another app than the expected one), `undescribed` (Yandex ID did not
    say whose token it is, and no account is expected). Keys of advice.REMARKS."""
    if finding.stage <= Stage.IDENTIFIED or ev.identity is None:
        return []
    if identity_data(ev) is not None:
        return ["other_app"] if other_app(ev) else []
    return [] if ev.expected_login else ["undescribed"]
