"""The Typer functions of `check-access`, `whoami` and `api`: their options, parsed by Typer, handed
to the commands' `checked_run`. Kept apart so that commands/check_access.py, commands/whoami.py and
commands/api.py import no Typer: main.py's lean path parses a plain call itself and runs them
without Typer or click (tests/test_lean_checks.py and tests/test_lean_api.py prove it reads every
call it takes as this does)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..i18n import _
from . import api as api_command
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


FormOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--form",
        "-F",
        metavar="KEY=VALUE|KEY=@FILE",
        help=_("A multipart/form-data field, or a file to upload with @ (CSV uploads); repeatable."),
    ),
]
OutputOption = Annotated[
    Optional[str],
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help=_("Write the body to FILE as it arrives, with no size limit ('-': standard output)."),
    ),
]


def api(
    ctx: typer.Context,
    path: Annotated[
        str, typer.Argument(metavar="PATH", help=_("A path under METRIKA_API_URL, e.g. /management/v1/counters."))
    ],
    method: Annotated[
        Optional[str],
        typer.Option(
            "--method", "-X", metavar="METHOD", help=_("GET (the default; POST with --form), POST, PUT or DELETE.")
        ),
    ] = None,
    fields: Annotated[
        Optional[list[str]],
        typer.Option(
            "--field",
            "-f",
            metavar="KEY=VALUE",
            help=_("A query parameter (GET, DELETE, or with --input) or a JSON body field (POST, PUT); repeatable."),
        ),
    ] = None,
    input_file: Annotated[
        Optional[str],
        typer.Option("--input", metavar="FILE", help=_("Send the JSON in FILE as the body ('-': standard input).")),
    ] = None,
    form: FormOption = None,
    paginate: Annotated[
        bool, typer.Option("--paginate", help=_("Fetch every page of a list or report: one JSON line per page."))
    ] = False,
    ulogin: Annotated[
        Optional[str], typer.Option("--ulogin", metavar="LOGIN", help=_("Act for this represented account."))
    ] = None,
    include: Annotated[
        bool, typer.Option("--include", "-i", help=_("Print the status line and headers (on stderr) first."))
    ] = False,
    output: OutputOption = None,
    profile: ProfileOption = None,
) -> int:
    # --profile: resolved by app.handles_errors, read from the Env
    return api_command.checked_run(ctx.obj, path, method, fields, input_file, form, paginate, ulogin, include, output)
