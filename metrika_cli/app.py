"""The Typer app: global options, the commands in their rooms, and the one path from any
outcome to a message (or one JSON object) and an exit code. The only module that builds the app."""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable
from typing import Annotated, Any

import click
import typer

from . import version_line
from .commands import auth_url, completion, exec_, login, logout, refresh, signatures, status, switch, token
from .commands.options import ProfileOption
from .env import Env
from .errors import BadInput, Diagnosis
from .i18n import _, load, speaking
from .output import CLOSED_OUTPUT, base_document, emit_json, redact, report_failure
from .text import looks_like_token
from .tokens import command_failed, reported_profile, resolve_profile, resolve_profiles

app = typer.Typer(
    name="metrika",
    help=_("Get, keep and diagnose Yandex Metrika API OAuth tokens."),
    add_completion=False,
    pretty_exceptions_enable=False,  # a pretty traceback would show local variables: tokens
    context_settings={"help_option_names": ["-h", "--help"]},
    # click 8.4+ suggests close command names itself, through gettext (so in Russian too);
    # Typer's suggestion is English only and would say the same thing twice.
    suggest_commands=not hasattr(click, "NoSuchCommand"),
)


def _version(ctx: typer.Context, value: bool) -> None:
    if value:
        ctx.obj.stdout.write(version_line())
        raise typer.Exit()


@app.callback(help=_("Get, keep and diagnose Yandex Metrika API OAuth tokens."))
def main_callback(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help=_("Show the version and exit."))
    ] = False,
    profile: ProfileOption = None,
) -> None:
    ctx.obj.global_profile = profile  # checked with the command's, by handles_errors (resolve_profile)


def resolve_profiles_given(env: Env, options: dict[str, Any]) -> None:
    """A command with a --profile NAME acts on that one profile (or the one metrika picks without
    it), except `logout --all`; status and refresh take many (`profiles`: those named, checked),
    except `refresh --all`; switch names its own."""
    if options.get("all_profiles"):
        return
    if "profile" in options:
        resolve_profile(env)
    elif "profiles" in options:
        resolve_profiles(env, options["profiles"])


def handles_errors(command: Callable[..., int]) -> Callable[..., None]:
    """Every outcome of a command becomes its exit code; a failure, a message or one JSON object.
    The command line's --profile and --json are resolved here, once, before the command runs: the
    profile (checked) in `env.profile` (`env.profiles` for status and refresh), the output mode
    in `env.as_json`."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        env: Env = click.get_current_context().obj
        env.profile_option, env.as_json = kwargs.get("profile"), bool(kwargs.get("as_json", False))
        try:
            env.time_left()  # METRIKA_DEADLINE counts from here (and a bad value is refused now)
            resolve_profiles_given(env, kwargs)
            code = command(*args, **kwargs)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BaseException as exc:  # the last line of defence: a message, not a traceback
            code = command_failed(env, exc)
        raise typer.Exit(int(code))

    return wrapper


def _register(name: str, function: Callable[..., int], help: str, hidden: bool = False, **settings: Any) -> None:
    app.command(name, help=help, hidden=hidden, **settings)(handles_errors(function))


_register("login", login.login, _("Get a token through your app and store it in the OS keyring."))
_register(
    "auth-url",
    auth_url.auth_url,
    _(
        "Print the authorize URL alone on stdout (to send to a client, or open elsewhere). It asks for a "
        "token (the token flow), not a code: the link usually goes to someone else, who sends back what the "
        "page shows, and a code would need this machine's PKCE verifier and lives only 10 minutes."
    ),
)
_register("token", token.token, _("Print the stored token (the only command that ever prints it)."))
_register("logout", logout.logout, _("Forget the stored token and the profile's metadata."))
_register(
    "refresh",
    refresh.refresh,
    _("Renew tokens before they expire, with their refresh tokens (the current profile, those named, or --all)."),
)
_register(
    "whoami", signatures.whoami, _("Who the token belongs to, which app issued it, where it is kept, when it expires.")
)
CHECK_ACCESS_HELP = _("Run the API checks and say exactly why a token does not work, with the fix (alias: check).")
_register("check-access", signatures.check_access, CHECK_ACCESS_HELP)
_register("check", signatures.check_access, CHECK_ACCESS_HELP, hidden=True)
_register(
    "status",
    status.status,
    _("Check every stored profile at once (or those named): one line each, then a count."),
)
_register("switch", switch.switch, _("Make a profile the active one; without NAME, list the profiles."))
_register("completion", completion.completion, _("Print the completion script for bash, zsh, fish or powershell."))
_register(
    "api",
    signatures.api,
    _("Call the Metrika API with the token in use, never shown; a call that fails says why, with the fix."),
)
_register(
    "exec",
    exec_.exec_command,
    _("Run a command with the token in its environment (METRIKA_TOKEN), never on its command line."),
    context_settings=exec_.CONTEXT_SETTINGS,
)


def wants_json(exc: click.UsageError, args: list[str]) -> bool:
    """--json given to a command that takes it (`token --json` is the usage error itself), before
    any `--` (after it, the words belong to the command `exec` runs)."""
    options = args[: args.index("--")] if "--" in args else args
    if "--json" not in options:
        return False
    # click names no command for some errors (an option without its value): --json then counts
    return exc.ctx is None or any("--json" in param.opts for param in exc.ctx.command.params)


def usage_error(env: Env, exc: click.UsageError, args: list[str]) -> int:
    """Exit 2 with click's words, where any argument that looks like a token shows as its fingerprint."""
    for arg in args:
        if looks_like_token(arg.strip()):
            env.secrets.add(arg)
    if wants_json(exc, args):
        emit_json(env, base_document(Diagnosis.BAD_INPUT, reported_profile(env), exc.format_message(), []))
    else:
        text = io.StringIO()
        exc.show(file=text)
        env.stderr.write(redact(env, text.getvalue()))
    return int(BadInput.diagnosis.exit_code)


@functools.cache
def click_command() -> click.Command:
    """The app as click sees it: built once a process (it costs more than most commands take), in
    English: the help texts in the commands' signatures are read now, and `translate_help` shows
    them in each run's language."""
    with speaking(load("en")):
        command = typer.main.get_command(app)
    assert isinstance(command, click.Group)
    restore_argument_help(command)
    return command


@functools.cache
def help_texts() -> list[tuple[object, str, str]]:
    """Every help text of the app, as written: main.py imports the app in English, so these are
    msgids, and each run shows them in its own language (`translate_help`)."""
    group = click_command()
    assert isinstance(group, click.Group)
    found = []
    for command in [group, *group.commands.values()]:
        for target in [command, *command.params]:
            for attribute in ("help", "short_help", "epilog"):
                value = getattr(target, attribute, None)
                if isinstance(value, str) and value:
                    found.append((target, attribute, value))
    return found


def translate_help(translate: Callable[[str], str]) -> None:
    """Every help text through `translate`: `_` for a run; `str` puts the msgids back after it."""
    for target, attribute, msgid in help_texts():
        setattr(target, attribute, translate(msgid))
    group = click_command()
    assert isinstance(group, click.Group)
    for command in [group, *group.commands.values()]:
        help_option = getattr(command, "_help_option", None)  # click keeps it, worded at its first use
        if isinstance(help_option, click.Option):
            help_option.help = translate("Show this message and exit.")


def restore_argument_help(group: click.Group) -> None:
    """Typer sets an argument's help, then newer click (whose Argument takes a help of its own)
    sets it to None, so `--help` showed COUNTER_ID, NAME, PATH… with no words: put Typer's back."""
    for info in app.registered_commands:
        declared = typer.utils.get_params_from_function(info.callback)  # type: ignore[arg-type]
        for param in group.commands[str(info.name)].params:
            meta = declared.get(param.name or "")
            if isinstance(param, click.Argument) and meta and isinstance(meta.default, typer.models.ArgumentInfo):
                param.help = meta.default.help
                # Typer's help panel names an argument by its Python name (`counter_ids`) beside its
                # metavar: show the name as the usage line does (PATH), or the metavar alone when it
                # says more ([COUNTER_ID]...).
                named = param.metavar is None or param.metavar == (param.name or "").upper()
                param.opts = [(param.name or "").upper()] if named else []


def run(args: list[str], env: Env) -> int:
    """Run the app on `args` with its help texts in the run's language (msgids again after it)."""
    translate_help(_)
    try:
        return run_command(click_command(), args, env)
    finally:
        translate_help(str)


def run_command(command: click.Command, args: list[str], env: Env) -> int:
    """Usage errors are exit 2 (one JSON object with --json)."""
    if "_METRIKA_COMPLETE" in os.environ:
        # `_METRIKA_COMPLETE=source_bash metrika` (and complete_bash, zsh, fish, powershell):
        # app sets add_completion=False, so the completion classes are registered here.
        from .commands.completion import register_shells

        register_shells()
    elif not args:
        # Bare `metrika` asks for nothing, so nothing failed: its help on stdout and exit 0, as gh
        # does (click's no_args_is_help exits 2). An option without a command stays a usage error.
        args = ["--help"]
    try:
        result = command.main(args, prog_name="metrika", standalone_mode=False, obj=env)
    except click.UsageError as exc:
        return usage_error(env, exc, args)
    except click.ClickException as exc:
        exc.show(file=env.stderr)
        return exc.exit_code
    except SystemExit as exc:
        if "_METRIKA_COMPLETE" in os.environ:  # click's completion mode answers, then exits
            return exc.code if isinstance(exc.code, int) else 0
        env.silence_stdout()  # rich and Typer exit so when standard output is closed (`| head`)
        return CLOSED_OUTPUT
    except BaseException as exc:  # an interrupt, or a failure before any command ran
        failure = KeyboardInterrupt() if isinstance(exc, click.Abort) else exc
        return report_failure(env, failure, "default", "--json" in args)
    return result if isinstance(result, int) else 0
