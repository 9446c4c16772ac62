"""Ask the services about a token and diagnose it: the bridge between api.py and diagnose.py,
used by login (to verify), whoami and check-access."""

from __future__ import annotations

from collections.abc import Callable

from . import oauth
from .diagnose import Evidence, Verdict, diagnose
from .env import Env
from .errors import BadInput
from .i18n import _
from .store import Profile
from .text import shown
from .tokens import Token


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


def collect(
    env: Env,
    token: Token | None,
    profile: Profile,
    counter_ids: list[int],
    need: str,
    expected_login: str | None,
    all_pages: bool,
    client_id: str | None = None,
) -> tuple[Verdict, Evidence]:
    """Gather the evidence for a token (concurrently) and diagnose it."""
    from .api import gather_evidence, proxy_for

    endpoints = env.endpoints
    proxy = proxy_for(env.environ, endpoints.api_url)
    evidence = Evidence(
        token_source=token.source if token else None,
        counter_ids=counter_ids,
        need=need,
        expected_login=expected_login,
        expected_client_id=client_id or configured_client_id(env, lambda: profile.client_id),
        scopes=profile.scopes,
        proxy=proxy[1] if proxy else None,
        proxy_variable=proxy[0] if proxy else None,
        timeout=endpoints.timeout,
        now=env.now(),
    )
    if token:
        env.secrets.add(token.value)
        evidence.token_problem = oauth.token_problem(token.value, evidence.expected_client_id)
    if token and not evidence.token_problem:
        evidence.identity, evidence.metrika, evidence.counters = gather_evidence(
            env, token.value, counter_ids, all_pages
        )
    return diagnose(evidence), evidence
