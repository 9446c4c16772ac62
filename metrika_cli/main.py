"""Entry point, dispatch only. `metrika token`, `metrika exec` and `metrika --version` take a lean
path without Typer, Rich or httpx: scripts call them in loops, and those imports cost more than
the keyring read itself. Everything else goes to the app, through one lazy call."""

from __future__ import annotations

import sys

from .env import Env


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


def run_lean_exec(env: Env, profile: str | None, names: list[str], command: list[str]) -> int:
    from .launch import run_with_token
    from .tokens import profile_name

    name = "default"
    try:
        name = profile_name(env, profile)
        return run_with_token(env, name, names, command)
    except BaseException as exc:
        from .output import report_failure
        from .tokens import fix_profile

        return report_failure(env, exc, name, as_json=False, implicit=fix_profile(env))


def run_lean_token(env: Env, profile: str | None, header: bool) -> int:
    from .tokens import print_token, profile_name

    name = "default"
    try:
        name = profile_name(env, profile)
        return print_token(env, name, header)
    except BaseException as exc:
        from .output import report_failure
        from .tokens import fix_profile

        return report_failure(env, exc, name, as_json=False, implicit=fix_profile(env))


def run_app(args: list[str], env: Env) -> int:
    from .app import run

    return run(args, env)


def no_core_dumps() -> None:
    """A crash must not write the token to a core file."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # not on this platform, or not allowed
        pass


def main(argv: list[str] | None = None, env: Env | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if env is None:
        env = Env.from_process()
        no_core_dumps()
    try:
        if args == ["--version"]:
            from . import version_line

            env.stdout.write(version_line())
            env.stdout.flush()
            return 0
        lean = lean_token_args(args)
        lean_exec = None if lean else lean_exec_args(args)
        if lean_exec:
            return run_lean_exec(env, *lean_exec)
        return run_lean_token(env, *lean) if lean else run_app(args, env)
    except Exception as exc:  # a closed or full stdout, above all
        from .output import report_failure

        return report_failure(env, exc, "default", as_json=False)
    except KeyboardInterrupt as exc:
        from .output import report_failure

        return report_failure(env, exc, "default", as_json=False)
