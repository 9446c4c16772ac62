"""`metrika whoami`: whose token, which app, where kept, when it expires, counters by permission.
Its Typer function is in commands/signatures.py: this module imports no Typer, so main.py's lean
path runs it without Typer or click."""

from __future__ import annotations

from datetime import datetime

from .. import probe
from ..env import Env
from ..errors import Diagnosis
from ..expiry import days_left, expires_in
from ..i18n import _
from ..output import describe_storage, emit_json, render_verdict, say, warn
from ..probe import Inquiry, Report
from ..text import fingerprint, profile_command
from ..tokens import chosen_profile, fix_profile, token_in_use


def checked_run(env: Env, expiring_within: int | None) -> int:
    """The options as parsed (by Typer, or by main.py's lean path), then run: the profile and
    --json as the dispatch resolved them."""
    return run(env, chosen_profile(env), env.as_json, expiring_within)


def inspect(env: Env, name: str, expiring_within: int | None = None) -> Report:
    """What whoami knows of the profile's token: every page of counters, and the accounts."""
    token, saved = token_in_use(env, name)
    inquiry = Inquiry(name, counters="all", accounts=True, expiring_within=expiring_within)
    return probe.inspect(env, token, saved, inquiry)


def run(env: Env, name: str, as_json: bool, expiring_within: int | None = None) -> int:
    report = inspect(env, name, expiring_within)
    verdict = report.verdict
    if as_json:
        emit_json(env, report.document(env))
    elif verdict.ok:
        show(env, report)
    else:
        if verdict.code is Diagnosis.TOKEN_EXPIRING:
            show(env, report)  # it works: who, what, and then why it will not for long
        render_verdict(env, verdict)
    return int(verdict.exit_code)


def expiry_words(expires_at: str | None, now: datetime) -> str:
    """The `expires` row: `2025-04-12, in 29 days`, `2025-03-14, in 5 hours`, `2025-03-12, expired`."""
    if not expires_at:
        return _("unknown (not recorded at login)")
    days = days_left(expires_at, now)
    if days is None:
        return expires_at  # not a date: as recorded
    left = expires_in(expires_at, now) if days > 0 else _("expired")
    return f"{expires_at[:10]}, {left}"


def renewal_words(report: Report, login: str = "metrika login") -> str:
    """The `renewable` row: whether `metrika refresh` can renew it, and if not, what can."""
    if report.renewable is None:
        return _("not a stored token")
    if report.renewable:
        return _("yes, with `metrika refresh`")
    return _("no (no refresh token): `{command}` gives a renewable one").format(command=login)


def show(env: Env, report: Report) -> None:
    token, identity, matches = report.token, report.identity, report.client_id_matches
    assert token is not None
    app_note = (
        ""
        if matches is None
        else " "
        + (_("(your ClientID)") if matches else _("(not your ClientID {id})").format(id=report.expected_client_id))
    )
    where = describe_storage(env, token.source) if token.stored else token.source
    rows = [
        (_("login"), f"{identity.get('login')} (uid {identity.get('id')})"),
        (_("app"), str(identity.get("client_id")) + app_note),
        (_("token"), f"{fingerprint(token.value)}, {where}"),
        (_("expires"), expiry_words(report.expires_at, env.now())),
        (_("renewal"), renewal_words(report, profile_command("metrika login", report.name, fix_profile(env)))),
        (
            _("counters"),
            ", ".join(f"{count} {perm}" for perm, count in sorted(report.by_permission.items())) or _("none"),
        ),
    ]
    if report.accounts:
        rows.append((_("represents"), ", ".join(report.accounts)))
    width = max(len(label) for label, _value in rows)
    for label, value in rows:
        say(env, f"{label:<{width}}  {value}", stderr=False)
    for line in report.verdict.warnings if report.verdict.ok else []:  # else the verdict shows them
        warn(env, line)
