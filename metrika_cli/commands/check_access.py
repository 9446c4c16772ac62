"""`metrika check-access` (alias `check`): run the checks and name the exact cause, with the fix.
Its Typer function is in commands/signatures.py: this module imports no Typer, so main.py's lean
path runs it without Typer or click."""

from __future__ import annotations

from typing import Any

from ..diagnose import Verdict
from ..env import Env
from ..errors import BadInput
from ..evidence import Evidence, identity_data
from ..i18n import _
from ..output import base_document, emit_json, render_checks, render_verdict, say
from ..probe import Inquiry, inspect, parse_counter_ids
from ..text import fingerprint, looks_like_token, shown
from ..tokens import Token, chosen_profile, token_in_use


def checked_run(
    env: Env, counter_ids: list[str] | None, need: str, login_name: str | None, expiring_within: int | None
) -> int:
    """The options as parsed (by Typer, or by main.py's lean path), checked, then run: the profile
    and --json as the dispatch resolved them."""
    name = chosen_profile(env)
    if need not in ("read", "write"):
        raise BadInput(_("--need takes read or write; got {value!r}.").format(value=shown(need, 20)))
    if login_name is not None and looks_like_token(login_name.strip()):
        raise BadInput(
            _(
                "--login takes a Yandex login; this value looks like a token ({fp}), and metrika never takes one "
                "in an option."
            ).format(fp=fingerprint(login_name.strip()))
        )
    return run(env, name, parse_counter_ids(counter_ids or []), need, login_name, env.as_json, expiring_within)


def run(
    env: Env,
    name: str,
    ids: list[int],
    need: str,
    login_name: str | None,
    as_json: bool,
    expiring_within: int | None = None,
) -> int:
    token, saved = token_in_use(env, name)
    expected_login = login_name or (saved.login if token and token.stored else None)
    inquiry = Inquiry(
        name, counter_ids=tuple(ids), need=need, expected_login=expected_login, expiring_within=expiring_within
    )
    report = inspect(env, token, saved, inquiry)
    verdict, evidence = report.verdict, report.evidence
    if as_json:
        emit_json(env, document(verdict, evidence, name, token))
    else:
        render_checks(env, verdict, stderr=False)
        say(env, "", stderr=False)
        render_verdict(env, verdict, stderr=False)
    return int(verdict.exit_code)


def document(verdict: Verdict, evidence: Evidence, name: str, token: Token | None) -> dict[str, Any]:
    doc = base_document(
        verdict.code,
        name,
        verdict.summary,
        verdict.fix,
        (token.source, token.value) if token else None,
        identity_data(evidence),
    )
    doc["warnings"] = verdict.warnings
    doc["checks"] = [{"name": c.name, "status": c.status, "detail": c.detail} for c in verdict.checks]
    reply = evidence.metrika
    doc["api"] = {"status": reply.status, "error_type": reply.error_type} if reply and reply.status else None
    doc["counters"] = [{"id": c.id, "name": c.name, "permission": c.permission, "ok": c.ok} for c in verdict.counters]
    return doc
