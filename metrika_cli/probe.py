"""Ask the services about a token and diagnose it: the bridge between api.py and diagnose.py.
Each command that asks builds one `Inquiry` (what to ask) and calls `inspect` (or `inspect_async`,
for many tokens in one event loop), which returns a `Report`: login (to verify), whoami,
check-access, status, refresh (to verify) and api (why a call was refused)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from . import oauth
from .diagnose import Verdict, diagnose
from .env import Env
from .errors import BadInput
from .evidence import Evidence, Reply, identity_data
from .expiry import days_left
from .i18n import _
from .pacing import Pacer
from .rules import OFFLINE_RULES
from .store import Profile
from .text import shown
from .tokens import Token, fix_profile, stored_profiles


def configured_client_id(
    env: Env, saved: Callable[[], str | None], option: str | None = None, ask: Callable[[], str] | None = None
) -> str | None:
    """The app's ClientID, validated: --client-id > METRIKA_CLIENT_ID > the profile's saved one
    (read only when needed) > `ask` (a prompt, where one is allowed); None when nothing gives one."""
    value = option or env.environ.get("METRIKA_CLIENT_ID") or saved()
    if not value and ask is not None:
        value = ask()
    return oauth.validate_client_id(value) if value else None


def parse_counter_ids(values: list[str]) -> list[int]:
    ids = []
    for value in values:
        for part in value.replace(",", " ").split():
            if not (part.isascii() and part.isdigit() and len(part) <= 20) or int(part) == 0:
                raise BadInput(_("A counter ID is a positive whole number; got {value!r}.").format(value=shown(part)))
            ids.append(int(part))
    return list(dict.fromkeys(ids))


Counters = Literal["proof", "first_page", "all"]


@dataclass(frozen=True)
class Inquiry:
    """What a command asks Yandex about a token, built once by the command (login's verification,
    whoami, check-access, status, refresh's verification, api's refusal): which counters, for what
    need, whose they must be, and what the requests of a run share (status: one pacer and one
    connection pool for every profile)."""

    name: str = "default"  # the profile's name, for the fixes of a stored token
    # proof: one counter, enough to prove the token works (check-access, login); first_page: one
    # page, whose `rows` is the total (status); all: every page (whoami). `counter_ids`, when
    # given, are asked for instead (except with first_page).
    counters: Counters = "proof"
    counter_ids: tuple[int, ...] = ()
    need: str = "read"  # read or write, on those counters
    expected_login: str | None = None  # the account the token must belong to
    client_id: str | None = None  # the app the token must be from; None: the one configured
    accounts: bool = False  # the accounts the owner represents (whoami, status)
    expiring_within: int | None = None  # --expiring-within DAYS
    implicit: str | None = None  # the profile metrika picks without --profile; None: found out from env
    offline: bool = False  # ask no server: what is stored, and the expiry recorded (status --offline)
    pacer: Pacer | None = None
    user: str = ""  # whose Metrika quota: the login, when known
    transport: Any = None


@dataclass
class Report:
    """What is known of one profile's token: the rows and the JSON document of whoami and status."""

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

    def document(self, env: Env) -> dict[str, Any]:
        """The JSON document of one profile (whoami's; each of status's profiles)."""
        from .output import base_document, storage_document

        verdict, token = self.verdict, self.token
        doc = base_document(
            verdict.code,
            self.name,
            verdict.summary,
            verdict.fix,
            (token.source, token.value) if token else None,
            identity_data(self.evidence),
        )
        doc["warnings"] = verdict.warnings
        doc.update(
            client_id_matches=self.client_id_matches,
            expires_at=self.expires_at,
            days_left=self.days_left(env.now()),
            renewable=self.renewable,
            storage=storage_document(env, self.saved.storage if token is None or token.stored else None),
            counters={"total": self.total, "by_permission": self.by_permission},
            accounts=self.accounts,
        )
        return doc


def inspect(env: Env, token: Token | None, profile: Profile, inquiry: Inquiry) -> Report:
    """Ask the services what `inquiry` says about `token` (`profile`: what is stored with it), and
    diagnose it. Offline, no server is asked and no event loop is made."""
    if not inquiry.offline:
        return asyncio.run(inspect_async(env, token, profile, inquiry))
    evidence = prepare(env, token, profile, inquiry)
    verdict = diagnose(evidence, OFFLINE_RULES)
    return Report(inquiry.name, token, profile, verdict, evidence, evidence.expected_client_id)


async def inspect_async(env: Env, token: Token | None, profile: Profile, inquiry: Inquiry) -> Report:
    """inspect, awaitable: many tokens are asked in one event loop (status, refresh)."""
    from .api import proxy_for

    if inquiry.offline:
        return inspect(env, token, profile, inquiry)
    proxy = proxy_for(env.environ, env.endpoints.api_url)
    evidence = prepare(env, token, profile, inquiry)
    evidence.proxy, evidence.proxy_variable = (proxy[1], proxy[0]) if proxy else (None, None)
    if token is None:
        evidence.profiles = stored_profiles(env)
    if token and not evidence.token_problem:
        evidence.identity, evidence.metrika, evidence.counters, evidence.accounts = await ask(env, token.value, inquiry)
    return Report(inquiry.name, token, profile, diagnose(evidence), evidence, evidence.expected_client_id)


async def _no_answer() -> None:
    return None


async def ask(env: Env, token: str, inquiry: Inquiry) -> tuple[Reply, Reply, dict[int, dict[str, Any]], Reply | None]:
    """Ask Yandex ID and Metrika at the same time: one round trip of waiting, not two. The
    identity, the counters' reply, the counters by id, and the accounts (None when not asked)."""
    from .api import Client

    async with Client(env, token, inquiry.pacer, inquiry.user, inquiry.transport) as client:
        counters = (
            client.first_counters_page()
            if inquiry.counters == "first_page"
            else client.counters(list(inquiry.counter_ids), inquiry.counters == "all")
        )
        accounts = client.accounts() if inquiry.accounts else _no_answer()
        identity, (metrika, found), represented = await asyncio.gather(client.identity(), counters, accounts)
    return identity, metrika, found, represented


def prepare(env: Env, token: Token | None, profile: Profile, inquiry: Inquiry) -> Evidence:
    """The evidence that needs no server: where the token is from, its form, what login recorded."""
    endpoints = env.endpoints
    stored = token is not None and token.stored
    evidence = Evidence(
        token_source=token.source if token else None,
        counter_ids=list(inquiry.counter_ids),
        need=inquiry.need,
        expected_login=inquiry.expected_login,
        expected_client_id=inquiry.client_id or configured_client_id(env, lambda: profile.client_id),
        scopes=profile.scopes,
        timeout=endpoints.timeout,
        now=env.now(),
        expires_at=profile.expires_at if stored else None,
        profile=inquiry.name,
        expiring_within=inquiry.expiring_within,
        implicit_profile=fix_profile(env) if inquiry.implicit is None else inquiry.implicit,
    )
    if token:
        env.secrets.add(token.value)
        evidence.token_problem = oauth.token_problem(token.value, evidence.expected_client_id)
    return evidence
