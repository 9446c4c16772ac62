"""All the words of a diagnosis: summaries, fix steps, evidence lines, warnings, check labels and
details, and the tables of quotas, network failures and services. Shared by every path that
explains a token or a reply (check-access, whoami, status, login, refresh, revoke, api)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import singledispatch
from typing import Any

from .errors import Diagnosis
from .evidence import Evidence, Reply, identity_data, issued_to
from .expiry import expires_in
from .i18n import N_, _, ngettext
from .oauth import app_page_url, describe_problem, describe_source
from .rules import (
    BrokenBody,
    CheckState,
    CounterResult,
    Expired,
    Expiring,
    Finding,
    HeaderRejected,
    IdentityUnknown,
    InsufficientPermission,
    Malformed,
    NetworkError,
    NoCounterAccess,
    NoMetrikaRights,
    NoToken,
    OfflineOk,
    Ok,
    RateLimited,
    Stage,
    TokenInvalid,
    TooLarge,
    Unavailable,
    UnknownRefusal,
    WriteScopeMissing,
    WrongAccount,
    WrongApp,
    trouble,
)
from .text import close_names, shown_name

Words = tuple[str, list[str]]  # a summary, and the steps of its fix

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


# A check's detail, by its note (rules.CheckState): the fact in words.
NOTES: dict[str, Callable[[str, Evidence], str]] = {
    "problem": lambda fact, ev: describe_problem(fact),
    "rejected": lambda fact, ev: _("rejected by Metrika and Yandex ID"),
    "yandex_id_accepts": lambda fact, ev: _("Yandex ID accepts it"),
    "unauthorized": lambda fact, ev: _("Metrika answered 401 unauthorized"),
    "issued_to": lambda fact, ev: _("issued to {app}").format(app=fact),
    "access_denied": lambda fact, ev: _("Metrika answered 403 access_denied"),
    "without_write": lambda fact, ev: _("the token was requested without metrika:write"),
    "no_owner": lambda fact, ev: _("Yandex ID did not say whose token it is"),
    "belongs_to": lambda fact, ev: _("belongs to {login}").format(login=fact),
    "no_access": lambda fact, ev: _("no access"),
    "expiry_unknown": lambda fact, ev: _("expiry unknown"),
    "expires": lambda fact, ev: _("expires {left}").format(left=expires_in(ev.expires_at, ev.now)),
    "expired_on": lambda fact, ev: _("expired on {date}").format(date=fact),
}


def check_detail(check: CheckState, ev: Evidence) -> str:
    return NOTES[check.note](check.fact, ev) if check.note else check.fact


# A diagnosis's warnings, by rules.remarks' keys.
REMARKS: dict[str, Callable[[Evidence], str]] = {
    "other_app": lambda ev: _(
        "The token was issued to app {app}, not to your ClientID {expected}; it works "
        "because that app has Metrika rights."
    ).format(app=issued_to(ev), expected=ev.expected_client_id),
    "undescribed": lambda ev: _("Yandex ID did not describe the token, so its app and account were not checked."),
}


def remark(key: str, ev: Evidence) -> str:
    return REMARKS[key](ev)


def evidence_lines(ev: Evidence, finding: Finding) -> list[str]:
    """What the services said, once both answered: whose token, which app; Metrika's refusal."""
    if finding.stage <= Stage.ANSWERED:
        return []
    lines = []
    id_data = identity_data(ev)
    if id_data:
        lines.append(_identity_line(id_data, ev))
    if ev.metrika is not None and not ev.metrika.ok:
        lines.append(
            _("Metrika: HTTP {status} {error_type}")
            .format(status=ev.metrika.status, error_type=ev.metrika.error_type or "")
            .strip()
        )
    return lines


def _identity_line(id_data: dict[str, Any], ev: Evidence) -> str:
    line = _("Yandex ID: this token belongs to {login} (uid {uid}) and was issued to app {app}").format(
        login=id_data.get("login"), uid=id_data.get("id"), app=id_data.get("client_id")
    )
    if ev.expected_client_id:
        line += _("; your ClientID is {expected}").format(expected=ev.expected_client_id)
    return line + "."


# ---- a finding in words: its summary and fix ----------------------------------------------


@singledispatch
def words(finding: Finding, ev: Evidence) -> Words:
    """(summary, fix) of a finding: each kind of finding has its words below."""
    raise TypeError(f"no words for {type(finding).__name__}")


@words.register(NoToken)
def _no_token(finding: NoToken, ev: Evidence) -> Words:
    unknown = unknown_profile_words(finding.profile, list(finding.stored))
    if unknown:
        return unknown
    return (
        _("No token: nothing in METRIKA_TOKEN, METRIKA_TOKEN_FILE or the store."),
        [
            _("Run `metrika login` to get and store a token."),
            _("Or, in CI, set METRIKA_TOKEN (or METRIKA_TOKEN_FILE) to a token."),
        ],
    )


def unknown_profile_words(name: str, stored: list[str]) -> Words | None:
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


@words.register(Malformed)
def _malformed(finding: Malformed, ev: Evidence) -> Words:
    summary = _("The value from {source} cannot be a token: {reason}.").format(
        source=describe_source(finding.source), reason=describe_problem(finding.problem)
    )
    if finding.source == "env:METRIKA_TOKEN":
        return summary, [_('Set METRIKA_TOKEN to the token alone: no "OAuth " prefix, quotes, spaces or address.')]
    if finding.source == "env:METRIKA_TOKEN_FILE":
        return summary, [_("Put the token alone in the file named by METRIKA_TOKEN_FILE.")]
    return summary, [_("Store a new token with `metrika login`.")]


@words.register(TokenInvalid)
def _token_invalid(finding: TokenInvalid, ev: Evidence) -> Words:
    fix = [
        _(
            "The token expired, was revoked, or the account's password or 2FA changed: get a new one "
            "with `metrika login`."
        )
    ]
    if finding.source.startswith("env:"):
        fix.append(
            _("The token comes from {source}: replace it there with the new one.").format(
                source=describe_source(finding.source)
            )
        )
    return _("The token is not valid (expired, revoked, or never valid)."), fix


@words.register(HeaderRejected)
def _header_rejected(finding: HeaderRejected, ev: Evidence) -> Words:
    fix = [
        _(
            "Send the header exactly as `Authorization: OAuth <token>`; the token in the URL "
            "(?oauth_token=) stopped working in 2019."
        )
    ]
    if finding.proxy:
        fix.append(
            _(
                "A proxy is configured ({proxy}): make it pass the Authorization header through, or "
                "bypass it for {host} with NO_PROXY."
            ).format(proxy=finding.proxy, host=finding.host)
        )
    else:
        fix.append(
            _(
                "Check any proxy, gateway or middleware between you and {host}: it must keep the Authorization header."
            ).format(host=finding.host)
        )
    summary = _(
        "Metrika did not read the Authorization header, although Yandex ID accepts "
        "the same token: something between you and Metrika changed or dropped the header."
    )
    return summary, fix


@words.register(WrongApp)
def _wrong_app(finding: WrongApp, ev: Evidence) -> Words:
    app, expected = finding.app, finding.expected
    return (
        _(
            "The token was issued to another app ({app}) than your ClientID ({expected}), "
            "and that app has no Metrika rights."
        ).format(app=app, expected=expected),
        [
            _("Get a token from your own app: `metrika login --client-id {expected} --force-confirm`.").format(
                expected=expected
            ),
            _("If you build the authorize URL yourself, check its client_id: it must be {expected}.").format(
                expected=expected
            ),
            _("Or, if app {app} is yours, give it Metrika rights: {url} → Edit → Data access → Yandex Metrica.").format(
                app=app, url=app_page_url(app)
            ),
        ],
    )


@words.register(NoMetrikaRights)
def _no_metrika_rights(finding: NoMetrikaRights, ev: Evidence) -> Words:
    return (
        _("The app {app} that issued this token has no Metrika rights (metrika:read).").format(app=finding.app),
        _scope_fix(finding.app, "metrika:read"),
    )


@words.register(WriteScopeMissing)
def _write_scope_missing(finding: WriteScopeMissing, ev: Evidence) -> Words:
    return (
        _("Writing needs metrika:write, and this token was requested with {scopes} only.").format(
            scopes=", ".join(finding.scopes)
        ),
        _scope_fix(finding.app, "metrika:write"),
    )


def _scope_fix(app: str, scope: str) -> list[str]:
    return [
        _('Open the app\'s page: {url} → "Edit".').format(url=app_page_url(app) if app else "https://oauth.yandex.ru/"),
        _('Under "Data access", find Yandex Metrica and tick {scope}; save.').format(scope=scope),
        _("Changing an app's rights invalidates its tokens: get a new one with `metrika login --force-confirm`."),
    ]


@words.register(UnknownRefusal)
def _unknown_refusal(finding: UnknownRefusal, ev: Evidence) -> Words:
    return (
        _("Metrika gave an answer metrika does not recognize: HTTP {status} {error_type}.")
        .format(status=finding.status, error_type=finding.error_type)
        .strip(),
        [_("Try again; if it persists, run with METRIKA_DEBUG=1 and report the output (the token is redacted in it).")],
    )


@words.register(IdentityUnknown)
def _identity_unknown(finding: IdentityUnknown, ev: Evidence) -> Words:
    return (
        _("Yandex ID did not say whose token it is, so the account {login} cannot be checked.").format(
            login=finding.expected_login
        ),
        [_("Retry; if it persists, run with METRIKA_DEBUG=1 and report the output (the token is redacted in it).")],
    )


@words.register(WrongAccount)
def _wrong_account(finding: WrongAccount, ev: Evidence) -> Words:
    return (
        _("The token belongs to {login}, not to {expected}.").format(login=finding.owner, expected=finding.expected),
        [
            _(
                "Get a token as {expected}: `metrika login --force-confirm --login-hint {expected}`, "
                "and choose {expected} on the Yandex page."
            ).format(expected=finding.expected),
            _(
                "The token's owner is whoever is logged in to Yandex in the browser when it is "
                "issued, not the owner of the app."
            ),
        ],
    )


LISTED_COUNTERS = 10  # a verdict names this many counters, then says how many more


def counter_list(ids: list[int]) -> str:
    """`101`, `101 and 202`, `101, 202 and 303`; past ten, `101, …, 1010 and 5 more`."""
    names = [str(cid) for cid in ids[:LISTED_COUNTERS]]
    if len(ids) > LISTED_COUNTERS:
        return _("{ids} and {count} more").format(ids=", ".join(names), count=len(ids) - LISTED_COUNTERS)
    if len(names) == 1:
        return names[0]
    return _("{ids} and {last}").format(ids=", ".join(names[:-1]), last=names[-1])


def _owner(login: str | None) -> str:
    return login or _("the token's owner")


@words.register(NoCounterAccess)
def _no_counter_access(finding: NoCounterAccess, ev: Evidence) -> Words:
    """Counters the owner cannot see at all, all named; any it can only read are named too."""
    ids = list(finding.missing)
    level = _('"View"') if finding.need == "read" else _('"Edit"')
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
    named = {"login": _owner(finding.owner), "id": str(ids[0]), "ids": counter_list(ids), "level": level}
    fix = [
        check.format(**named),
        grant.format(**named),
        _("Or log in as an account that has access: `metrika login --force-confirm`."),
    ]
    summary = summary.format(**named)
    if finding.read_only:
        also, also_fix = _insufficient(finding.read_only, finding.owner)
        summary = f"{summary} {also}"
        fix.insert(2, also_fix[0])  # after the grant, before logging in as another account
    return summary, fix


@words.register(InsufficientPermission)
def _insufficient_permission(finding: InsufficientPermission, ev: Evidence) -> Words:
    return _insufficient(finding.read_only, finding.owner)


def _insufficient(counters: tuple[CounterResult, ...], owner: str | None) -> Words:
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
    named = {
        "login": _owner(owner),
        "id": str(counters[0].id),
        "ids": counter_list([r.id for r in counters]),
        "permission": counters[0].permission,
        "permissions": ", ".join(dict.fromkeys(_('"{permission}"').format(permission=r.permission) for r in counters)),
    }
    return summary.format(**named), [ask.format(**named), _("Or use `--need read` if you only read statistics.")]


@words.register(Expiring)
def _expiring(finding: Expiring, ev: Evidence) -> Words:
    return (
        ngettext(
            "The token expires on {date}, {left}: less than the {within} day asked for.",
            "The token expires on {date}, {left}: less than the {within} days asked for.",
            finding.within,
        ).format(date=finding.expires_at[:10], left=expires_in(finding.expires_at, ev.now), within=finding.within),
        [_("Get a new token before then: `{command}`.").format(command="metrika login")],
    )


@words.register(Expired)
def _expired(finding: Expired, ev: Evidence) -> Words:
    return (
        _("The token expired on {date} (the expiry recorded at login).").format(date=finding.date),
        [_("Get a new one: `{command}`.").format(command="metrika login")],
    )


@words.register(OfflineOk)
def _offline_ok(finding: OfflineOk, ev: Evidence) -> Words:
    return _("The token is stored as recorded at login (offline: Yandex was not asked)."), []


@words.register(Ok)
def _ok(finding: Ok, ev: Evidence) -> Words:
    if not finding.counters_asked:
        return _("The token works for Metrika."), []
    need = _("read") if finding.need == "read" else _("change")
    return _("The token works for Metrika and can {need} every counter asked for.").format(need=need), []


# ---- the network, quotas and broken services, for any service -----------------------------

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


def quota_words(quota: str) -> str:
    """Which quota a refusal names (its error_type), in words; an unknown one as it was named."""
    return _(QUOTAS[quota]) if quota in QUOTAS else (quota or _("a request quota"))


def network_words(kind: str | None, host: str, proxy: str | None, timeout: float) -> str:
    """What went wrong on the network (a Reply's `network`), in a few words."""
    return _(NETWORK.get(kind or "other", NETWORK["other"])).format(host=host, proxy=proxy or "", timeout=timeout)


def transport_trouble(reply: Reply, ev: Evidence) -> tuple[Diagnosis, str, list[str]] | None:
    """The network, a quota or a broken service, if this reply of any service says so (refresh and
    revocation ask Yandex OAuth, and say its failures as the checks say theirs)."""
    found = trouble(reply)
    return None if found is None else (found.code, *words(found, ev))


@words.register(NetworkError)
def _network_error(finding: NetworkError, ev: Evidence) -> Words:
    what = network_words(finding.kind, finding.host, ev.proxy, ev.timeout)
    summary = _("Network error talking to {service}: {what}.").format(service=service_name(finding.service), what=what)
    return summary, _network_fix(finding.kind, ev)


def _network_fix(kind: str, ev: Evidence) -> list[str]:
    if kind == "proxy":
        return [
            _("Check that the proxy {proxy} (from {variable}) is running, or unset {variable}.").format(
                proxy=ev.proxy, variable=ev.proxy_variable or "HTTPS_PROXY"
            )
        ]
    if kind == "timeout":
        return [_("Retry; on a slow network raise METRIKA_TIMEOUT (now {timeout:g} s).").format(timeout=ev.timeout)]
    if kind == "deadline":
        return [_("Retry with a longer METRIKA_DEADLINE, or unset it.")]
    if kind == "tls":
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


@words.register(TooLarge)
def _too_large(finding: TooLarge, ev: Evidence) -> Words:
    return (
        _("The answer from {service} is larger than 16 MiB, far more than any answer it should give.").format(
            service=service_name(finding.service)
        ),
        [_("Retry; if it persists, check for a proxy, and run with METRIKA_DEBUG=1.")],
    )


@words.register(RateLimited)
def _rate_limited(finding: RateLimited, ev: Evidence) -> Words:
    quota = finding.quota
    return (
        _("{service} refused the request: {what} was exceeded.").format(
            service=service_name(finding.service), what=quota_words(quota)
        ),
        [rate_limit_reset(quota, ev.now, finding.retry_after)],
    )


def rate_limit_reset(quota: str, now: datetime, retry_after: float | None = None) -> str:
    """When a quota lets requests through again, in words: a daily one at midnight UTC, else as
    the server's Retry-After says, else soon."""
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


@words.register(Unavailable)
def _unavailable(finding: Unavailable, ev: Evidence) -> Words:
    if finding.html:
        what = _("an HTML page (HTTP {status}), probably from a proxy").format(status=finding.status)
    else:
        what = f"HTTP {finding.status} {finding.error_type}".strip()
    return (
        _("{service} is not answering properly: {what}.").format(service=service_name(finding.service), what=what),
        [
            _("Retry in a few minutes."),
            _("If it persists, check for a proxy between you and {host}.").format(host=finding.host),
        ],
    )


@words.register(BrokenBody)
def _broken_body(finding: BrokenBody, ev: Evidence) -> Words:
    return (
        _("{service} answered 200 with a body that is not the expected JSON.").format(
            service=service_name(finding.service)
        ),
        [_("Retry; if it persists, check for a proxy, and run with METRIKA_DEBUG=1.")],
    )
