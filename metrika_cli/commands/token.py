"""`metrika token`: the token alone on stdout (the lean path in main.py handles the usual call)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..i18n import _
from ..tokens import chosen_profile, print_token
from .options import ProfileOption


def token(
    ctx: typer.Context,
    profile: ProfileOption = None,
    header: Annotated[
        bool, typer.Option("--header", help=_("Print it as an HTTP header: Authorization: OAuth <token>."))
    ] = False,
) -> int:
    return print_token(ctx.obj, chosen_profile(ctx.obj), header)  # --profile: resolved by the dispatch
