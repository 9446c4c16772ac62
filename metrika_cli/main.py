"""Entry point. `metrika token` and `metrika --version` take a lean path without Typer, Rich or
httpx: scripts call them in loops, and those imports cost more than the keyring read itself."""

from __future__ import annotations

import sys

from .errors import ExitCode, MetrikaError, NoToken, TokenMalformed


def shadow_warning(store, name, token, profile) -> None:  # type: ignore[no-untyped-def]
    """An environment token that hides a different stored one is worth a line on stderr."""
    if not token.source.startswith("env:") or not profile.storage:
        return
    try:
        stored = store.stored_token(name, profile)
    except MetrikaError:
        return
    if stored and stored.value != token.value:
        from .i18n import _
        from .output import fingerprint, warn  # not on `metrika token`'s usual path: it costs start-up

        warn(_("{source} ({fp}) is used instead of the token stored for profile {profile} ({stored}).").format(
            source=token.source[4:], fp=fingerprint(token.value), profile=name, stored=fingerprint(stored.value)))


def print_token(profile: str, header: bool) -> int:
    """Print the token in use: the only place metrika ever prints one. Returns the exit code."""
    from .i18n import _
    from .oauth import describe_problem, token_problem
    from .store import Store, resolve_token

    store = Store()
    token, saved = resolve_token(store, profile)
    if token is None:
        raise NoToken(_("No token for profile {profile}: run `metrika login` (or set METRIKA_TOKEN).").format(
            profile=profile))
    shadow_warning(store, profile, token, saved)
    problem = token_problem(token.value)
    if problem:
        raise TokenMalformed(_("The token from {source} cannot be a token: {reason}.").format(
            source=token.source, reason=describe_problem(problem)))
    print(f"Authorization: OAuth {token.value}" if header else token.value, flush=True)
    return 0


def _lean_token_args(args: list[str]) -> tuple[str, bool] | None:
    """(profile, header) when the call is a plain `metrika token [--header] [--profile NAME]`."""
    import os

    if not args or args[0] != "token":
        return None
    profile, header, rest = os.environ.get("METRIKA_PROFILE") or "default", False, args[1:]
    while rest:
        arg = rest.pop(0)
        if arg == "--header":
            header = True
        elif arg == "--profile" and rest:
            profile = rest.pop(0)
        elif arg.startswith("--profile="):
            profile = arg.split("=", 1)[1]
        else:
            return None
    return profile, header


def _run_lean_token(profile: str, header: bool) -> int:
    from .i18n import _
    from .store import PROFILE_PATTERN

    try:
        if not PROFILE_PATTERN.fullmatch(profile):
            return _run_app(["token", "--profile", profile])  # the full app words the error
        return print_token(profile, header)
    except MetrikaError as exc:
        print(_("error: {message}").format(message=exc.message), file=sys.stderr)
        if exc.fix:
            print("  " + exc.fix[0], file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)


def _run_app(args: list[str]) -> int:
    import os

    import click
    import typer

    from .cli import app

    command = typer.main.get_command(app)
    if "_METRIKA_COMPLETE" in os.environ:
        # `_METRIKA_COMPLETE=source_bash metrika` (and complete_bash, zsh, fish, powershell):
        # app sets add_completion=False, so Typer's completion classes are registered here.
        from typer._completion_classes import completion_init

        completion_init()
    try:
        result = command.main(args, prog_name="metrika", standalone_mode=False)
    except click.UsageError as exc:
        if "--json" in args:
            from .output import base_document, emit_json

            profile = os.environ.get("METRIKA_PROFILE") or "default"
            emit_json(base_document("bad_input", ExitCode.BAD_INPUT, profile, exc.format_message(), []))
        else:
            exc.show()
        return int(ExitCode.BAD_INPUT)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        print(file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    return result if isinstance(result, int) else 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        from . import __version__

        print(f"metrika {__version__}")
        return 0
    try:
        lean = _lean_token_args(args)
        return _run_lean_token(*lean) if lean else _run_app(args)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
