"""Human and JSON rendering, fingerprints and redaction. The only module that imports rich
(lazily, and only for colour on a terminal: `metrika token` must stay lean)."""

from __future__ import annotations

import contextlib
import errno
import json
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

from .errors import Diagnosis, ExitCode, Failed, Interrupted, MetrikaError
from .i18n import _
from .keyrings import backend_id, backend_path
from .os_errors import os_reason
from .text import escape_controls, fingerprint, with_profile

if TYPE_CHECKING:
    from .diagnose import Verdict
    from .env import Env


def redact(env: Env, text: str) -> str:
    """One value (a message, a cell, a JSON string) with every secret and token shape hidden."""
    return env.secrets.redact(text)


def redacted(env: Env, value: Any) -> Any:
    """A JSON document with each string in it redacted, keys included: the values, never the
    rendered text (a search through `"schema": 1` must not find a secret "1")."""
    if isinstance(value, str):
        return redact(env, value)
    if isinstance(value, dict):
        return {redacted(env, key): redacted(env, item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(env, item) for item in value]
    return value


def for_terminal(env: Env, text: str) -> str:
    """Redacted, and with control characters escaped: text from a server or a file cannot drive the terminal."""
    return escape_controls(redact(env, text))


def _console(env: Env, stderr: bool) -> Any:
    from rich.console import Console

    return Console(
        file=env.stderr if stderr else env.stdout,
        highlight=False,
        markup=False,
        soft_wrap=True,
        emoji=False,
        force_terminal=True,
    )


def say(env: Env, text: str = "", style: str | None = None, stderr: bool = True) -> None:
    """One line for a person; styled only on a colour terminal."""
    text = for_terminal(env, text)
    if style and env.colour(stderr):
        _console(env, stderr).print(text, style=style)
        return
    stream = env.stderr if stderr else env.stdout
    stream.write(text + "\n")
    stream.flush()


def describe_storage(env: Env, storage: str | None) -> str:
    """Where a stored token is, for whoami: `keyring: Secret Service (service metrika-cli)`, `file: PATH`."""
    if storage == "file":
        return f"file: {env.store.credentials_path}"
    return f"keyring: {keyring_place(env)}"


def stored_where(env: Env, storage: str | None) -> str:
    """The sentence login ends with: where the token went."""
    if storage == "file":
        return _("Stored in plain text in {path}.").format(path=env.store.credentials_path)
    return _("Stored in the keyring: {place}.").format(place=keyring_place(env))


def keyring_place(env: Env) -> str:
    """The keyring backend really in use (keyrings.alt's plain-text file is no OS keyring), and the service."""
    backend, service = env.store.keyring.describe(), env.store.keyring.service
    if backend is None:
        return _("service {service}").format(service=service)
    return _("{backend} (service {service})").format(backend=backend, service=service)


def storage_document(env: Env, storage: str | None) -> dict[str, str | None] | None:
    """whoami's `storage` in JSON: the kind, the keyring backend's class and the file it uses, if any."""
    if storage == "file":
        return {"kind": "file", "backend": None, "path": str(env.store.credentials_path)}
    if storage != "keyring":
        return None
    backend = env.store.keyring.loaded()
    return {
        "kind": "keyring",
        "backend": backend_id(backend) if backend is not None else None,
        "path": backend_path(backend) if backend is not None else None,
    }


def warn(env: Env, text: str) -> None:
    say(env, _("warning: {message}").format(message=text), style="yellow")


def steps(env: Env, fix: list[str], stderr: bool = True) -> None:
    if fix:
        say(env, _("What to do:"), style="bold", stderr=stderr)
        for number, step in enumerate(fix, 1):
            say(env, f"  {number}. {step}", stderr=stderr)


def output_is_full(exc: BaseException) -> TypeGuard[OSError]:
    """Standard output cannot take more (`> /dev/full`, a full disk or quota)."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def failure_of(env: Env, exc: BaseException) -> MetrikaError:
    """Any way a command can end badly, as a MetrikaError; never a bare traceback."""
    if isinstance(exc, MetrikaError):
        return exc
    if output_is_full(exc):
        env.silence_stdout()
        return MetrikaError(_("Cannot write the output: {error}.").format(error=os_reason(exc)))
    if isinstance(exc, KeyboardInterrupt):
        env.stderr.write("\n")
        return Interrupted(_("Interrupted."))
    frame = exc.__traceback__
    while frame and frame.tb_next:
        frame = frame.tb_next
    where = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else "?"
    if env.debug:
        import traceback

        env.stderr.write(redact(env, "".join(traceback.format_exception(exc))))
    return MetrikaError(
        _("Unexpected error {kind} at {where}.").format(kind=exc.__class__.__name__, where=where),
        [_("Please report it with the output of the same command run with METRIKA_DEBUG=1.")],
    )


def report_failure(env: Env, exc: BaseException, profile: str, as_json: bool, implicit: str | None = None) -> int:
    """The one way a failure is shown, by the lean path and the app alike; returns the exit code.
    `implicit`: the profile metrika picks without --profile; when given, every command the
    message names carries `--profile PROFILE` unless PROFILE is that one."""
    if isinstance(exc, BrokenPipeError):  # `| head`: the reader has what it wanted
        env.silence_stdout()
        return CLOSED_OUTPUT
    error = failure_of(env, exc)
    if implicit is not None:
        error.message = with_profile(error.message, profile, implicit)
        error.fix = [with_profile(step, profile, implicit) for step in error.fix]
    if as_json and not output_is_full(exc):  # a full stdout cannot carry the JSON: stderr says it
        emit_json(env, base_document(error.diagnosis, profile, error.message, error.fix))
    elif error.diagnosis is not Diagnosis.INTERRUPTED or error.message:
        say(env, _("error: {message}").format(message=error.message), style="bold red")
        for line in error.details if isinstance(error, Failed) else []:
            say(env, f"  {line}")
        steps(env, error.fix)
    return int(error.exit_code)


CLOSED_OUTPUT = ExitCode.CLOSED_OUTPUT  # as a shell reports a process ended by SIGPIPE

CHECK_STYLES = {"passed": "green", "failed": "bold red", "skipped": "dim"}


def render_checks(env: Env, verdict: Verdict, stderr: bool) -> None:
    from .advice import check_label

    words = {"passed": _("passed"), "failed": _("failed"), "skipped": _("skipped")}
    width = max(len(word) for word in words.values())
    for check in verdict.checks:
        line = f"{words[check.status]:<{width}}  {check_label(check.name)}"
        if check.detail:
            line += f" ({check.detail})"
        say(env, line, style=CHECK_STYLES[check.status], stderr=stderr)


def render_verdict(env: Env, verdict: Verdict, stderr: bool = True) -> None:
    """The verdict: code and summary, the evidence, warnings, numbered steps."""
    style = "bold green" if verdict.ok else "bold red"
    say(env, f"{verdict.code}: {verdict.summary}", style=style, stderr=stderr)
    for line in verdict.evidence:
        say(env, f"  {line}", stderr=stderr)
    for line in verdict.warnings:
        say(env, _("warning: {message}").format(message=line), style="yellow", stderr=stderr)
    steps(env, verdict.fix, stderr=stderr)


def emit_json(env: Env, document: dict[str, Any]) -> None:
    """Exactly one JSON object on stdout."""
    env.stdout.write(json.dumps(redacted(env, document), ensure_ascii=False, indent=2) + "\n")
    env.stdout.flush()


def base_document(
    diagnosis: Diagnosis,
    profile: str,
    summary: str,
    fix: list[str],
    token: tuple[str, str] | None = None,
    identity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The keys every --json output has; `token` is (source, value) and only its fingerprint is kept."""
    return {
        "schema": 1,
        "ok": diagnosis is Diagnosis.OK,
        "diagnosis": str(diagnosis),
        "exit_code": int(diagnosis.exit_code),
        "profile": profile,
        "token": {"source": token[0], "fingerprint": fingerprint(token[1])} if token else None,
        "identity": {"login": identity.get("login"), "uid": identity.get("id"), "client_id": identity.get("client_id")}
        if identity
        else None,
        "summary": summary,
        "fix": list(fix),
    }


def render_table(env: Env, headers: list[str], rows: list[list[str]], styles: Sequence[str | None]) -> None:
    """Rows as a table on stdout, for a terminal (colour only where allowed)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(
        file=env.stdout,
        highlight=False,
        markup=False,
        emoji=False,
        force_terminal=True,
        color_system="auto" if env.colour(stderr=False) else None,  # None: no escape codes at all
    )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header in headers:
        table.add_column(header, no_wrap=True)
    for row, style in zip(rows, styles, strict=True):
        table.add_row(*(redact(env, cell) for cell in row), style=style if env.colour(stderr=False) else None)
    console.print(table)


def render_lines(env: Env, rows: list[list[str]]) -> None:
    """Rows as plain lines on stdout, columns two spaces apart and aligned: stable, easy to grep."""
    rows = [[redact(env, cell) for cell in row] for row in rows]  # before the widths are measured
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))] if rows else []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)] + row[-1:]
        say(env, "  ".join(cells), stderr=False)


def pretty_json(env: Env, raw: bytes) -> None:
    """An answer for a person at a terminal: JSON indented (and coloured, unless NO_COLOR); other text as is."""
    try:
        text, is_json = json.dumps(json.loads(raw), ensure_ascii=False, indent=2), True
    except (ValueError, RecursionError):
        text, is_json = raw.decode("utf-8", "replace").rstrip("\n"), False
    text = escape_controls(text)  # a server's strings cannot drive the terminal
    if is_json and env.colour(stderr=False):
        from rich.highlighter import JSONHighlighter
        from rich.text import Text

        _console(env, stderr=False).print(JSONHighlighter()(Text(text)))
    elif text:
        env.stdout.write(text + "\n")
    env.stdout.flush()


@contextlib.contextmanager
def progress(env: Env, total: int, label: str, stdout_waits: bool = False) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr while a person watches and stdout goes elsewhere (or, with
    `stdout_waits`, gets nothing until the end: status); yields `advance`."""
    if not env.stderr_tty or (env.stdout_tty and not stdout_waits) or total <= 1:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(file=env.stderr, force_terminal=True, no_color=not env.colour(stderr=True))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True, redirect_stdout=False, redirect_stderr=False) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


@contextlib.contextmanager
def transfer_progress(env: Env) -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar of bytes received and the rate, on stderr while a person watches (`--output`);
    yields `update(received, expected)`, expected None when the size is not known."""
    if not env.stderr_tty:
        yield lambda received, expected: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    console = Console(file=env.stderr, force_terminal=True, no_color=not env.colour(stderr=True))
    columns = (TextColumn(_("receiving")), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True, redirect_stdout=False, redirect_stderr=False) as bar:
        task = bar.add_task("", total=None)
        yield lambda received, expected: bar.update(task, completed=received, total=expected)
