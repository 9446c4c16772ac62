"""`metrika whoami`: whose token, which app, where kept, when it expires, counters by permission.
Its Typer function is in commands/signatures.py: this module imports no Typer, so main.py's lean
path runs it without Typer or click."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..diagnose import Verdict
from ..env import Env
from ..errors import Diagnosis
from ..evidence import Evidence, identity_data
from ..expiry import days_left, expires_in
from ..i18n import _
from ..output import base_document, describe_storage, emit_json, render_verdict, say, storage_document, warn
from ..probe import Options, collect_async, configured_client_id
from ..store import Profile
from ..text import fingerprint, profile_command
from ..tokens import Token, checked_profile, fix_profile, profile_name, token_in_use


def checked_run(env: Env, profile: str | None, as_json: bool, expiring_within: int | None) -> int:
    """The options as parsed (by Typer, or by main.py's lean path), checked, then run."""
    return run(env, checked_profile(profile_name(env, profile)), as_json, expiring_within)


@dataclass
class Report:
    """What whoami knows of one profile's token, for the rows and the JSON document alike."""

    name: str
    token: Token | None
    saved: Profile
    verdict: Verdict
    evidence: Evidence
    expected_client_id: str | None

    @property
    def identity(self) -> dict[str, Any]:
        return identity_data(self.evidence) or {}

    @property
    def client_id_matches(self) -> bool | None:
        if not (self.expected_client_id and self.identity):
            return None
        return str(self.identity.get("client_id") or "").lower() == self.expected_client_id

    @property
    def expires_at(self) -> str | None:
        return self.saved.expires_at if self.token and self.token.stored else None

    def days_left(self, now: datetime) -> int | None:
        return days_left(self.expires_at, now)

    @property
    def renewable(self) -> bool | None:
        """Whether `metrika refresh` can renew the stored token (a refresh token was kept with
        it); None for a token from the environment, or none at all."""
        return bool(self.saved.renewable) if self.token and self.token.stored else None

    @property
    def accounts(self) -> list[str] | None:
        """The logins of the accounts the token's owner represents; None when not known."""
        reply = self.evidence.accounts
        items = reply.data.get("accounts") if reply is not None and reply.ok else None
        if not isinstance(items, list):
            return None
        return [str(item["user_login"]) for item in items if isinstance(item, dict) and item.get("user_login")]

    @property
    def total(self) -> int:
        """Counters the owner can see: Metrika's count (`rows`), else the ones listed."""
        reply = self.evidence.metrika
        rows = reply.data.get("rows") if reply is not None and reply.ok else None
        return rows if isinstance(rows, int) else len(self.evidence.counters)

    @property
    def by_permission(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for counter in self.evidence.counters.values():
            key = str(counter.get("permission"))
            counts[key] = counts.get(key, 0) + 1
        return counts


def inspect(env: Env, name: str, expiring_within: int | None = None) -> Report:
    token, saved = token_in_use(env, name)
    options = Options(name=name, expiring_within=expiring_within, accounts=True)
    return asyncio.run(inspect_async(env, name, token, saved, options))


async def inspect_async(env: Env, name: str, token: Token | None, saved: Profile, options: Options) -> Report:
    """What whoami knows of one token, awaitable (status asks many in one event loop)."""
    expected = configured_client_id(env, lambda: saved.client_id)
    verdict, evidence = await collect_async(
        env, token, saved, [], "read", None, all_pages=not options.first_page, client_id=expected, options=options
    )
    return Report(name, token, saved, verdict, evidence, expected)


def run(env: Env, name: str, as_json: bool, expiring_within: int | None = None) -> int:
    report = inspect(env, name, expiring_within)
    verdict = report.verdict
    if as_json:
        emit_json(env, document(env, report))
    elif verdict.ok:
        show(env, report)
    else:
        if verdict.code is Diagnosis.TOKEN_EXPIRING:
            show(env, report)  # it works: who, what, and then why it will not for long
        render_verdict(env, verdict)
    return int(verdict.exit_code)


def document(env: Env, report: Report) -> dict[str, Any]:
    """whoami's JSON document of one profile."""
    verdict, token = report.verdict, report.token
    doc = base_document(
        verdict.code,
        report.name,
        verdict.summary,
        verdict.fix,
        (token.source, token.value) if token else None,
        identity_data(report.evidence),
    )
    doc["warnings"] = verdict.warnings
    doc.update(
        client_id_matches=report.client_id_matches,
        expires_at=report.expires_at,
        days_left=report.days_left(env.now()),
        renewable=report.renewable,
        storage=storage_document(env, report.saved.storage if report.token is None or report.token.stored else None),
        counters={"total": report.total, "by_permission": report.by_permission},
        accounts=report.accounts,
    )
    return doc


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
