"""`metrika switch [NAME]`: record the active profile, or list the profiles and mark it."""

from __future__ import annotations

import difflib
from typing import Annotated, Optional

import typer

from ..env import Env
from ..errors import BadInput, ConfigError
from ..i18n import _
from ..output import say, warn
from ..text import shown_name
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
        if not profiles:
            raise BadInput(
                _("No profile named {name}, and none is stored yet.").format(name=name),
                fix=[_("Create it by logging in: `metrika login --profile {name}`.").format(name=name)],
            )
        close = [shown_name(found) for found in difflib.get_close_matches(name, sorted(profiles), n=3)]
        fix = [_("Did you mean {names}?").format(names=", ".join(close))] if close else []
        known = sorted(profiles)
        raise BadInput(
            _("No profile named {name}; the profiles are: {names}.").format(
                name=name, names=", ".join(shown_name(found) for found in known)
            )
            if len(known) <= LISTED
            else _("No profile named {name}.").format(name=name),
            fix=[
                *fix,
                _("`metrika switch` lists the stored profiles."),
                _("Or create it by logging in: `metrika login --profile {name}`.").format(name=name),
            ],
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


LISTED = 10  # profiles listed by name; the rest are counted


def list_profiles(env: Env) -> int:
    """One line a profile on stdout, `*` before the one in use: `* default  vasya`; at most LISTED
    (the one in use always among them), then how many more."""
    profiles = env.store.profiles()
    if not profiles:
        say(env, _("No profiles yet: `metrika login` stores the first one."))
        return 0
    try:
        active: str | None = profile_name(env)
    except ConfigError as problem:  # active_profile names no stored profile: list them to choose from
        warn(env, problem.message)
        active = None
    names = sorted(profiles)
    listed = names[:LISTED]
    if active in profiles and active not in listed:
        listed = sorted([*listed[: LISTED - 1], active])
    width = max(len(shown_name(name)) for name in listed)
    for name in listed:
        mark = "*" if name == active else " "
        login = shown_name(profiles[name].login or "")
        say(env, f"{mark} {shown_name(name):<{width}}  {login}".rstrip(), stderr=False)
    if len(names) > len(listed):
        say(
            env,
            _("and {count} more (`metrika status --offline` lists every profile)").format(
                count=len(names) - len(listed)
            ),
        )
    if active is not None and active not in profiles:
        warn(env, _("The profile in use, {name}, is not stored.").format(name=shown_name(active)))
    return 0
