"""Ask the services about a token and diagnose it: the bridge between api.py and diagnose.py,
used by login (to verify), whoami and check-access."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from . import oauth
from .diagnose import Verdict, diagnose
from .env import Env
from .errors import BadInput
from .evidence import Evidence
from .i18n import _
from .pacing import Pacer
from .store import Profile
from .text import shown
from .tokens import Token, fix_profile, stored_profiles

P = ParamSpec("P")
R = TypeVar("R")


def blocking(function: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, R]:
    """The coroutine function `function` as a plain call: it runs in an event loop of its own."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return asyncio.run(function(*args, **kwargs))

    return run


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


@dataclass
class Options:
    """What collect asks besides the token: see api.Questions (pacer, pool, accounts, pages)
    and --expiring-within."""

    name: str = "default"  # the profile's name, for the fix of a stored token
    implicit: str | None = None  # the profile metrika picks without --profile; None: found out from env
    expiring_within: int | None = None
    accounts: bool = False
    first_page: bool = False
    pacer: Pacer | None = None
    user: str = ""
    transport: Any = None


async def collect_async(
    env: Env,
    token: Token | None,
    profile: Profile,
    counter_ids: list[int],
    need: str,
    expected_login: str | None,
    all_pages: bool,
    client_id: str | None = None,
    options: Options | None = None,
) -> tuple[Verdict, Evidence]:
    """collect, awaitable: many tokens are asked in one event loop (status)."""
    from .api import Questions, gather_evidence_async, proxy_for

    opts = options or Options()
    proxy = proxy_for(env.environ, env.endpoints.api_url)
    evidence = prepare(env, token, profile, counter_ids, need, expected_login, client_id)
    evidence.proxy, evidence.proxy_variable = (proxy[1], proxy[0]) if proxy else (None, None)
    evidence.profile, evidence.expiring_within = opts.name, opts.expiring_within
    evidence.implicit_profile = fix_profile(env) if opts.implicit is None else opts.implicit
    if token is None:
        evidence.profiles = stored_profiles(env)
    if token and not evidence.token_problem:
        ask = Questions(counter_ids, all_pages, opts.first_page, opts.accounts, opts.pacer, opts.user, opts.transport)
        (evidence.identity, evidence.metrika, evidence.counters), evidence.accounts = await gather_evidence_async(
            env, token.value, ask
        )
    return diagnose(evidence), evidence


# Gather the evidence for a token (concurrently) and diagnose it: login, whoami, check-access, api.
collect = blocking(collect_async)


def prepare(
    env: Env,
    token: Token | None,
    profile: Profile,
    counter_ids: list[int],
    need: str,
    expected_login: str | None,
    client_id: str | None = None,
) -> Evidence:
    """The evidence that needs no server: where the token is from, its form, what login recorded."""
    endpoints = env.endpoints
    stored = token is not None and token.stored
    evidence = Evidence(
        token_source=token.source if token else None,
        counter_ids=counter_ids,
        need=need,
        expected_login=expected_login,
        expected_client_id=client_id or configured_client_id(env, lambda: profile.client_id),
        scopes=profile.scopes,
        timeout=endpoints.timeout,
        now=env.now(),
        expires_at=profile.expires_at if stored else None,
    )
    if token:
        env.secrets.add(token.value)
        evidence.token_problem = oauth.token_problem(token.value, evidence.expected_client_id)
    return evidence
