"""`metrika logout`: forget stored tokens and metadata."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import oauth
from ..env import Env
from ..i18n import _
from ..output import say, warn
from ..tokens import checked_profile, profile_name
from .options import ProfileOption


def logout(
    ctx: typer.Context,
    profile: ProfileOption = None,
    all_profiles: Annotated[bool, typer.Option("--all", help=_("Forget every profile."))] = False,
) -> int:
    return run(ctx.obj, profile_name(ctx.obj, profile), all_profiles)


def run(env: Env, profile: str, all_profiles: bool) -> int:
    store = env.store
    names = sorted(store.profiles()) if all_profiles else [checked_profile(profile)]
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
