"""`metrika exec`: run a command with the token in its environment (the lean path in main.py
handles the usual call; this is the same work through the app, for --help and odd spellings)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..env import Env
from ..i18n import _
from ..launch import run_with_token
from ..tokens import chosen_profile
from .options import ProfileOption

# `metrika exec -- ls -la`, and `metrika exec ls -la` alike: options end at the command's name.
CONTEXT_SETTINGS = {"allow_interspersed_args": False}
MAX_COMMANDS = 2000  # what Tab offers at most, as a shell's own command completion would


def complete_command(ctx: typer.Context, incomplete: str) -> list[str]:
    """Tab after `metrika exec --`: the programs on PATH, as the shell completes a command name;
    after the command's name nothing, so the shell offers file names. Never fails."""
    import os

    if ctx.params.get("command"):
        return []
    found: set[str] = set()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        try:
            with os.scandir(folder or ".") as entries:
                found.update(
                    entry.name
                    for entry in entries
                    if entry.name.startswith(incomplete) and entry.is_file() and os.access(entry.path, os.X_OK)
                )
        except OSError:
            continue
    return sorted(found)[:MAX_COMMANDS]


def exec_command(
    ctx: typer.Context,
    command: Annotated[
        list[str],
        typer.Argument(
            metavar="-- COMMAND [ARG]...",
            help=_("The command to run, and its arguments."),
            autocompletion=complete_command,
        ),
    ],
    env_names: Annotated[
        Optional[list[str]],
        typer.Option(
            "--env",
            metavar="NAME",
            help=_("Also put the token in this environment variable (repeatable); METRIKA_TOKEN always."),
        ),
    ] = None,
    profile: ProfileOption = None,
) -> int:
    env: Env = ctx.obj
    return run_with_token(env, chosen_profile(env), env_names or [], command)  # --profile: resolved
