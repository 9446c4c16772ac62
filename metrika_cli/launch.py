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
# Variables the dynamic loader, a shell or an interpreter acts on: the token in one of them is
# run as code, loaded as a library, or printed by the loader (LD_PRELOAD), or breaks the command.
LOADER_AND_SHELL = re.compile(
    r"LD_.*|DYLD_.*|PYTHON.*|PERL5.*|PERLLIB|RUBYOPT|RUBYLIB|NODE_OPTIONS|NODE_PATH|JAVA_TOOL_OPTIONS"
    r"|GCONV_PATH|PATH|HOME|IFS|BASH_ENV|ENV|PS4|SHELLOPTS|BASHOPTS"
)
NOT_FOUND, NOT_EXECUTABLE = ExitCode.NOT_FOUND, ExitCode.CANNOT_EXECUTE  # what shells answer


def checked_names(names: list[str]) -> list[str]:
    for name in names:
        if not ENV_NAME.fullmatch(name):
            message = _(
                "--env takes an environment variable name (letters, digits and _, no digit first); got {name!r}."
            )
            raise BadInput(message.format(name=shown(name, 80)))
        if LOADER_AND_SHELL.fullmatch(name.upper()):
            raise BadInput(
                _(
                    "--env {name} is refused: the loader, a shell or an interpreter acts on that variable, so the "
                    "token would be run, loaded or shown instead of read."
                ).format(name=name),
                fix=[_("Name a variable the command reads for its token, e.g. `--env YANDEX_METRIKA_TOKEN`.")],
            )
    return list(dict.fromkeys(["METRIKA_TOKEN", *names]))


def run_with_token(env: Env, profile: str, names: list[str], command: list[str]) -> int:
    """Run `command` with the token in METRIKA_TOKEN and every --env NAME, replacing this process."""
    variables = checked_names(names)
    if not command or not command[0]:
        raise BadInput(_("No command to run: `metrika exec [--env NAME]... -- COMMAND [ARG]...`."))
    token, _profile = usable_token(env, profile)
    environ = {**env.environ, **dict.fromkeys(variables, token.value)}
    for stream in (env.stdout, env.stderr):
        stream.flush()
    try:
        return env.exec(command[0], command, environ)
    except (FileNotFoundError, NotADirectoryError):
        return cannot_run(env, _("{command}: command not found").format(command=shown(command[0], 200)), NOT_FOUND)
    except ValueError:  # a NUL byte in an argument: no program can be given it
        raise BadInput(_("The command or one of its arguments holds a NUL character.")) from None
    except OSError as exc:  # not executable, a folder, not a program this system runs
        return cannot_run(env, f"{shown(command[0], 200)}: {os_reason(exc)}", NOT_EXECUTABLE)


def cannot_run(env: Env, message: str, code: int) -> int:
    from .output import say

    say(env, _("error: {message}").format(message=message), style="bold red")
    return code
