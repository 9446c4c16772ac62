"""`metrika exec`'s work: the token put in a command's environment, never on its command line,
then this process replaced by the command, so its signals and exit status are its own.
Standard library only: the lean path in main.py runs it without Typer, Rich or httpx."""

from __future__ import annotations

import re

from .env import Env
from .errors import BadInput, ExitCode
from .i18n import _
from .os_errors import os_reason
from .text import shown
from .tokens import usable_token

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NOT_FOUND, NOT_EXECUTABLE = ExitCode.NOT_FOUND, ExitCode.CANNOT_EXECUTE  # what shells answer


def checked_names(names: list[str]) -> list[str]:
    for name in names:
        if not ENV_NAME.fullmatch(name):
            message = _(
                "--env takes an environment variable name (letters, digits and _, no digit first); got {name!r}."
            )
            raise BadInput(message.format(name=shown(name, 80)))
    return list(dict.fromkeys(["METRIKA_TOKEN", *names]))


def run_with_token(env: Env, profile: str, names: list[str], command: list[str]) -> int:
    """Run `command` with the token in METRIKA_TOKEN and every --env NAME, replacing this process."""
    variables = checked_names(names)
    if not command:
        raise BadInput(_("No command to run: `metrika exec [--env NAME]... -- COMMAND [ARG]...`."))
    token, _profile = usable_token(env, profile)
    environ = {**env.environ, **dict.fromkeys(variables, token.value)}
    for stream in (env.stdout, env.stderr):
        stream.flush()
    try:
        return env.exec(command[0], command, environ)
    except (FileNotFoundError, NotADirectoryError):
        return cannot_run(env, _("{command}: command not found").format(command=shown(command[0], 200)), NOT_FOUND)
    except OSError as exc:  # not executable, a folder, not a program this system runs
        return cannot_run(env, f"{shown(command[0], 200)}: {os_reason(exc)}", NOT_EXECUTABLE)


def cannot_run(env: Env, message: str, code: int) -> int:
    from .output import say

    say(env, _("error: {message}").format(message=message), style="bold red")
    return code
