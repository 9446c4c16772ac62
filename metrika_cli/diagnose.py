"""Evidence in, Diagnosis out: why a token does or does not work. Pure: no I/O."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import Diagnosis, ExitCode
from .expiry import days_left, expires_in
from .i18n import N_, _, ngettext
from .oauth import app_page_url, describe_problem, describe_source
from .text import close_names, shown_name, with_profile

WRITE_PERMISSIONS = ("own", "edit")


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


@dataclass
class Check:
    name: str
    status: str  # passed, failed, skipped
    detail: str = ""


@dataclass
class CounterResult:
    id: int
    name: str | None
    permission: str | None
    ok: bool


@dataclass
class Verdict:
    """A diagnosis with its story: summary, fix steps, the evidence lines and every check."""

    code: Diagnosis
    summary: str
    fix: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    counters: list[CounterResult] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        return self.code.exit_code

    @property
    def ok(self) -> bool:
        return self.code is Diagnosis.OK


CHECK_LABELS = {
    "token_present": N_("a token is present"),
    "well_formed": N_("it is well formed"),
    "header_read": N_("the API reads the header"),
    "token_valid": N_("the token is valid"),
    "expected_app": N_("it is from the expected app"),
    "metrika_rights": N_("it has Metrika rights"),
    "expected_account": N_("it belongs to the expected account"),
}


def check_label(name: str) -> str:
    if name.startswith("counter:"):
        return _("access to counter {id}").format(id=name.split(":", 1)[1])
    if name.startswith("expiry:"):
        days = int(name.split(":", 1)[1])
        return ngettext("it has at least {days} day left", "it has at least {days} days left", days).format(days=days)
    return _(CHECK_LABELS[name])


class Checks:
    """The checks in their fixed order, all skipped until a rule passes or fails them."""

    def __init__(self, evidence: Evidence) -> None:
        names = list(CHECK_LABELS) + [f"counter:{cid}" for cid in evidence.counter_ids]
        if evidence.expiring_within is not None:
            names.append(f"expiry:{evidence.expiring_within}")
        self.checks = {name: Check(name, "skipped") for name in names}
        self.warnings: list[str] = []
        self.evidence: list[str] = []
        self.counters: list[CounterResult] = []

    def passed(self, *names: str, detail: str = "") -> None:
        for name in names:
            self.checks[name] = Check(name, "passed", detail)

    def failed(self, name: str, detail: str = "") -> None:
        self.checks[name] = Check(name, "failed", detail)

    def result(self, code: Diagnosis, summary: str, fix: list[str]) -> Verdict:
        return Verdict(code, summary, fix, self.evidence, self.warnings, list(self.checks.values()), self.counters)


def same_login(a: str, b: str) -> bool:
    """Yandex logins ignore case, and treat '.' and '-' alike."""

    def norm(login: str) -> str:
        return login.strip().lower().replace(".", "-")

    return norm(a) == norm(b)


Rule = Callable[[Evidence, Checks], "Verdict | None"]


def identity_data(ev: Evidence) -> dict[str, Any] | None:
    """What Yandex ID said of the token, when it said it properly."""
    reply = ev.identity
    return reply.data if reply is not None and reply.ok and isinstance(reply.data, dict) else None


def _issued_to(ev: Evidence) -> str:
    return str((identity_data(ev) or {}).get("client_id") or "")


def _other_app(ev: Evidence) -> bool:
    return bool(ev.expected_client_id) and _issued_to(ev).lower() != (ev.expected_client_id or "").lower()


# ---- the rules, in the order they are asked; the first verdict wins --------------------


def rule_no_token(ev: Evidence, c: Checks) -> Verdict | None:
    if ev.token_source is not None:
        c.passed("token_present", detail=ev.token_source)
        return None
    c.failed("token_present")
    unknown = unknown_profile_words(ev.profile, ev.profiles or [])
    if unknown:
        return c.result(Diagnosis.NO_TOKEN, *unknown)
    return c.result(
        Diagnosis.NO_TOKEN,
        _("No token: nothing in METRIKA_TOKEN, METRIKA_TOKEN_FILE or the store."),
        [
            _("Run `metrika login` to get and store a token."),
            _("Or, in CI, set METRIKA_TOKEN (or METRIKA_TOKEN_FILE) to a token."),
        ],
    )


def unknown_profile_words(name: str, stored: list[str]) -> tuple[str, list[str]] | None:
    """(summary, fix) for a profile name that is not stored while others are (a typo, most
    likely), with the closest stored names; None when it is stored, or nothing is."""
    if not stored or name in stored:
        return None
    close = close_names(name, stored)
    summary = ngettext(
        "No profile named {name} is stored (there is {count} other).",
        "No profile named {name} is stored (there are {count} others).",
        len(stored),
    ).format(name=shown_name(name), count=len(stored))
    fix = [_("Did you mean {names}?").format(names=", ".join(close))] if close else []
    fix += [
        _("To create it, log in: `metrika login`."),
        _("`metrika switch` lists the stored profiles."),
    ]
    return summary, fix


def rule_malformed(ev: Evidence, c: Checks) -> Verdict | None:
    if not ev.token_problem:
        c.passed("well_formed")
        return None
    c.failed("well_formed", describe_problem(ev.token_problem))
    return c.result(
        Diagnosis.TOKEN_MALFORMED,
        _("The value from {source} cannot be a token: {reason}.").format(
            source=describe_source(ev.token_source or ""), reason=describe_problem(ev.token_problem)
        ),
        _malformed_fix(ev),
    )


def rule_transport(ev: Evidence, c: Checks) -> Verdict | None:
    """Network trouble, a quota or a broken service, on either side, before anything else."""
    for reply in (ev.metrika, ev.identity):
        assert reply is not None
        trouble = _transport_trouble(reply, ev)
        if trouble:
            return c.result(*trouble)
    id_data = identity_data(ev)
    if id_data:
        c.evidence.append(_identity_line(id_data, ev))
    if not _metrika_ok(ev):
        assert ev.metrika is not None
        c.evidence.append(
            _("Metrika: HTTP {status} {error_type}")
            .format(status=ev.metrika.status, error_type=ev.metrika.error_type or "")
            .strip()
        )
    return None


def _metrika_ok(ev: Evidence) -> bool:
    return ev.metrika is not None and ev.metrika.ok


def _metrika_said(ev: Evidence, *statuses: int) -> str | None:
    """Metrika's error_type when it refused with one of these statuses ("" without one)."""
    reply = ev.metrika
    if reply is None or reply.ok or reply.status not in statuses:
        return None
    return reply.error_type or ""


def rule_token_invalid(ev: Evidence, c: Checks) -> Verdict | None:
    said = _metrika_said(ev, 401, 403)
    if said is None:
        return None
    unknown_owner = not identity_data(ev)
    if said == "invalid_token" or (unknown_owner and (_metrika_said(ev, 401) is not None or said == "access_denied")):
        c.failed("token_valid", _("rejected by Metrika and Yandex ID"))
        fix = [
            _(
                "The token expired, was revoked, or the account's password or 2FA changed: get a new one "
                "with `metrika login`."
            )
        ]
        if ev.token_source and ev.token_source.startswith("env:"):
            fix.append(
                _("The token comes from {source}: replace it there with the new one.").format(
                    source=describe_source(ev.token_source)
                )
            )
        return c.result(Diagnosis.TOKEN_INVALID, _("The token is not valid (expired, revoked, or never valid)."), fix)
    return None


def rule_header_rejected(ev: Evidence, c: Checks) -> Verdict | None:
    if _metrika_said(ev, 401) is None:
        return None
    c.passed("token_valid", detail=_("Yandex ID accepts it"))
    c.failed("header_read", _("Metrika answered 401 unauthorized"))
    return c.result(
        Diagnosis.HEADER_REJECTED,
        _(
            "Metrika did not read the Authorization header, although Yandex ID accepts "
            "the same token: something between you and Metrika changed or dropped the header."
        ),
        _header_fix(ev),
    )


def rule_wrong_app(ev: Evidence, c: Checks) -> Verdict | None:
    if _metrika_said(ev, 403) != "access_denied":
        return None
    c.passed("header_read", "token_valid")
    if not _other_app(ev):
        return None
    issued_to, expected = _issued_to(ev), ev.expected_client_id
    c.failed("expected_app", _("issued to {app}").format(app=issued_to))
    return c.result(
        Diagnosis.WRONG_APP,
        _(
            "The token was issued to another app ({app}) than your ClientID ({expected}), "
            "and that app has no Metrika rights."
        ).format(app=issued_to, expected=expected),
        [
            _("Get a token from your own app: `metrika login --client-id {expected} --force-confirm`.").format(
                expected=expected
            ),
            _("If you build the authorize URL yourself, check its client_id: it must be {expected}.").format(
                expected=expected
            ),
            _("Or, if app {app} is yours, give it Metrika rights: {url} → Edit → Data access → Yandex Metrica.").format(
                app=issued_to, url=app_page_url(issued_to)
            ),
        ],
    )


def rule_no_metrika_rights(ev: Evidence, c: Checks) -> Verdict | None:
    if _metrika_said(ev, 403) != "access_denied":
        return None
    if ev.expected_client_id:
        c.passed("expected_app")
    issued_to = _issued_to(ev)
    c.failed("metrika_rights", _("Metrika answered 403 access_denied"))
    return c.result(
        Diagnosis.SCOPE_MISSING,
        _("The app {app} that issued this token has no Metrika rights (metrika:read).").format(app=issued_to),
        _scope_fix(issued_to, "metrika:read"),
    )


def rule_unknown_refusal(ev: Evidence, c: Checks) -> Verdict | None:
    if _metrika_ok(ev):
        c.passed("header_read", "token_valid", "metrika_rights")
        return None
    assert ev.metrika is not None
    return c.result(
        Diagnosis.UNEXPECTED_RESPONSE,
        _("Metrika gave an answer metrika does not recognize: HTTP {status} {error_type}.")
        .format(status=ev.metrika.status, error_type=ev.metrika.error_type or "")
        .strip(),
        [_("Try again; if it persists, run with METRIKA_DEBUG=1 and report the output (the token is redacted in it).")],
    )


def rule_identity_unknown(ev: Evidence, c: Checks) -> Verdict | None:
    """A working token Yandex ID does not describe: fine, unless an account must be checked."""
    if identity_data(ev) is not None:
        if ev.expected_client_id and _other_app(ev):
            c.passed("expected_app", detail=_("issued to {app}").format(app=_issued_to(ev)))
            c.warnings.append(
                _(
                    "The token was issued to app {app}, not to your ClientID {expected}; it works "
                    "because that app has Metrika rights."
                ).format(app=_issued_to(ev), expected=ev.expected_client_id)
            )
        elif ev.expected_client_id:
            c.passed("expected_app")
        return None
    if not ev.expected_login:
        c.warnings.append(_("Yandex ID did not describe the token, so its app and account were not checked."))
        return None
    c.failed("expected_account", _("Yandex ID did not say whose token it is"))
    return c.result(
        Diagnosis.UNEXPECTED_RESPONSE,
        _("Yandex ID did not say whose token it is, so the account {login} cannot be checked.").format(
            login=ev.expected_login
        ),
        [_("Retry; if it persists, run with METRIKA_DEBUG=1 and report the output (the token is redacted in it).")],
    )


def rule_write_scope(ev: Evidence, c: Checks) -> Verdict | None:
    if not (ev.need == "write" and ev.scopes and "metrika:write" not in ev.scopes):
        return None
    c.failed("metrika_rights", _("the token was requested without metrika:write"))
    app = _issued_to(ev) or ev.expected_client_id or ""
    return c.result(
        Diagnosis.SCOPE_MISSING,
        _("Writing needs metrika:write, and this token was requested with {scopes} only.").format(
            scopes=", ".join(ev.scopes)
        ),
        _scope_fix(app, "metrika:write"),
    )


def rule_wrong_account(ev: Evidence, c: Checks) -> Verdict | None:
    owner = (identity_data(ev) or {}).get("login")
    if not (ev.expected_login and owner):
        return None
    if same_login(owner, ev.expected_login):
        c.passed("expected_account", detail=owner)
        return None
    c.failed("expected_account", _("belongs to {login}").format(login=owner))
    return c.result(
        Diagnosis.WRONG_ACCOUNT,
        _("The token belongs to {login}, not to {expected}.").format(login=owner, expected=ev.expected_login),
        [
            _(
                "Get a token as {expected}: `metrika login --force-confirm --login-hint {expected}`, "
                "and choose {expected} on the Yandex page."
            ).format(expected=ev.expected_login),
            _(
                "The token's owner is whoever is logged in to Yandex in the browser when it is "
                "issued, not the owner of the app."
            ),
        ],
    )


def rule_counter_checks(ev: Evidence, c: Checks) -> None:
    """Every counter asked for is checked and listed, passed or failed; the two rules after it decide."""
    for cid in ev.counter_ids:
        counter = ev.counters.get(cid)
        permission = counter.get("permission") if counter else None
        allowed = permission is not None and (ev.need == "read" or permission in WRITE_PERMISSIONS)
        c.counters.append(CounterResult(cid, counter.get("name") if counter else None, permission, allowed))
        key = f"counter:{cid}"
        if allowed:
            c.passed(key, detail=str(permission))
        else:
            c.failed(key, str(permission) if permission else _("no access"))


def rule_no_counter_access(ev: Evidence, c: Checks) -> Verdict | None:
    """Counters the owner cannot see at all, all named; any it can only read are named too."""
    missing = [r.id for r in c.counters if r.permission is None]
    if not missing:
        return None
    verdict = _no_counter_access(ev, c, missing, _owner(ev))
    read_only = _read_only(c)
    if read_only:
        also = _insufficient(ev, c, read_only, _owner(ev))
        verdict.summary = f"{verdict.summary} {also.summary}"
        verdict.fix.insert(2, also.fix[0])  # after the grant, before logging in as another account
    return verdict


def rule_insufficient_permission(ev: Evidence, c: Checks) -> Verdict | None:
    read_only = _read_only(c)
    return _insufficient(ev, c, read_only, _owner(ev)) if read_only else None


def _owner(ev: Evidence) -> str:
    return str((identity_data(ev) or {}).get("login") or _("the token's owner"))


def _read_only(c: Checks) -> list[CounterResult]:
    return [r for r in c.counters if r.permission is not None and not r.ok]


def rule_expiring(ev: Evidence, c: Checks) -> Verdict | None:
    """--expiring-within DAYS: a token with fewer days left than DAYS (unknown expiry never is)."""
    if ev.expiring_within is None:
        return None
    days, check = days_left(ev.expires_at, ev.now), f"expiry:{ev.expiring_within}"
    if days is None:
        c.passed(check, detail=_("expiry unknown"))
        return None
    left = expires_in(ev.expires_at, ev.now)
    detail = _("expires {left}").format(left=left)
    if days >= ev.expiring_within:
        c.passed(check, detail=detail)
        return None
    c.failed(check, detail)
    assert ev.expires_at is not None
    return c.result(
        Diagnosis.TOKEN_EXPIRING,
        ngettext(
            "The token expires on {date}, {left}: less than the {within} day asked for.",
            "The token expires on {date}, {left}: less than the {within} days asked for.",
            ev.expiring_within,
        ).format(date=ev.expires_at[:10], left=left, within=ev.expiring_within),
        [_("Get a new token before then: `{command}`.").format(command="metrika login")],
    )


def rule_expired(ev: Evidence, c: Checks) -> Verdict | None:
    """Offline only: the expiry recorded at login has passed (online, Yandex says so itself)."""
    days = days_left(ev.expires_at, ev.now)
    if days is None or days > 0:
        return None
    assert ev.expires_at is not None
    c.failed("token_valid", _("expired on {date}").format(date=ev.expires_at[:10]))
    return c.result(
        Diagnosis.TOKEN_INVALID,
        _("The token expired on {date} (the expiry recorded at login).").format(date=ev.expires_at[:10]),
        [_("Get a new one: `{command}`.").format(command="metrika login")],
    )


def rule_offline_ok(ev: Evidence, c: Checks) -> Verdict:
    return c.result(Diagnosis.OK, _("The token is stored as recorded at login (offline: Yandex was not asked)."), [])


def rule_ok(ev: Evidence, c: Checks) -> Verdict:
    summary = _("The token works for Metrika.")
    if ev.counter_ids:
        summary = _("The token works for Metrika and can {need} every counter asked for.").format(
            need=_("read") if ev.need == "read" else _("change")
        )
    return c.result(Diagnosis.OK, summary, [])


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
    rule_counter_checks,
    rule_no_counter_access,
    rule_insufficient_permission,
    rule_expiring,
    rule_ok,
]
# What can be said without asking any server (`metrika status --offline`).
OFFLINE_RULES: list[Rule] = [rule_no_token, rule_malformed, rule_expired, rule_expiring, rule_offline_ok]


def diagnose(ev: Evidence, rules: list[Rule] | None = None) -> Verdict:
    """Ask each rule in turn; the first that reaches a verdict decides."""
    checks = Checks(ev)
    for rule in RULES if rules is None else rules:
        verdict = rule(ev, checks)
        if verdict is not None:
            return carrying_profile(verdict, ev)
    raise AssertionError("rule_ok always decides")


def carrying_profile(verdict: Verdict, ev: Evidence) -> Verdict:
    """Every command the verdict names acts on the profile it is about (`--profile NAME` where
    metrika would otherwise pick another), so following the fix mends the profile that failed."""

    def carry(text: str) -> str:
        return with_profile(text, ev.profile, ev.implicit_profile)

    verdict.summary = carry(verdict.summary)
    verdict.fix = [carry(step) for step in verdict.fix]
    verdict.warnings = [carry(line) for line in verdict.warnings]
    return verdict


LISTED_COUNTERS = 10  # a verdict names this many counters, then says how many more


def _counter_list(ids: list[int]) -> str:
    """`101`, `101 and 202`, `101, 202 and 303`; past ten, `101, …, 1010 and 5 more`."""
    names = [str(cid) for cid in ids[:LISTED_COUNTERS]]
    if len(ids) > LISTED_COUNTERS:
        return _("{ids} and {count} more").format(ids=", ".join(names), count=len(ids) - LISTED_COUNTERS)
    if len(names) == 1:
        return names[0]
    return _("{ids} and {last}").format(ids=", ".join(names[:-1]), last=names[-1])


def _no_counter_access(ev: Evidence, v: Checks, ids: list[int], who: str) -> Verdict:
    level = _('"View"') if ev.need == "read" else _('"Edit"')
    if len(ids) == 1:
        summary = _("{login} has no access to counter {id}, or the counter does not exist.")
        check = _("Check the counter number: https://metrika.yandex.ru/list shows the counters {login} can see.")
        grant = _(
            "Ask the counter's owner to grant access: https://metrika.yandex.ru/settings?id={id} → "
            '"Access" → "Add user", login {login}, level {level}.'
        )
    else:
        summary = _("{login} has no access to counters {ids}, or they do not exist.")
        check = _("Check the counter numbers: https://metrika.yandex.ru/list shows the counters {login} can see.")
        grant = _(
            "Ask the owner of each of counters {ids} to grant access on its settings page "
            '(https://metrika.yandex.ru/settings?id={id} for the first): "Access" → "Add user", login {login}, '
            "level {level}."
        )
    words = {"login": who, "id": str(ids[0]), "ids": _counter_list(ids), "level": level}
    return v.result(
        Diagnosis.NO_COUNTER_ACCESS,
        summary.format(**words),
        [
            check.format(**words),
            grant.format(**words),
            _("Or log in as an account that has access: `metrika login --force-confirm`."),
        ],
    )


def _insufficient(ev: Evidence, v: Checks, counters: list[CounterResult], who: str) -> Verdict:
    if len(counters) == 1:
        summary = _('{login} has "{permission}" access to counter {id}; changing it needs "edit" or owner access.')
        ask = _(
            "Ask the counter's owner to raise the access level: https://metrika.yandex.ru/settings?id={id} → "
            '"Access" → {login} → "Edit".'
        )
    else:
        summary = _('{login} can only read counters {ids} ({permissions}); changing them needs "edit" or owner access.')
        ask = _(
            "Ask the owner of each of counters {ids} to raise the access level on its settings page "
            '(https://metrika.yandex.ru/settings?id={id} for the first): "Access" → {login} → "Edit".'
        )
    words = {
        "login": who,
        "id": str(counters[0].id),
        "ids": _counter_list([r.id for r in counters]),
        "permission": counters[0].permission,
        "permissions": ", ".join(dict.fromkeys(_('"{permission}"').format(permission=r.permission) for r in counters)),
    }
    return v.result(
        Diagnosis.INSUFFICIENT_PERMISSION,
        summary.format(**words),
        [ask.format(**words), _("Or use `--need read` if you only read statistics.")],
    )


def _malformed_fix(ev: Evidence) -> list[str]:
    if ev.token_source == "env:METRIKA_TOKEN":
        return [_('Set METRIKA_TOKEN to the token alone: no "OAuth " prefix, quotes, spaces or address.')]
    if ev.token_source == "env:METRIKA_TOKEN_FILE":
        return [_("Put the token alone in the file named by METRIKA_TOKEN_FILE.")]
    return [_("Store a new token with `metrika login`.")]


def _header_fix(ev: Evidence) -> list[str]:
    host = (ev.metrika.host if ev.metrika else "") or "api-metrika.yandex.net"  # METRIKA_API_URL's host
    fix = [
        _(
            "Send the header exactly as `Authorization: OAuth <token>`; the token in the URL "
            "(?oauth_token=) stopped working in 2019."
        )
    ]
    if ev.proxy:
        fix.append(
            _(
                "A proxy is configured ({proxy}): make it pass the Authorization header through, or "
                "bypass it for {host} with NO_PROXY."
            ).format(proxy=ev.proxy, host=host)
        )
    else:
        fix.append(
            _(
                "Check any proxy, gateway or middleware between you and {host}: it must keep the Authorization header."
            ).format(host=host)
        )
    return fix


def _scope_fix(app: str, scope: str) -> list[str]:
    return [
        _('Open the app\'s page: {url} → "Edit".').format(url=app_page_url(app) if app else "https://oauth.yandex.ru/"),
        _('Under "Data access", find Yandex Metrica and tick {scope}; save.').format(scope=scope),
        _("Changing an app's rights invalidates its tokens: get a new one with `metrika login --force-confirm`."),
    ]


SERVICES = {"Metrika": N_("Metrika"), "Yandex ID": N_("Yandex ID")}


def service_name(service: str) -> str:
    """A Reply's service ("Metrika", "Yandex ID": data, as api.py names them) in the user's language."""
    return _(SERVICES[service]) if service in SERVICES else service


QUOTAS = {
    "quota_requests_by_uid": N_("the daily limit of requests per user (5,000 a day)"),
    "quota_requests_by_ip": N_("the limit of requests per IP address (30 a second)"),
    "quota_parallel_requests": N_("the limit of parallel requests per user (3 at once)"),
    "quota_requests_by_counter_id": N_("the limit of requests per counter"),
    "quota_delegate_requests": N_("the limit of requests for delegates"),
    "quota_grants_requests": N_("the limit of requests that change access grants"),
}


def _transport_trouble(reply: Reply, ev: Evidence) -> tuple[Diagnosis, str, list[str]] | None:
    """network_error, service_unavailable or rate_limited, if this reply says so."""
    if reply.network:
        return Diagnosis.NETWORK_ERROR, _network_summary(reply, ev), _network_fix(reply, ev)
    if reply.detail == "too_large":
        return (
            Diagnosis.UNEXPECTED_RESPONSE,
            _("The answer from {service} is larger than 16 MiB, far more than any answer it should give.").format(
                service=service_name(reply.service)
            ),
            [_("Retry; if it persists, check for a proxy, and run with METRIKA_DEBUG=1.")],
        )
    status = reply.status or 0
    if status == 429 or (reply.error_type or "").startswith("quota_"):
        quota = reply.error_type or ""
        what = _(QUOTAS[quota]) if quota in QUOTAS else (quota or _("a request quota"))
        return (
            Diagnosis.RATE_LIMITED,
            _("{service} refused the request: {what} was exceeded.").format(
                service=service_name(reply.service), what=what
            ),
            [_rate_limit_reset(quota, ev.now, reply.retry_after)],
        )
    if status >= 500 or reply.html or reply.error_type in ("backend_error", "timeout"):
        if reply.html:
            what = _("an HTML page (HTTP {status}), probably from a proxy").format(status=status)
        else:
            what = f"HTTP {status} {reply.error_type or ''}".strip()
        return (
            Diagnosis.SERVICE_UNAVAILABLE,
            _("{service} is not answering properly: {what}.").format(service=service_name(reply.service), what=what),
            [
                _("Retry in a few minutes."),
                _("If it persists, check for a proxy between you and {host}.").format(host=reply.host),
            ],
        )
    if reply.status == 200 and reply.broken:
        return (
            Diagnosis.UNEXPECTED_RESPONSE,
            _("{service} answered 200 with a body that is not the expected JSON.").format(
                service=service_name(reply.service)
            ),
            [_("Retry; if it persists, check for a proxy, and run with METRIKA_DEBUG=1.")],
        )
    return None


def transport_trouble(reply: Reply, ev: Evidence) -> tuple[Diagnosis, str, list[str]] | None:
    """The network, a quota or a broken service, if this reply of any service says so (refresh and
    revocation ask Yandex OAuth, and say its failures as the checks say theirs)."""
    return _transport_trouble(reply, ev)


def _rate_limit_reset(quota: str, now: datetime, retry_after: float | None = None) -> str:
    if quota != "quota_requests_by_uid" and retry_after is not None:
        return _("Retry in {seconds} s, as the server asks (Retry-After).").format(seconds=math.ceil(retry_after))
    if quota == "quota_requests_by_uid":  # a daily quota: whatever a Retry-After says, it resets at midnight
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        left = midnight - now
        hours, minutes = int(left.total_seconds() // 3600), int(left.total_seconds() % 3600 // 60)
        return _("It resets at 00:00 UTC, in {hours} h {minutes} min.").format(hours=hours, minutes=minutes)
    if quota == "quota_parallel_requests":
        return _("Run fewer requests at once (at most 3 per user), then retry.")
    return _("Wait a few seconds and retry.")


NETWORK = {
    "dns": N_("cannot resolve {host} (DNS)"),
    "refused": N_("the connection to {host} was refused"),
    "tls": N_("the TLS handshake with {host} failed"),
    "proxy": N_("the proxy {proxy} did not connect to {host}"),
    "timeout": N_("{host} did not answer within {timeout:g} s"),
    "cut": N_("the connection to {host} broke in the middle of the answer"),
    "deadline": N_("METRIKA_DEADLINE ran out before {host} answered"),
    "other": N_("cannot reach {host}"),
}


def _network_summary(reply: Reply, ev: Evidence) -> str:
    what = _(NETWORK.get(reply.network or "other", NETWORK["other"])).format(
        host=reply.host, proxy=ev.proxy or "", timeout=ev.timeout
    )
    return _("Network error talking to {service}: {what}.").format(service=service_name(reply.service), what=what)


def _network_fix(reply: Reply, ev: Evidence) -> list[str]:
    if reply.network == "proxy":
        return [
            _("Check that the proxy {proxy} (from {variable}) is running, or unset {variable}.").format(
                proxy=ev.proxy, variable=ev.proxy_variable or "HTTPS_PROXY"
            )
        ]
    if reply.network == "timeout":
        return [_("Retry; on a slow network raise METRIKA_TIMEOUT (now {timeout:g} s).").format(timeout=ev.timeout)]
    if reply.network == "deadline":
        return [_("Retry with a longer METRIKA_DEADLINE, or unset it.")]
    if reply.network == "tls":
        return [
            _(
                "Check the clock and any TLS-intercepting proxy; check that the URL in METRIKA_API_URL or "
                "METRIKA_LOGIN_URL is right."
            )
        ]
    return [
        _("Check the network connection and DNS, then retry."),
        _("If you set METRIKA_API_URL or METRIKA_LOGIN_URL, check them."),
    ]


def _identity_line(id_data: dict[str, Any], ev: Evidence) -> str:
    line = _("Yandex ID: this token belongs to {login} (uid {uid}) and was issued to app {app}").format(
        login=id_data.get("login"), uid=id_data.get("id"), app=id_data.get("client_id")
    )
    if ev.expected_client_id:
        line += _("; your ClientID is {expected}").format(expected=ev.expected_client_id)
    return line + "."
