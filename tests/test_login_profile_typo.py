"""`metrika login --profile wrok` while `work` is stored: a typo, most likely. At a terminal
(a real pty) it asks before creating the profile, naming the close names, and the default answer
creates nothing; without one (scripts create profiles by name on purpose) it goes on with a
warning naming them; `--yes` goes on without a word. A name close to no stored one is just new."""

from __future__ import annotations

import io
import os
import sys
import tomllib
from pathlib import Path

import pexpect
from conftest import CLIENT_ID, TOKEN

QUESTION = "Create profile wrok? [y/N] "
TYPO = "No profile named wrok is stored (there is 1 other). Did you mean work?"
LOGIN = ("login", "--client-id", CLIENT_ID, "--no-browser", "--insecure-storage", "--flow", "token")


def stored_profiles(folder: Path) -> list[str]:
    path = folder / "config.toml"
    return sorted(tomllib.loads(path.read_text()).get("profiles", {})) if path.exists() else []


def work_is_stored(metrika, folder: Path) -> None:
    login = ("login", "--with-token", "--profile", "work", "--client-id", CLIENT_ID, "--insecure-storage")
    assert metrika(*login, input=TOKEN).code == 0
    assert stored_profiles(folder) == ["work"]


def spawn(*args: str) -> tuple[pexpect.spawn, io.StringIO]:
    child = pexpect.spawn(
        sys.executable, ["-m", "metrika_cli", *args], env=dict(os.environ), encoding="utf-8", timeout=30
    )
    child.logfile_read = transcript = io.StringIO()
    return child, transcript


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus if child.exitstatus is not None else 128 + child.signalstatus


def test_at_a_terminal_a_typo_is_asked_about_and_enter_creates_nothing(fake, metrika, isolated):
    work_is_stored(metrika, isolated)
    before = len(fake.requests)
    child, transcript = spawn(*LOGIN, "--profile", "wrok")
    child.expect_exact(QUESTION)
    child.sendline("")
    assert finish(child) == 1
    assert TYPO in transcript.getvalue() and "Nothing was stored." in transcript.getvalue()
    assert "authorize" not in transcript.getvalue() and len(fake.requests) == before  # asked before anything else
    assert stored_profiles(isolated) == ["work"]


def test_at_a_terminal_yes_creates_the_profile(fake, metrika, isolated):
    work_is_stored(metrika, isolated)
    child, transcript = spawn(*LOGIN, "--profile", "wrok")
    child.expect_exact(QUESTION)
    child.sendline("y")
    child.expect("Paste the token")
    child.sendline(TOKEN)
    child.expect("Logged in as vasya")
    assert finish(child) == 0
    assert stored_profiles(isolated) == ["work", "wrok"]


def test_the_yes_option_skips_the_question(fake, metrika, isolated):
    work_is_stored(metrika, isolated)
    child, transcript = spawn(*LOGIN, "--profile", "wrok", "--yes")
    child.expect("Paste the token")
    child.sendline(TOKEN)
    child.expect("Logged in as vasya")
    assert finish(child) == 0
    assert "Did you mean" not in transcript.getvalue() and stored_profiles(isolated) == ["work", "wrok"]


def test_without_a_terminal_it_goes_on_and_warns_naming_the_close_names(fake, metrika, isolated):
    work_is_stored(metrika, isolated)
    result = metrika(
        "login", "--with-token", "--profile", "wrok", "--client-id", CLIENT_ID, "--insecure-storage", input=TOKEN
    )
    assert result.code == 0, result.stderr
    assert f"warning: {TYPO} Creating profile wrok." in result.stderr
    assert stored_profiles(isolated) == ["work", "wrok"]


def test_a_name_close_to_no_stored_one_or_a_stored_one_is_not_questioned(fake, metrika, isolated):
    work_is_stored(metrika, isolated)
    for name in ("client-acme", "work"):
        result = metrika(
            "login", "--with-token", "--profile", name, "--client-id", CLIENT_ID, "--insecure-storage", input=TOKEN
        )
        assert result.code == 0, result.stderr
        assert "Did you mean" not in result.stderr and "warning" not in result.stderr
    assert stored_profiles(isolated) == ["client-acme", "work"]
