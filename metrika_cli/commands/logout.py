"""`metrika logout`: forget stored tokens and metadata."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import oauth
from ..env import Env
from ..errors import MetrikaError
from ..i18n import _
from ..output import render_verdict, say, warn
from ..tokens import checked_profile, profile_name
from .options import ProfileOption


def logout(
    ctx: typer.Context,
    profile: ProfileOption = None,
    all_profiles: Annotated[bool, typer.Option("--all", help=_("Forget every profile."))] = False,
    revoke: Annotated[
        bool,
        typer.Option("--revoke", help=_("Revoke the token at Yandex first; forget it only when that succeeded.")),
    ] = False,
) -> int:
    return run(ctx.obj, profile_name(ctx.obj, profile), all_profiles, revoke)


def run(env: Env, profile: str, all_profiles: bool, revoke: bool = False) -> int:
    store = env.store
    names = sorted(store.profiles()) if all_profiles else [checked_profile(profile)]
    if revoke:
        return revoke_and_forget(env, names)
    forgotten = store.forget(names)
    if forgotten and store.active_profile() in forgotten:
        store.set_active(None)  # `metrika switch` chose a profile that is gone: back to the default
    if not forgotten:
        say(env, _("Nothing was stored for profile {profile}.").format(profile=", ".join(names) or profile))
    for name in forgotten:
        say(env, _("Forgot the token of profile {profile}.").format(profile=name), style="green")
    say(
        env,
        _("A token stays valid until it expires or you revoke it: {url} (Yandex ID → Data access).").format(
            url=oauth.DATA_ACCESS_URL
        ),
    )
    if env.environ.get("METRIKA_TOKEN") or env.environ.get("METRIKA_TOKEN_FILE"):
        warn(env, _("METRIKA_TOKEN or METRIKA_TOKEN_FILE is set, and metrika still uses it."))
    return 0


def revoke_and_forget(env: Env, names: list[str]) -> int:
    """`--revoke`: each token revoked at Yandex first; only the revoked ones (and profiles with
    nothing stored) are forgotten, the others kept, each with why and how to revoke it by hand."""
    from ..revoke import revoke_tokens

    forgettable, kept = revoke_tokens(env, names)
    try:
        forgotten = env.store.forget(forgettable) if forgettable else []
    except MetrikaError as exc:  # revoked at Yandex, still stored here: dead, and said so
        exc.message = _("Revoked at Yandex, but not forgotten here: {reason}").format(reason=exc.message)
        exc.fix.append(_("Then forget it: `metrika logout --profile {profile}`.").format(profile=forgettable[0]))
        raise
    if forgotten and env.store.active_profile() in forgotten:
        env.store.set_active(None)
    for name in forgotten:
        say(env, _("Revoked the token of profile {profile} and forgot it.").format(profile=name), style="green")
    for name in forgettable:
        if name not in forgotten:
            say(env, _("Nothing was stored for profile {profile}.").format(profile=name))
    for _name, verdict in kept:
        render_verdict(env, verdict)
    if env.environ.get("METRIKA_TOKEN") or env.environ.get("METRIKA_TOKEN_FILE"):
        warn(env, _("METRIKA_TOKEN or METRIKA_TOKEN_FILE is set, and metrika still uses it."))
    codes = {int(verdict.exit_code) for _name, verdict in kept}
    return codes.pop() if len(codes) == 1 else 1 if codes else 0
