"""Entry point, dispatch only. `metrika token`, `metrika exec` and `metrika --version` take a lean
path without Typer, Rich or httpx: scripts call them in loops, and those imports cost more than
the keyring read itself. A plain `check-access` (`check`) or `whoami` is parsed here too, and run
without Typer, click or Rich. Everything else goes to the app, through one lazy call."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .env import Env

if TYPE_CHECKING:
    from collections.abc import Callable

# The options of the commands the lean path runs without Typer: flags, then options with a value
# (and the name of the parameter each fills, as in the Typer function); whether COUNTER_IDs follow.
CHECK_ACCESS = ({"--json": "as_json"}, {"--profile": "profile", "--need": "need", "--login": "login_name"}, True)
WHOAMI = ({"--json": "as_json"}, {"--profile": "profile"}, False)
LEAN_COMMANDS = {"check-access": CHECK_ACCESS, "check": CHECK_ACCESS, "whoami": WHOAMI}
DEFAULTS: dict[str, dict[str, Any]] = {
    "check-access": {"counter_ids": [], "profile": None, "need": "read", "login_name": None, "as_json": False},
    "whoami": {"profile": None, "as_json": False},
}


def lean_token_args(args: list[str]) -> tuple[str | None, bool] | None:
    """(profile option, header) when the call is a plain `metrika [--profile N] token [--header] [--profile N]`."""
    profile, header, seen_token, rest = None, False, False, list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "token" and not seen_token:
            seen_token = True
        elif arg == "--header" and seen_token:
            header = True
        elif arg == "--profile" and rest:
            profile = rest.pop(0)
        elif arg.startswith("--profile="):
            profile = arg.split("=", 1)[1]
        else:
            return None
    return (profile, header) if seen_token else None


def lean_exec_args(args: list[str]) -> tuple[str | None, list[str], list[str]] | None:
    """(profile option, --env names, command) when the call is a plain
    `metrika [--profile N] exec [--profile N] [--env NAME]... [--] COMMAND [ARG]...`."""
    profile: str | None = None
    names: list[str] = []
    rest, seen_exec = list(args), False
    while rest:
        arg = rest.pop(0)
        if arg in ("--profile", "--env") and rest and (seen_exec or arg == "--profile"):
            value = rest.pop(0)
            profile, names = (value, names) if arg == "--profile" else (profile, [*names, value])
        elif arg.startswith("--profile="):
            profile = arg.split("=", 1)[1]
        elif arg.startswith("--env=") and seen_exec:
            names.append(arg.split("=", 1)[1])
        elif arg == "exec" and not seen_exec:
            seen_exec = True
        elif seen_exec and (arg == "--" or not arg.startswith("-")):
            command = rest if arg == "--" else [arg, *rest]
            return (profile, names, command) if command else None
        else:
            return None
    return None


def lean_global_profile(rest: list[str]) -> tuple[str | None, bool]:
    """Take `--profile N` / `--profile=N` off the front of `rest`: (the last one's value, all plain)."""
    profile = None
    while rest and rest[0].startswith("--profile"):
        arg = rest.pop(0)
        if arg.startswith("--profile="):
            profile = arg.split("=", 1)[1]
        elif arg == "--profile" and rest and not rest[0].startswith("-"):
            profile = rest.pop(0)
        else:
            return None, False
    return profile, True


def lean_check_args(args: list[str]) -> tuple[str, str | None, dict[str, Any]] | None:
    """(command, global --profile, the command's parameters as its Typer function gets them) when
    the call is a plain `metrika [--profile N] check-access|check|whoami [OPTION|COUNTER_ID]...`
    made only of words this knows exactly; else None, and the app parses it (help, errors, completion)."""
    rest = list(args)
    global_profile, plain = lean_global_profile(rest)
    if not (plain and rest and rest[0] in LEAN_COMMANDS):
        return None
    command = "whoami" if rest[0] == "whoami" else "check-access"
    flags, valued, takes_ids = LEAN_COMMANDS[rest.pop(0)]
    params: dict[str, Any] = {**DEFAULTS[command], "expiring_within": None}
    while rest:
        arg = rest.pop(0)
        name, equals, value = arg.partition("=")
        if arg in flags:
            params[flags[arg]] = True
        elif name in (*valued, "--expiring-within") and (equals or (rest and not rest[0].startswith("-"))):
            value = value if equals else rest.pop(0)
            if name != "--expiring-within":
                params[valued[name]] = value
            elif value.isascii() and value.isdigit():  # what click's IntRange(min=0) takes as it is
                params["expiring_within"] = int(value)
            else:
                return None
        elif takes_ids and arg == "--":
            params["counter_ids"] = [*params["counter_ids"], *rest]
            break
        elif takes_ids and not arg.startswith("-"):
            params["counter_ids"] = [*params["counter_ids"], arg]
        else:
            return None
    return command, global_profile, params


def run_lean_check(env: Env, command: str, global_profile: str | None, params: dict[str, Any]) -> int:
    """check-access or whoami without Typer."""

    def check() -> int:
        if command == "whoami":
            from .commands.whoami import checked_run

            return checked_run(env, **params)
        from .commands.check_access import checked_run as check_access

        return check_access(env, **params)

    return run_lean(env, global_profile, params.pop("profile"), params.pop("as_json"), check)


def run_lean(env: Env, global_profile: str | None, profile: str | None, as_json: bool, run: Callable[[], int]) -> int:
    """A command the lean path read, run as the app's handles_errors runs one: METRIKA_DEADLINE
    counted from here (a bad value refused now), the profile resolved once, before the command;
    any failure shown as the app shows it."""
    from .tokens import command_failed, resolve_profile

    env.global_profile = global_profile
    env.profile_option, env.as_json = profile, as_json
    try:
        env.time_left()
        resolve_profile(env)
        return run()
    except BaseException as exc:
        return command_failed(env, exc)


# `metrika api`'s words the lean path reads as the Typer function does (the parameter each fills);
# --input, --form, short options run together or with a value attached, -h: the app's.
API_FLAGS = {"--include": "include", "-i": "include", "--paginate": "paginate"}
API_VALUED = {
    "--output": "output",
    "-o": "output",
    "--field": "fields",
    "-f": "fields",
    "--method": "method",
    "-X": "method",
    "--ulogin": "ulogin",
    "--profile": "profile",
}
API_DEFAULTS: dict[str, Any] = {
    "method": None,
    "fields": None,
    "input_file": None,
    "form": None,
    "paginate": False,
    "ulogin": None,
    "include": False,
    "output": None,
    "profile": None,
}


def lean_api_args(args: list[str]) -> tuple[str | None, dict[str, Any]] | None:
    """(global --profile, the parameters as `metrika api`'s Typer function gets them) when the call
    is a plain `metrika [--profile N] api PATH [OPTION]...` made only of words this knows exactly;
    else None, and the app parses it. A download's start-up then costs no Typer, click or Rich."""
    rest = list(args)
    global_profile, plain = lean_global_profile(rest)
    if not (plain and rest[:1] == ["api"]):
        return None
    rest.pop(0)
    params: dict[str, Any] = {**API_DEFAULTS, "path": None}
    while rest:
        arg = rest.pop(0)
        name, equals, value = arg.partition("=")
        if arg in API_FLAGS:
            params[API_FLAGS[arg]] = True
        elif (arg in API_VALUED and rest) or (name.startswith("--") and name in API_VALUED and equals):
            value = value if equals else rest.pop(0)
            if value.startswith("-") and value != "-" and not equals:
                return None  # click would take it as the value: the app says what it makes of it
            key = API_VALUED[name]
            params[key] = [*(params[key] or []), value] if key == "fields" else value
        elif params["path"] is None and arg and not arg.startswith("-"):
            params["path"] = arg
        else:
            return None
    return (global_profile, params) if params["path"] is not None else None


def run_lean_api(env: Env, global_profile: str | None, params: dict[str, Any]) -> int:
    """`metrika api` without Typer."""

    def api() -> int:
        from .commands.api import checked_run

        return checked_run(env, **params)

    return run_lean(env, global_profile, params.pop("profile"), False, api)


def run_lean_exec(env: Env, profile: str | None, names: list[str], command: list[str]) -> int:
    from .launch import run_with_token
    from .tokens import command_failed, resolve_profile

    env.profile_option = profile
    try:
        return run_with_token(env, resolve_profile(env), names, command)
    except BaseException as exc:
        return command_failed(env, exc)


def run_lean_token(env: Env, profile: str | None, header: bool) -> int:
    from .tokens import command_failed, print_token, resolve_profile

    env.profile_option = profile
    try:
        return print_token(env, resolve_profile(env), header)
    except BaseException as exc:
        return command_failed(env, exc)


def run_app(args: list[str], env: Env) -> int:
    from .i18n import load, speaking

    with speaking(load("en")):  # the app's help texts stay msgids: it translates them as shown
        from .app import run

    return run(args, env)


def no_core_dumps(for_exec: bool) -> tuple[int, int] | None:
    """A crash must not write the token to a core file: the limit goes to 0, the hard one too
    (nothing can raise it again), except where `metrika exec` may run a command: that command
    gets back the limits found, which are returned."""
    try:
        import resource

        found = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, found[1] if for_exec else 0))
        return found
    except (ImportError, ValueError, OSError):  # not on this platform, or not allowed
        return None


def no_httpx_command_line() -> None:
    """`import httpx` imports httpx's own command line whenever Rich, click and Pygments are
    installed (they are: Typer needs them), about a third of a check's start-up; metrika never
    runs it. None in sys.modules makes that import fail, and httpx then defines a stub instead."""
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def main(argv: list[str] | None = None, env: Env | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    no_httpx_command_line()
    if env is None:
        env = Env.from_process()
        env.core_limit = no_core_dumps(for_exec="exec" in args)
    if args == ["--version"]:  # before the language: no catalog read for it
        try:
            from . import version_line

            env.stdout.write(version_line())
            env.stdout.flush()
            return 0
        except Exception as exc:  # a closed or full stdout
            return failed(env, exc)
    with env.speaking():
        return dispatch(args, env)


def dispatch(args: list[str], env: Env) -> int:
    env.profile, env.profiles = None, None  # resolved by the path taken: nothing of an earlier run of this Env
    try:
        lean = lean_token_args(args)
        lean_exec = None if lean else lean_exec_args(args)
        if lean_exec:
            return run_lean_exec(env, *lean_exec)
        if lean:
            return run_lean_token(env, *lean)
        check = None if "_METRIKA_COMPLETE" in env.environ else lean_check_args(args)
        api = None if check or "_METRIKA_COMPLETE" in env.environ else lean_api_args(args)
        if api:
            return run_lean_api(env, *api)
        return run_lean_check(env, *check) if check else run_app(args, env)
    except Exception as exc:  # a closed or full stdout, above all
        return failed(env, exc)
    except KeyboardInterrupt as exc:
        return failed(env, exc)


def failed(env: Env, exc: BaseException) -> int:
    from .output import report_failure

    with env.speaking():
        return report_failure(env, exc, "default", as_json=False)
