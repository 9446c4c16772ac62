"""The texts of click and Typer that a metrika user can see, spelled exactly as they spell them.

Nothing imports this module to run: it is here so that `python scripts/i18n.py extract` puts
these texts in metrika's catalog. i18n.py routes click's and Typer's gettext lookups through
that catalog, so a Russian user reads Russian help and usage errors. A msgid must equal the
library's text byte for byte (tests/test_i18n.py checks each one against the installed sources).
"""

from __future__ import annotations

from .i18n import N_


def ngettext(singular: str, plural: str, n: int = 2) -> tuple[str, str]:
    """Mark a plural pair the way click asks for it (scripts/i18n.py looks for this name)."""
    return singular, plural


CLICK = (
    # help: click/formatting.py, click/core.py, click/decorators.py
    N_("Usage:"),
    N_("Options"),
    N_("Commands"),
    N_("Positional arguments"),
    N_("Show this message and exit."),
    N_("default: {default}"),
    N_("env var: {var}"),
    N_("(dynamic)"),
    # usage errors: click/exceptions.py, click/parser.py, click/core.py (their "Error: {message}"
    # is shown as metrika's own "error: {message}": i18n.py)
    N_("Try '{command} {option}' for help."),
    N_("No such option {name!r}."),
    N_("No such command {name!r}."),
    N_("Missing command."),
    N_("Missing argument"),
    N_("Missing option"),
    N_("Missing parameter"),
    N_("Missing parameter: {param_name}"),
    N_("Missing {param_type}"),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Invalid value: {message}"),
    N_("Option {name!r} does not take a value."),
    N_("Aborted!"),
    # a completion script sourced in an old bash: click/shell_completion.py
    N_("Shell completion is not supported for Bash versions older than 4.4."),
    N_("Couldn't detect Bash version, shell completion is not supported."),
)

CLICK_PLURALS = (
    ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)"),
    ngettext("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."),
    ngettext("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"),
)

TYPER = (
    # plain help: typer/core.py
    N_("Arguments"),
    N_("required"),
    # rich help and errors: typer/rich_utils.py (module constants, translated at its import)
    N_("[default: {}]"),
    N_("[env var: {}]"),
    N_("[required]"),
    N_("Error"),
    N_("Aborted."),
    N_("Try [blue]'{command_path} {help_option}'[/] for help."),
)
