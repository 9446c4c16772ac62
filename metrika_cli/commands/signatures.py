"""The Typer functions of `check-access` and `whoami`: their options, parsed by Typer, handed to
the commands' `checked_run`. Kept apart so that commands/check_access.py and commands/whoami.py
import no Typer: main.py's lean path parses a plain call itself and runs them without Typer or
click (tests/test_lean_checks.py proves it reads every call it takes as this does)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..i18n import _
from . import check_access as check_access_command
from . import whoami as whoami_command
from .options import ExpiringWithinOption, JsonOption, ProfileOption


def check_access(
    ctx: typer.Context,
    counter_ids: Annotated[
        Optional[list[str]], typer.Argument(metavar="[COUNTER_ID]...", help=_("Counters to check access to."))
    ] = None,
    profile: ProfileOption = None,
    need: Annotated[
        str,
        typer.Option(
            "--need",
            metavar="read|write",
            autocompletion=lambda: ["read", "write"],
            help=_("Access level to require on the counters."),
        ),
    ] = "read",
    login_name: Annotated[
        Optional[str], typer.Option("--login", metavar="LOGIN", help=_("The account the token must belong to."))
    ] = None,
    as_json: JsonOption = False,
    expiring_within: ExpiringWithinOption = None,
) -> int:
    # --profile and --json: resolved by app.handles_errors, read from the Env
    return check_access_command.checked_run(ctx.obj, counter_ids, need, login_name, expiring_within)


def whoami(
    ctx: typer.Context,
    profile: ProfileOption = None,
    as_json: JsonOption = False,
    expiring_within: ExpiringWithinOption = None,
) -> int:
    return whoami_command.checked_run(ctx.obj, expiring_within)  # --profile and --json: on the Env
