"""Human and JSON rendering, fingerprints and redaction. The only module that imports rich."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from functools import cache
from typing import IO, Any

from .diagnose import Diagnosis, check_label
from .i18n import _

_secrets: set[str] = set()


def fingerprint(token: str) -> str:
    """`sha256:` and the first 8 hex digits: enough to tell tokens apart, useless to an attacker."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:8]


def register_secret(token: str) -> None:
    """Remember a token so that nothing this process prints can contain it."""
    if token:
        _secrets.add(token)


def redact(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, fingerprint(secret))
    return text


def colour_wanted(stream: IO[str]) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


@cache
def _console(stderr: bool) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, highlight=False, markup=False, soft_wrap=True, emoji=False,
                   no_color=not colour_wanted(stream), force_terminal=colour_wanted(stream) or None)


def say(text: str = "", style: str | None = None, stderr: bool = True) -> None:
    """One line for a person; styled only on a colour terminal."""
    text = redact(text)
    stream = sys.stderr if stderr else sys.stdout
    if style and colour_wanted(stream):
        _console(stderr).print(text, style=style)
    else:
        print(text, file=stream, flush=True)


def warn(text: str) -> None:
    say(_("warning: {message}").format(message=text), style="yellow")


def error(text: str) -> None:
    say(_("error: {message}").format(message=text), style="bold red")


def steps(fix: list[str], stderr: bool = True) -> None:
    if fix:
        say(_("What to do:"), style="bold", stderr=stderr)
        for number, step in enumerate(fix, 1):
            say(f"  {number}. {step}", stderr=stderr)


CHECK_STYLES = {"passed": "green", "failed": "bold red", "skipped": "dim"}
CHECK_WORDS = {"passed": _("passed"), "failed": _("failed"), "skipped": _("skipped")}


def render_checks(diagnosis: Diagnosis, stderr: bool) -> None:
    width = max(len(word) for word in CHECK_WORDS.values())
    for check in diagnosis.checks:
        line = f"{CHECK_WORDS[check.status]:<{width}}  {check_label(check.name)}"
        if check.detail:
            line += f" ({check.detail})"
        say(line, style=CHECK_STYLES[check.status], stderr=stderr)


def render_diagnosis(diagnosis: Diagnosis, stderr: bool = True) -> None:
    """The verdict: code and summary, the evidence, warnings, numbered steps."""
    style = "bold green" if diagnosis.ok else "bold red"
    say(f"{diagnosis.code}: {diagnosis.summary}", style=style, stderr=stderr)
    for line in diagnosis.evidence:
        say(f"  {line}", stderr=stderr)
    for line in diagnosis.warnings:
        say(_("warning: {message}").format(message=line), style="yellow", stderr=stderr)
    steps(diagnosis.fix, stderr=stderr)


def emit_json(document: dict[str, Any]) -> None:
    """Exactly one JSON object on stdout."""
    print(redact(json.dumps(document, ensure_ascii=False, indent=2)), flush=True)


def base_document(diagnosis: str, exit_code: int, profile: str, summary: str, fix: list[str],
                  token: tuple[str, str] | None = None, identity: dict[str, Any] | None = None) -> dict[str, Any]:
    """The keys every --json output has; `token` is (source, value) and only its fingerprint is kept."""
    return {
        "schema": 1,
        "ok": diagnosis == "ok",
        "diagnosis": diagnosis,
        "exit_code": int(exit_code),
        "profile": profile,
        "token": {"source": token[0], "fingerprint": fingerprint(token[1])} if token else None,
        "identity": {"login": identity.get("login"), "uid": identity.get("id"),
                     "client_id": identity.get("client_id")} if identity else None,
        "summary": summary,
        "fix": list(fix),
    }
