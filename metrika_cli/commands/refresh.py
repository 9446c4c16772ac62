"""`metrika refresh`: renew stored tokens with their refresh tokens before they expire.

The current profile, those named, or `--all`; with `--expiring-within DAYS` only those with
fewer days left. Each renewal is checked and stored as a login is (see renew.py).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import nullcontext
from typing import Annotated, Any, Optional

import typer

from ..advice import unknown_profile_words
from ..diagnose import Verdict, carried
from ..env import Env
from ..errors import BadInput, Diagnosis, MetrikaError
from ..i18n import _
from ..output import emit_json, progress, say, steps, warn
from ..renew import Outcome, exit_code, failed, is_due, not_due, not_renewable, not_stored, renew_all
from ..store import Profile
from ..tokens import chosen_profile, fix_profile, named_profiles, nothing_stored
from .options import JsonOption, complete_profiles

PROGRESS_OVER = 10  # profiles: fewer finish before a bar is worth drawing


def refresh(
    ctx: typer.Context,
    profiles: Annotated[
        Optional[list[str]],
        typer.Option(
            "--profile",
            metavar="NAME",
            help=_("Renew this profile (repeatable); default: the current profile."),
            autocompletion=complete_profiles,
        ),
    ] = None,
    all_profiles: Annotated[bool, typer.Option("--all", help=_("Renew every stored profile."))] = False,
    expiring_within: Annotated[
        Optional[int],
        typer.Option(
            "--expiring-within",
            min=0,
            metavar="DAYS",
            help=_("Renew only tokens with fewer days left than DAYS (for cron)."),
        ),
    ] = None,
    as_json: JsonOption = False,
) -> int:
    env: Env = ctx.obj  # --profile (each, checked) and --json: resolved by app.handles_errors
    if all_profiles and (profiles or env.global_profile):
        raise BadInput(_("Give --all or --profile NAME, not both."))
    names = [] if all_profiles else named_profiles(env, profiles)
    return run(env, names, all_profiles, expiring_within, env.as_json)


def run(env: Env, names: list[str], all_profiles: bool, expiring_within: int | None, as_json: bool) -> int:
    saved = env.store.profiles()
    if all_profiles:
        names = sorted(saved)
        if not names:
            raise nothing_stored()
    names = names or [chosen_profile(env)]
    if env.environ.get("METRIKA_TOKEN") or env.environ.get("METRIKA_TOKEN_FILE"):
        warn(env, _("METRIKA_TOKEN or METRIKA_TOKEN_FILE is set: refresh renews the stored tokens, not that one."))
    outcomes, due = plan(env, names, saved, expiring_within)
    secrets = app_secrets(env, [profile.client_id or "" for _name, profile in due])
    work = []
    for name, profile in due:
        secret = secrets[profile.client_id or ""]
        if isinstance(secret, MetrikaError):
            outcomes[name] = failed(name, profile, secret)
        else:
            work.append((name, profile, secret))
    many = len(work) > PROGRESS_OVER
    bar = progress(env, len(work), _("Renewing tokens"), stdout_waits=True) if many else nullcontext(lambda: None)
    with bar as advance:
        for outcome in asyncio.run(renew_all(env, work, advance)) if work else []:
            outcomes[outcome.name] = outcome
    implicit = fix_profile(env)  # read once: it reads config.toml
    ordered = [outcomes[name] for name in names]
    for outcome in ordered:
        carried(outcome.verdict, outcome.name, implicit)
    code = exit_code(ordered)
    if code and any(isinstance(secret, BadInput) for secret in secrets.values()):
        code = int(BadInput.diagnosis.exit_code)  # without the app's secret: 2, whatever else failed
    if as_json:
        emit_json(env, document(env, ordered, code))
    else:
        show(env, ordered)
    return code


def plan(
    env: Env, names: list[str], saved: dict[str, Profile], expiring_within: int | None
) -> tuple[dict[str, Outcome], list[tuple[str, Profile]]]:
    """What can be said of each profile before asking anyone, and the ones to renew."""
    now = env.now()
    outcomes: dict[str, Outcome] = {}
    due = []
    for name in names:
        profile = saved.get(name)
        unknown = unknown_profile_words(name, sorted(saved)) if profile is None else None
        if unknown:  # a typo, most likely: the closest stored names
            outcomes[name] = Outcome(name, False, Verdict(Diagnosis.NO_TOKEN, *unknown))
        elif profile is None or profile.storage not in ("keyring", "file"):
            outcomes[name] = not_stored(name)
        elif not is_due(profile, now, expiring_within):
            outcomes[name] = not_due(name, profile, now)
        elif not (profile.renewable and profile.client_id):
            outcomes[name] = not_renewable(name, profile)
        else:
            due.append((name, profile))
    return outcomes, due


def app_secrets(env: Env, client_ids: list[str]) -> dict[str, str | MetrikaError]:
    """The secret of each app that has a profile to renew (asked once per app at a terminal), or
    why there is none; nothing is asked when nothing is due."""
    from ..app_secret import app_secret

    found: dict[str, str | MetrikaError] = {}
    for client_id in dict.fromkeys(client_ids):
        try:
            why = _("Refresh renews tokens of app {app} with their refresh tokens.").format(app=client_id)
            found[client_id] = app_secret(env, client_id, ask=env.may_prompt, why=why)
        except MetrikaError as exc:
            found[client_id] = exc
    return found


# ---- output ----------------------------------------------------------------------------


def show(env: Env, outcomes: list[Outcome]) -> None:
    """A line for each profile renewed or failed (and not due, when it is the only one), what to do
    for the ones that failed, then a count: a daily cron job with nothing due says one line."""
    failing = [outcome for outcome in outcomes if not outcome.verdict.ok]
    for outcome in outcomes:
        verdict = outcome.verdict
        if verdict.ok and not outcome.renewed and len(outcomes) > 1:
            continue  # counted as not due
        if verdict.ok:
            line = verdict.summary
            if outcome.renewed and outcome.expires_at:
                line += " " + _("Valid until {date}.").format(date=outcome.expires_at[:10])
            say(env, line, style="green" if outcome.renewed else None)
            for warning in verdict.warnings:
                warn(env, warning)
        else:
            say(env, f"{outcome.name}: {verdict.code}: {verdict.summary}", style="bold red")
            if len(failing) > 1 and verdict.fix:
                say(env, f"  {verdict.fix[0]}")
    if len(failing) == 1:
        steps(env, failing[0].verdict.fix)
    if len(outcomes) > 1:
        say(env, count_line(outcomes))


def count_line(outcomes: list[Outcome]) -> str:
    """`3 renewed, 190 not due, 1 token_invalid`."""
    renewed = sum(1 for outcome in outcomes if outcome.renewed)
    waiting = sum(1 for outcome in outcomes if outcome.verdict.ok and not outcome.renewed)
    counts = Counter(outcome.verdict.code for outcome in outcomes if not outcome.verdict.ok)
    parts = [_("{count} renewed").format(count=renewed)]
    if waiting:
        parts.append(_("{count} not due").format(count=waiting))
    parts += [f"{counts[code]} {code}" for code in Diagnosis if counts[code]]
    return ", ".join(parts)


def document(env: Env, outcomes: list[Outcome], code: int) -> dict[str, Any]:
    now = env.now()
    return {
        "schema": 1,
        "ok": code == 0,
        "exit_code": code,
        "profiles": [
            {
                "profile": outcome.name,
                "renewed": outcome.renewed,
                "expires_at": outcome.expires_at,
                "days_left": outcome.days_left(now),
                "diagnosis": str(outcome.verdict.code),
                "exit_code": int(outcome.verdict.exit_code),
                "summary": outcome.verdict.summary,
                "fix": outcome.verdict.fix,
            }
            for outcome in outcomes
        ],
    }
