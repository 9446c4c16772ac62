"""`metrika switch [NAME]`: record the active profile, or list the profiles and mark it."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..env import Env
from ..errors import BadInput
from ..i18n import _
from ..output import say, warn
from ..tokens import checked_profile, profile_name
from .options import complete_profiles


def switch(
    ctx: typer.Context,
    name: Annotated[
        Optional[str],
        typer.Argument(
            metavar="[NAME]",
            help=_("The profile to make the active one; without it, list the profiles."),
            autocompletion=complete_profiles,
        ),
    ] = None,
) -> int:
    return run(ctx.obj, name)


def run(env: Env, name: str | None) -> int:
    if name is None:
        return list_profiles(env)
    profiles = env.store.profiles()
    if checked_profile(name) not in profiles:
        known = ", ".join(sorted(profiles))
        raise BadInput(
            _("No profile named {name}; the profiles are: {names}.").format(name=name, names=known)
            if known
            else _("No profile named {name}, and none is stored yet.").format(name=name),
            fix=[_("Create it by logging in: `metrika login --profile {name}`.").format(name=name)],
        )
    env.store.set_active(name)
    say(env, _("Profile {name} is now the active one.").format(name=name), style="green")
    overriding = env.environ.get("METRIKA_PROFILE")
    if overriding and overriding != name:
        warn(
            env,
            _(
                "METRIKA_PROFILE is set to {value}; it takes precedence over the profile chosen with `metrika switch`."
            ).format(value=overriding),
        )
    return 0


def list_profiles(env: Env) -> int:
    """One line a profile on stdout, `*` before the one in use: `* default  vasya`."""
    profiles = env.store.profiles()
    if not profiles:
        say(env, _("No profiles yet: `metrika login` stores the first one."))
        return 0
    active = profile_name(env)
    width = max(len(name) for name in profiles)
    for name in sorted(profiles):
        mark = "*" if name == active else " "
        login = profiles[name].login or ""
        say(env, f"{mark} {name:<{width}}  {login}".rstrip(), stderr=False)
    if active not in profiles:
        warn(env, _("The profile in use, {name}, is not stored.").format(name=active))
    return 0
