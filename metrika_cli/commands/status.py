"""`metrika status`: every stored profile (or those named) checked as whoami would, at once.

Online, all profiles are asked in one event loop: Yandex ID concurrently, Metrika through one
shared Pacer (30 requests a second from this IP, 3 in flight per login) and one connection
pool; at most two Metrika requests a profile (the first page of counters, the accounts).
`--offline` asks no server: what is stored, its fingerprint, the expiry recorded at login.
"""

from __future__ import annotations

import asyncio
import shlex
from collections import Counter
from contextlib import nullcontext
from dataclasses import replace
from typing import Annotated, Any, Optional

import typer

from ..advice import unknown_profile_words
from ..diagnose import Verdict, carrying_profile
from ..env import Env
from ..errors import Diagnosis, MetrikaError
from ..evidence import Evidence
from ..expiry import WARN_DAYS
from ..i18n import _, ngettext
from ..output import emit_json, progress, render_lines, render_table, say, warn
from ..probe import Inquiry, Report, inspect, inspect_async
from ..store import KeyringBatch, Profile
from ..text import fingerprint, profile_command, shown_name
from ..tokens import Token, fix_profile, named_profiles, nothing_stored, profile_name, recorded_token, stored_profiles
from .options import ExpiringWithinOption, JsonOption, complete_profiles

PROGRESS_OVER = 10  # profiles: fewer finish before a bar is worth drawing
AT_ONCE = 16  # profiles asked at the same time (their Metrika requests wait for the pacer anyway)
Stored = Token | MetrikaError | None  # a profile's stored token, why it cannot be read, or nothing


def no_op() -> None:
    return None


def status(
    ctx: typer.Context,
    profiles: Annotated[
        Optional[list[str]],
        typer.Option(
            "--profile",
            metavar="NAME",
            help=_("Check this profile only (repeatable); default: every stored profile."),
            autocompletion=complete_profiles,
        ),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help=_("Ask no server: check what is stored, and the expiry recorded."))
    ] = False,
    expiring_within: ExpiringWithinOption = None,
    as_json: JsonOption = False,
) -> int:
    env: Env = ctx.obj  # --profile (each, checked) and --json: resolved by app.handles_errors
    return run(env, named_profiles(env, profiles), offline, expiring_within, env.as_json)


def run(env: Env, names: list[str], offline: bool, expiring_within: int | None, as_json: bool) -> int:
    saved = env.store.profiles()
    names = names or sorted(saved)
    if not names:
        raise nothing_stored()
    if env.environ.get("METRIKA_TOKEN") or env.environ.get("METRIKA_TOKEN_FILE"):
        warn(env, _("METRIKA_TOKEN or METRIKA_TOKEN_FILE is set: status checks each profile's stored token instead."))
    entries = [(name, saved.get(name) or Profile()) for name in names]
    tokens = Tokens(env, dict(entries))
    many = not offline and len(entries) > PROGRESS_OVER
    bar = progress(env, len(entries), _("Checking profiles"), stdout_waits=True) if many else nullcontext(no_op)
    with bar as advance:
        if offline:
            reports = [check_offline(env, name, profile, tokens, expiring_within) for name, profile in entries]
        else:
            reports = asyncio.run(check_all(env, entries, tokens, expiring_within, advance))
    code = exit_code(reports)
    if as_json:
        emit_json(env, status_document(env, reports, code, offline))
    else:
        show(env, reports)
    return code


# ---- reading what is stored ------------------------------------------------------------


class Tokens:
    """Each profile's stored token, checked against the fingerprint login recorded: credentials.toml
    read once, and the keyring once for every profile kept there (one connection, one unlock, one
    search); when that read fails (locked, out of reach, no answer in time), it fails for all of
    them, and nobody waits for the keyring again."""

    def __init__(self, env: Env, profiles: dict[str, Profile] | None = None) -> None:
        self.env = env
        self.profiles = profiles or {}
        self.files: dict[str, str] | None = None
        kept = {other: saved for other, saved in self.profiles.items() if saved.storage == "keyring"}
        self.keyring = KeyringBatch(env.store, kept)
        self.lock = asyncio.Lock()
        self.implicit = fix_profile(env)  # the profile whose fixes need no --profile

    def read(self, name: str, profile: Profile) -> Stored:
        try:
            if profile.storage == "keyring":
                stored = recorded_token(name, profile, self.keyring.token(name, profile))
            else:
                stored = recorded_token(name, profile, self._files().get(name) if profile.storage == "file" else None)
        except MetrikaError as exc:
            return exc
        if stored:
            self.env.secrets.add(stored.value)
        return stored

    async def read_async(self, name: str, profile: Profile) -> Stored:
        """`read`, in a worker thread: the keyring is read while earlier profiles are being asked."""
        if profile.storage != "keyring":
            return self.read(name, profile)
        async with self.lock:
            return await asyncio.to_thread(self.read, name, profile)

    def _files(self) -> dict[str, str]:
        if self.files is None:
            self.files = self.env.store.file_tokens()
        return self.files


def unreadable(env: Env, name: str, profile: Profile, stored: Stored, implicit: str) -> Report:
    """A profile without a token to ask about: the store failed, holds nothing for it, or has no
    profile of that name (named with the closest stored ones)."""
    evidence = Evidence(now=env.now(), profile=name, implicit_profile=implicit, profiles=tokens_names(env))
    unknown = unknown_profile_words(name, evidence.profiles or []) if stored is None else None
    if isinstance(stored, MetrikaError):
        verdict = Verdict(stored.diagnosis, stored.message, stored.fix)
    elif unknown:
        verdict = Verdict(Diagnosis.NO_TOKEN, *unknown)
    else:
        where = {
            "keyring": _("the keyring has no token for it"),
            "file": _("credentials.toml has no token for it"),
        }.get(profile.storage or "", _("nothing is stored for it"))
        verdict = Verdict(
            Diagnosis.NO_TOKEN,
            _("No token for profile {profile}: {where}.").format(profile=name, where=where),
            [_("Log in to store one: `{command}`.").format(command="metrika login")],
        )
    return Report(name, None, profile, carrying_profile(verdict, evidence), evidence, None)


def tokens_names(env: Env) -> list[str]:
    """The stored profiles' names (status read config.toml already: a failure here is not news)."""
    return stored_profiles(env) or []


# ---- checking --------------------------------------------------------------------------


def check_offline(env: Env, name: str, profile: Profile, tokens: Tokens, expiring_within: int | None) -> Report:
    """What can be said without a server: the token is there, well formed, the one login recorded."""
    stored = tokens.read(name, profile)
    if not isinstance(stored, Token):
        return unreadable(env, name, profile, stored, tokens.implicit)
    inquiry = Inquiry(name, expiring_within=expiring_within, implicit=tokens.implicit, offline=True)
    return inspect(env, stored, profile, inquiry)


async def check_all(
    env: Env, entries: list[tuple[str, Profile]], tokens: Tokens, expiring_within: int | None, advance: Any
) -> list[Report]:
    """Every profile in one event loop, one pacer and one connection pool for all."""
    from ..api import SharedTransport

    transport = SharedTransport(env)
    template = Inquiry(
        counters="first_page",
        accounts=True,
        expiring_within=expiring_within,
        implicit=tokens.implicit,
        pacer=env.pacer(),
        transport=transport,
    )
    gate = asyncio.Semaphore(AT_ONCE)

    async def check(name: str, profile: Profile) -> Report:
        async with gate:
            stored = await tokens.read_async(name, profile)
            if isinstance(stored, Token):
                # Metrika counts parallel requests per login: the recorded one, else the token's own key.
                inquiry = replace(template, name=name, user=profile.login or fingerprint(stored.value))
                report = await inspect_async(env, stored, profile, inquiry)
            else:
                report = unreadable(env, name, profile, stored, tokens.implicit)
        advance()
        return report

    try:
        return list(await asyncio.gather(*(check(name, profile) for name, profile in entries)))
    finally:
        await transport.close()


def exit_code(reports: list[Report]) -> int:
    """0 when every profile is ok; else the exit code the failing ones share, or 1."""
    codes = {int(report.verdict.exit_code) for report in reports if not report.verdict.ok}
    return codes.pop() if len(codes) == 1 else 0 if not codes else 1


# ---- output ----------------------------------------------------------------------------


def active_profile(env: Env) -> str:
    return profile_name(env)


def row(env: Env, report: Report, active: str) -> list[str]:
    """profile (active marked *), login, app, storage, renewable, days left, diagnosis."""
    identity, saved = report.identity, report.saved
    app = str(identity.get("client_id") or saved.client_id or "")
    days = report.days_left(env.now())
    return [
        shown_name(report.name) + ("*" if report.name == active else ""),
        str(identity.get("login") or saved.login or "-"),
        app[:4] + "…" if len(app) > 4 else app or "-",
        saved.storage or "-",
        "-" if report.renewable is None else "yes" if report.renewable else "no",  # a word for awk, as the codes
        "-" if days is None else str(days),
        str(report.verdict.code),
    ]


STYLES = {Diagnosis.OK: "green", Diagnosis.TOKEN_EXPIRING: "yellow"}


def show(env: Env, reports: list[Report]) -> None:
    active = active_profile(env)
    rows = [row(env, report, active) for report in reports]
    if env.stdout_tty:
        headers = [_("profile"), _("login"), _("app"), _("storage"), _("renewable"), _("days left"), _("diagnosis")]
        styles = [STYLES.get(report.verdict.code, "red") for report in reports]
        render_table(env, headers, rows, styles)
    else:
        render_lines(env, rows)
    say(env, count_line(reports))
    expiring_warning(env, reports)
    pointers(env, [report.name for report in reports if not report.verdict.ok])


POINTERS = 10  # failing profiles that get a line of their own; the rest are counted


def pointers(env: Env, failing: list[str]) -> None:
    """Where to see why, for each failing profile (up to POINTERS), each command carrying its profile."""
    if not failing:
        return
    implicit = fix_profile(env)
    say(env, _("Why, and what to do:"))
    for name in failing[:POINTERS]:
        say(env, "  " + profile_command("metrika whoami", name, implicit))
    if len(failing) > POINTERS:
        say(env, "  " + _("and {count} more").format(count=len(failing) - POINTERS))


def count_line(reports: list[Report]) -> str:
    """`12 ok, 1 token_invalid, 2 token_expiring`: ok first, then in the order of the diagnoses."""
    counts = Counter(report.verdict.code for report in reports)
    return ", ".join(f"{counts[code]} {code}" for code in Diagnosis if counts[code])


def expiring_warning(env: Env, reports: list[Report]) -> None:
    """The tokens that expire within WARN_DAYS days, in one line on stderr, with the command that
    renews them: `metrika refresh` for those with a refresh token, a new login for the others."""
    now = env.now()
    soon = []
    for report in reports:
        days = report.days_left(now)
        if days is not None and days <= WARN_DAYS and report.verdict.code is not Diagnosis.TOKEN_INVALID:
            soon.append(report)
    if not soon:
        return
    listed = ", ".join(f"{shown_name(report.name)} ({(report.expires_at or '')[:10]})" for report in soon[:5])
    if len(soon) > 5:
        listed += " " + _("and {count} more").format(count=len(soon) - 5)
    # as a single profile's warning says: an expired token takes a new login
    renewable = [report.name for report in soon if report.renewable and (report.days_left(now) or 0) > 0]
    words = {"count": len(soon), "days": WARN_DAYS, "listed": listed}
    if not renewable:
        line = ngettext(
            "{count} token expires within {days} days: {listed}; renew with `metrika login --profile NAME`.",
            "{count} tokens expire within {days} days: {listed}; renew each with `metrika login --profile NAME`.",
            len(soon),
        ).format(**words)
    elif len(renewable) == len(soon):
        line = ngettext(
            "{count} token expires within {days} days: {listed}; renew it with `{command}`.",
            "{count} tokens expire within {days} days: {listed}; renew them with `{command}`.",
            len(soon),
        ).format(**words, command=refresh_command(env, renewable))
    else:
        line = ngettext(
            "{count} token expires within {days} days: {listed}; renew those with a refresh token with "
            "`{command}`, each of the others with `metrika login --profile NAME`.",
            "{count} tokens expire within {days} days: {listed}; renew those with a refresh token with "
            "`{command}`, each of the others with `metrika login --profile NAME`.",
            len(soon),
        ).format(**words, command=refresh_command(env, renewable))
    warn(env, line)


def refresh_command(env: Env, names: list[str]) -> str:
    """`metrika refresh` for the profiles `names`, as it can be run: one --profile each (none for
    the profile metrika picks without one); for more than a few, every profile due within WARN_DAYS."""
    if len(names) == 1:
        return profile_command("metrika refresh", names[0], fix_profile(env))
    if len(names) <= 5:
        return "metrika refresh " + " ".join(f"--profile {shlex.quote(shown_name(name))}" for name in names)
    return f"metrika refresh --all --expiring-within {WARN_DAYS + 1}"


def status_document(env: Env, reports: list[Report], code: int, offline: bool) -> dict[str, Any]:
    active = active_profile(env)
    items = []
    for report in reports:
        item = report.document(env)
        if offline:
            saved = report.saved
            recorded = {"login": saved.login, "uid": saved.uid, "client_id": saved.client_id}
            item.update(
                identity=recorded if saved.login else None, client_id_matches=None, counters=None, accounts=None
            )
        item["active"] = report.name == active
        items.append(item)
    return {
        "schema": 1,
        "ok": code == 0,
        "exit_code": code,
        "active_profile": active,
        "offline": offline,
        "counts": {str(code): count for code, count in Counter(r.verdict.code for r in reports).items()},
        "profiles": items,
    }
