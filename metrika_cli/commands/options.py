"""Options that several commands share, declared once."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..i18n import _


def complete_profiles(ctx: typer.Context, incomplete: str) -> list[str]:
    """The stored profiles' names, for the shell's Tab after --profile and `switch`; never fails.
    A hand-edited name that --profile would refuse (a newline, an escape sequence) is not offered:
    it would reach the shell's completion protocol raw, and could not be used anyway."""
    try:
        from ..env import Env
        from ..store import PROFILE_PATTERN

        env = ctx.find_root().obj
        store = (env if isinstance(env, Env) else Env.from_process()).store
        return [
            name for name in sorted(store.profiles()) if name.startswith(incomplete) and PROFILE_PATTERN.fullmatch(name)
        ]
    except Exception:
        return []


ProfileOption = Annotated[
    Optional[str],
    typer.Option(
        "--profile",
        show_envvar=False,
        metavar="NAME",
        help=_("Profile to use (env: METRIKA_PROFILE)."),
        autocompletion=complete_profiles,
    ),
]
ExpiringWithinOption = Annotated[
    Optional[int],
    typer.Option(
        "--expiring-within",
        min=0,
        metavar="DAYS",
        help=_("Diagnose token_expiring (exit 4) when the token has fewer days left than DAYS."),
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help=_("Print one JSON object on stdout, for scripts."))]
ClientIdOption = Annotated[
    Optional[str],
    typer.Option(
        "--client-id", metavar="ID", help=_("Your app's ClientID, 32 hex characters (env: METRIKA_CLIENT_ID).")
    ),
]


def checked_scopes(values: Optional[list[str]]) -> Optional[list[str]]:
    """--scope takes Metrika's rights only: anything else is a usage error (2) before anything opens."""
    from ..oauth import scope_problem

    for value in values or []:
        problem = scope_problem(value)
        if problem:
            raise typer.BadParameter(problem)
    return values


ScopeOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--scope",
        metavar="SCOPE",
        help=_("Ask for this right only, e.g. metrika:read (repeatable)."),
        callback=checked_scopes,
    ),
]
LoginHintOption = Annotated[
    Optional[str],
    typer.Option("--login-hint", metavar="LOGIN", help=_("Pre-fill this Yandex login on the consent page.")),
]
ForceConfirmOption = Annotated[
    bool, typer.Option("--force-confirm", help=_("Always show the consent page (lets you switch account)."))
]
