"""`metrika refresh`'s work: renew stored tokens with their refresh tokens, verify the new token
as a login does, and store token, refresh token and metadata together, for one profile or
hundreds in one event loop (Yandex OAuth concurrently, Metrika through one shared Pacer).

The decisions (which profiles are due, what an OAuth answer means) are pure functions; the
I/O is `renew_all`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .advice import transport_trouble
from .diagnose import Verdict
from .env import Env
from .errors import Diagnosis, ExitCode, MetrikaError, NoToken
from .evidence import Evidence, Reply
from .expiry import days_left, expires_in
from .i18n import _
from .oauth import app_page_url
from .probe import Inquiry, inspect_async
from .store import KeyringBatch, Profile, Saving
from .tokens import Token, recorded_token

AT_ONCE = 16  # profiles renewed at the same time (their Metrika requests wait for the pacer anyway)
# Seconds a batch of renewals waits for more before it is stored: fewer, larger commits (each reads
# and writes config.toml whole, which would hold up the event loop 200 times over), for at most
# this long a renewal Yandex has made and the store does not hold yet.
BATCH_WAIT = 0.2


@dataclass
class Outcome:
    """What became of one profile: renewed or not, and the verdict (ok when renewed or not due)."""

    name: str
    renewed: bool
    verdict: Verdict
    expires_at: str | None = None

    def days_left(self, now: datetime) -> int | None:
        return days_left(self.expires_at, now)


# ---- pure decisions --------------------------------------------------------------------


def login_command(name: str) -> str:
    """The login a fix names; `refresh` adds `--profile NAME` where it is needed (with_profile)."""
    return "metrika login"


def is_due(profile: Profile, now: datetime, expiring_within: int | None) -> bool:
    """Without --expiring-within every profile is due; with it, those with fewer days left than
    asked. An expiry that was never recorded is not known to be near: not due (never guessed)."""
    if expiring_within is None:
        return True
    left = days_left(profile.expires_at, now)
    return left is not None and left < expiring_within


def not_due(name: str, profile: Profile, now: datetime) -> Outcome:
    left = days_left(profile.expires_at, now)
    summary = (
        _("Not due: the token of profile {profile} expires on {date}, {left}.").format(
            profile=name, date=(profile.expires_at or "")[:10], left=expires_in(profile.expires_at, now)
        )
        if left is not None
        else _("Not due: the expiry of the token of profile {profile} was not recorded.").format(profile=name)
    )
    return Outcome(name, False, Verdict(Diagnosis.OK, summary), profile.expires_at)


def nothing_stored(name: str) -> NoToken:
    return NoToken(
        _("No token is stored for profile {profile}.").format(profile=name),
        [_("Log in to store one: `{command}`.").format(command=login_command(name))],
    )


def not_stored(name: str) -> Outcome:
    error = nothing_stored(name)
    return Outcome(name, False, Verdict(error.diagnosis, error.message, error.fix))


def not_renewable(name: str, profile: Profile) -> Outcome:
    verdict = Verdict(
        Diagnosis.NO_TOKEN,
        _(
            "The token of profile {profile} cannot be renewed: it came without a refresh token "
            "(it was pasted, or given with --with-token)."
        ).format(profile=name),
        [
            _("Log in once more for a renewable token (metrika's code or device login): `{command}`.").format(
                command=login_command(name)
            )
        ],
    )
    return Outcome(name, False, verdict, profile.expires_at)


def failed(name: str, profile: Profile, error: MetrikaError) -> Outcome:
    return Outcome(name, False, Verdict(error.diagnosis, error.message, error.fix), profile.expires_at)


def refusal(env: Env, reply: Reply, name: str, client_id: str) -> Verdict:
    """What a refused or failed refresh at /token means, and what to do about it."""
    trouble = transport_trouble(reply, Evidence(now=env.now(), timeout=env.endpoints.timeout, profile=name))
    if trouble:
        return Verdict(*trouble)
    error = str(reply.data.get("error") or "") if isinstance(reply.data, dict) else ""
    if error == "invalid_grant":
        return Verdict(
            Diagnosis.TOKEN_INVALID,
            _(
                "Yandex no longer accepts the refresh token of profile {profile} (it expired, was revoked, "
                "or the account's password changed)."
            ).format(profile=name),
            [_("Log in again: `{command}`.").format(command=login_command(name))],
        )
    if error in ("invalid_client", "unauthorized_client"):
        return Verdict(
            Diagnosis.BAD_INPUT,
            _("Yandex refused the app's secret for ClientID {client_id} ({error}).").format(
                client_id=client_id, error=error
            ),
            [
                _("Copy the Client secret from the app's page: {url}").format(url=app_page_url(client_id)),
                _("Give it in METRIKA_CLIENT_SECRET (it wins over a kept one), then run refresh again."),
            ],
        )
    return Verdict(
        Diagnosis.UNEXPECTED_RESPONSE,
        _("Yandex OAuth answered the refresh of profile {profile} with HTTP {status} {error}.")
        .format(profile=name, status=reply.status, error=error)
        .strip(),
        [_("Retry; if it persists, run with METRIKA_DEBUG=1 and report it.")],
    )


@dataclass(frozen=True)
class Grant:
    """What /token answered: the new access token, its refresh token, its lifetime in seconds."""

    access_token: str
    refresh_token: str | None
    expires_in: int | None


def grant_of(reply: Reply) -> Grant | None:
    """The grant in a 200 answer, or None when the answer is not one."""
    data = reply.data if reply.ok and isinstance(reply.data, dict) else {}
    token, refresh, lifetime = data.get("access_token"), data.get("refresh_token"), data.get("expires_in")
    if not isinstance(token, str) or not token:
        return None
    return Grant(
        token,
        refresh if isinstance(refresh, str) and refresh else None,
        lifetime if isinstance(lifetime, int) and not isinstance(lifetime, bool) and lifetime > 0 else None,
    )


def renewed_profile(old: Profile, grant: Grant, identity: dict[str, Any], now: datetime) -> Profile:
    """The metadata of the renewed token: the old profile's, with what the renewal changed."""
    expires_at = (now + timedelta(seconds=grant.expires_in)).isoformat(timespec="seconds") if grant.expires_in else None
    return replace(
        old,
        login=identity.get("login") or old.login,
        uid=identity.get("id") or old.uid,
        obtained_at=now.isoformat(timespec="seconds"),
        expires_at=expires_at,
        renewable=grant.refresh_token is not None,
    )


def exit_code(outcomes: list[Outcome]) -> int:
    """0 when every profile was renewed or not due; else the exit code the failures share, or 1."""
    codes = {int(outcome.verdict.exit_code) for outcome in outcomes if not outcome.verdict.ok}
    return codes.pop() if len(codes) == 1 else 0 if not codes else 1


# ---- the work --------------------------------------------------------------------------


class Shared:
    """What the renewals of one run share: one pacer and one connection pool; the keyring, read for
    every profile it keeps at once, tokens and refresh tokens in one conversation (once it did not
    answer in time, nobody waits for it again); credentials.toml, read once; and the store,
    written by one batch at a time: the renewals checked while a batch is being written go in the
    next one, each batch one transaction (a token and its metadata change together, or not)."""

    def __init__(self, env: Env, kept: dict[str, Profile] | None = None) -> None:
        from .api import SharedTransport
        from .pacing import Pacer

        self.env = env
        self.transport = SharedTransport(env)
        self.pacer = Pacer()
        self.reading = asyncio.Lock()
        self.writing = asyncio.Lock()
        self.hung: MetrikaError | None = None
        self.files: dict[str, Any] | None = None
        self.kept = kept or {}  # the profiles whose tokens the keyring keeps, read at once
        self.keyring = KeyringBatch(env.store, self.kept, refresh_tokens=True)
        self.waiting: list[tuple[Saving, asyncio.Future[Profile]]] = []
        self.on_the_way = 0  # renewals started and not yet stored or failed

    async def refresh_token(self, name: str, profile: Profile) -> str | None:
        """The profile's refresh token, if its stored token is the one its metadata describes (a
        mismatch an interrupted login left is never used: NoToken, as everywhere)."""
        async with self.reading:
            if self.hung:
                raise self.hung
            started = time.monotonic()
            try:
                return await asyncio.to_thread(self._read, name, profile)
            except MetrikaError as exc:
                if time.monotonic() - started >= self.env.keyring_timeout / 2:
                    self.hung = exc
                raise

    def _read(self, name: str, profile: Profile) -> str | None:
        store = self.env.store
        if profile.storage == "keyring":
            token, value = self._keyring(name, profile)
        else:  # credentials.toml, read once: each profile's entry changes only by its own renewal
            if self.files is None:
                self.files = store.file_entries()
            entry = self.files.get(name) or {}
            token, value = recorded_token(name, profile, entry.get("token")), entry.get("refresh_token")
        if token is None:
            raise nothing_stored(name)
        self.env.secrets.add(token.value)
        if isinstance(value, str) and value:
            self.env.secrets.add(value)
            return value
        return None

    def _keyring(self, name: str, profile: Profile) -> tuple[Token | None, str | None]:
        """The profile's token (if its metadata describes it) and refresh token from the keyring:
        on the first call every kept profile's, in one read (KeyringBatch)."""
        token = recorded_token(name, profile, self.keyring.token(name, profile))
        return token, self.keyring.refresh_token(name, profile) if token else None

    async def save(self, name: str, grant: Grant, profile: Profile) -> Profile:
        """Store this renewal, with the others waiting meanwhile; its stored metadata."""
        done: asyncio.Future[Profile] = asyncio.get_running_loop().create_future()
        entry = (name, grant.access_token, profile, profile.storage == "file", grant.refresh_token)
        self.waiting.append((entry, done))
        async with self.writing:
            if not done.done():
                await self._gather_batch()
                batch, self.waiting = self.waiting, []
                try:
                    stored = await asyncio.to_thread(self.env.store.save_many, [item for item, _done in batch])
                except MetrikaError as exc:
                    for _item, each in batch:
                        each.set_exception(exc)
                else:
                    for (_item, each), saved in zip(batch, stored, strict=True):
                        each.set_result(saved)
        return await done

    async def _gather_batch(self) -> None:
        """Let the renewals still on their way join the batch, for at most BATCH_WAIT seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BATCH_WAIT
        while self.on_the_way > len(self.waiting) and loop.time() < deadline:
            await asyncio.sleep(BATCH_WAIT / 10)


@dataclass
class Checked:
    """A renewal that passed the check and waits to be stored."""

    profile: Profile
    grant: Grant
    warnings: list[str]


async def renew_one(env: Env, shared: Shared, name: str, profile: Profile, secret: str) -> Outcome | Checked:
    """Renew one profile at /token, then check the new token as a login does; any failure
    leaves the stored token, refresh token and metadata as they were."""
    from .api import oauth_post

    client_id = profile.client_id or ""
    try:
        refresh_token = await shared.refresh_token(name, profile)
    except MetrikaError as exc:
        return failed(name, profile, exc)
    if not refresh_token:
        return not_renewable(name, profile)
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    reply = await oauth_post(env, "/token", {**form, "client_secret": secret}, transport=shared.transport)
    grant = grant_of(reply)
    if grant is None:
        return Outcome(name, False, refusal(env, reply, name, client_id), profile.expires_at)
    for value in (grant.access_token, grant.refresh_token):
        if value:
            env.secrets.add(value)
    return await verify(env, shared, name, profile, grant)


async def verify(env: Env, shared: Shared, name: str, profile: Profile, grant: Grant) -> Outcome | Checked:
    """The renewed token must work as a login's must: Yandex ID knows it, Metrika reads with it,
    and it is the same account's."""
    inquiry = Inquiry(
        name,
        expected_login=profile.login,
        client_id=profile.client_id,
        pacer=shared.pacer,
        user=profile.login or name,
        transport=shared.transport,
    )
    report = await inspect_async(env, Token(grant.access_token, "login"), profile, inquiry)
    verdict, evidence = report.verdict, report.evidence
    warnings = verdict.warnings
    if verdict.exit_code is ExitCode.RETRY_LATER:
        # Yandex has just issued it, and may have spent the old refresh token for it: a renewal
        # not stored now would be lost. The network or a busy Metrika says nothing against it.
        warnings = [_("It was stored without the check a login makes: {reason}").format(reason=verdict.summary)]
    elif not verdict.ok:
        verdict.summary = _("The renewed token did not pass the check, so nothing was stored: {reason}").format(
            reason=verdict.summary
        )
        return Outcome(name, False, verdict, profile.expires_at)
    identity = evidence.identity.data if evidence.identity and evidence.identity.ok else {}
    new = renewed_profile(profile, grant, identity if isinstance(identity, dict) else {}, env.now())
    return Checked(new, grant, warnings)


async def store(shared: Shared, name: str, old: Profile, checked: Checked) -> Outcome:
    """The renewed token, its refresh token and metadata replace the old ones together."""
    try:
        stored = await shared.save(name, checked.grant, checked.profile)
    except MetrikaError as exc:
        return failed(name, old, exc)
    summary = _("Renewed the token of profile {profile}.").format(profile=name)
    return Outcome(name, True, Verdict(Diagnosis.OK, summary, warnings=checked.warnings), stored.expires_at)


async def renew_all(
    env: Env, due: list[tuple[str, Profile, str]], advance: Callable[[], None] = lambda: None
) -> list[Outcome]:
    """Renew each (name, profile, the app's secret) in one event loop: AT_ONCE at a time ask
    Yandex, and the store takes the checked ones one by one meanwhile."""
    shared = Shared(env, {name: profile for name, profile, _secret in due if profile.storage == "keyring"})
    gate = asyncio.Semaphore(AT_ONCE)

    async def renew(name: str, profile: Profile, secret: str) -> Outcome:
        try:
            async with gate:
                result = await renew_one(env, shared, name, profile, secret)
            outcome = result if isinstance(result, Outcome) else await store(shared, name, profile, result)
        finally:
            shared.on_the_way -= 1
        advance()
        return outcome

    shared.on_the_way = len(due)

    try:
        return list(await asyncio.gather(*(renew(*item) for item in due)))
    finally:
        await shared.transport.close()
