"""`metrika logout --revoke`'s work: revoke stored tokens at Yandex (`/revoke_token`) before
anything is forgotten. A token that cannot be revoked (pasted without a device_id, no app
secret, refused) is kept, and the user is told why and where to revoke it by hand."""

from __future__ import annotations

import asyncio

from .advice import transport_trouble
from .diagnose import Verdict
from .env import Env
from .errors import Diagnosis, MetrikaError
from .evidence import Evidence, Reply
from .i18n import _
from .oauth import DATA_ACCESS_URL, app_page_url
from .store import Profile
from .tokens import Token, stored_token


def by_hand(name: str) -> list[str]:
    """The way that always works: revoke it in Yandex ID, then forget it here."""
    return [
        _("Revoke it by hand: {url} (Yandex ID → Data access), find the app and revoke its access.").format(
            url=DATA_ACCESS_URL
        ),
        _("Then forget it here: `metrika logout`."),  # the caller adds --profile NAME where it is needed
    ]


def not_revocable(name: str) -> Verdict:
    return Verdict(
        Diagnosis.BAD_INPUT,
        _(
            "The token of profile {profile} cannot be revoked through the API: it was issued without a device_id "
            "(it was pasted, or given with --with-token). Nothing was forgotten."
        ).format(profile=name),
        by_hand(name),
    )


def refused(env: Env, reply: Reply, name: str, client_id: str) -> Verdict:
    """What a failed /revoke_token means; whatever it is, nothing was forgotten."""
    trouble = transport_trouble(reply, Evidence(now=env.now(), timeout=env.endpoints.timeout, profile=name))
    if trouble:
        code, summary, fix = trouble
        return Verdict(code, _("Not revoked, nothing was forgotten: {reason}").format(reason=summary), fix)
    error = str(reply.data.get("error") or "") if isinstance(reply.data, dict) else ""
    if error == "unsupported_token_type":
        return not_revocable(name)
    if error in ("invalid_client", "unauthorized_client"):
        return Verdict(
            Diagnosis.BAD_INPUT,
            _(
                "Yandex refused the app's secret for ClientID {client_id} ({error}): the token of profile {profile} "
                "was not revoked, and nothing was forgotten."
            ).format(client_id=client_id, error=error, profile=name),
            [
                _("Copy the Client secret from the app's page: {url}").format(url=app_page_url(client_id)),
                _("Give it in METRIKA_CLIENT_SECRET (it wins over a kept one), then try again."),
                *by_hand(name),
            ],
        )
    return Verdict(
        Diagnosis.UNEXPECTED_RESPONSE,
        _("Yandex OAuth refused to revoke the token of profile {profile} ({answer}); nothing was forgotten.").format(
            profile=name, answer=f"HTTP {reply.status} {error}".strip()
        ),
        by_hand(name),
    )


def revoke_one(env: Env, name: str) -> Verdict | None:
    """Revoke the profile's stored token; None when it was revoked or there is nothing stored."""
    try:
        profile = env.store.profile(name)
        token = stored_token(env, name, profile)
    except MetrikaError as exc:
        return Verdict(exc.diagnosis, exc.message, exc.fix)
    if token is None:
        return None
    env.secrets.add(token.value)
    if not profile.device_id or not profile.client_id:
        return not_revocable(name)
    return send(env, name, profile, token)


def send(env: Env, name: str, profile: Profile, token: Token) -> Verdict | None:
    from .api import oauth_post
    from .app_secret import app_secret

    client_id = profile.client_id or ""
    try:
        why = _("Revoking the token of profile {profile} at Yandex.").format(profile=name)
        secret = app_secret(env, client_id, ask=env.may_prompt, why=why)
    except MetrikaError as exc:
        return Verdict(exc.diagnosis, exc.message, [*exc.fix, *by_hand(name)])
    form = {"access_token": token.value, "client_id": client_id, "client_secret": secret}
    reply = asyncio.run(oauth_post(env, "/revoke_token", form))
    if reply.ok:
        return None
    return refused(env, reply, name, client_id)


def revoke_tokens(env: Env, names: list[str]) -> tuple[list[str], list[tuple[str, Verdict]]]:
    """Revoke each profile's token in turn: the profiles that may now be forgotten (revoked, or
    nothing stored), and those that must be kept, with why."""
    forgettable, kept = [], []
    for name in names:
        verdict = revoke_one(env, name)
        if verdict is None:
            forgettable.append(name)
        else:
            kept.append((name, verdict))
    return forgettable, kept


def revoke_unstored(env: Env, token: str, client_id: str | None, device_id: str | None, secret: str | None) -> None:
    """A token just obtained by the code or device flow that was not stored (it failed verification,
    the user kept the old one, the store failed) exists only in this process: revoke it at Yandex
    rather than leave a valid token behind. Best effort, said in one line. A pasted token has no
    device_id (the user holds it, and only Yandex ID can revoke it); a token some profile holds
    (Yandex may hand out the same one again) is never revoked."""
    from .output import say, warn
    from .text import fingerprint

    if not device_id or not client_id or _held(env, token):
        return
    words = {"fp": fingerprint(token), "url": DATA_ACCESS_URL}
    secret = secret or _known_secret(env, client_id)
    if secret is None:
        warn(
            env,
            _(
                "The new token {fp} was not stored, and metrika cannot revoke it without the app's secret "
                "(METRIKA_CLIENT_SECRET): it may still be listed at {url}; revoke it there."
            ).format(**words),
        )
        return
    reason = _revoked_or_why(env, token, client_id, secret)
    if reason is None:
        say(env, _("The new token {fp} was not stored, so metrika revoked it at Yandex.").format(**words))
        return
    warn(
        env,
        _(
            "The new token {fp} was not stored, and revoking it at Yandex failed ({reason}): it may still be "
            "listed at {url}; revoke it there."
        ).format(reason=reason, **words),
    )


def _held(env: Env, token: str) -> bool:
    """Whether a stored profile records this token's fingerprint (or the config cannot tell)."""
    from .text import fingerprint

    try:
        return any(profile.fingerprint == fingerprint(token) for profile in env.store.profiles().values())
    except MetrikaError:
        return True  # cannot tell: leave it be


def _known_secret(env: Env, client_id: str) -> str | None:
    from .app_secret import known_app_secret

    return known_app_secret(env, client_id)


def _revoked_or_why(env: Env, token: str, client_id: str, secret: str) -> str | None:
    """None when Yandex revoked the token; else why not, in a few words."""
    from .api import oauth_post

    form = {"access_token": token, "client_id": client_id, "client_secret": secret}
    try:
        reply = asyncio.run(oauth_post(env, "/revoke_token", form))
    except MetrikaError as exc:
        return exc.message
    if reply.ok:
        return None
    if reply.network:
        return _("network error: {kind}").format(kind=reply.network)
    error = str(reply.data.get("error") or "") if isinstance(reply.data, dict) else ""
    return f"HTTP {reply.status} {error}".strip()
