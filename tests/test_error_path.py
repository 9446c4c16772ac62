"""One error path: the lean `metrika token` and the app say the same thing for the same failure,
and an internal error shows its traceback only with METRIKA_DEBUG=1, secrets redacted."""

from __future__ import annotations

import pytest
from conftest import TOKEN, call_metrika, run_metrika
from keyring_backends import backend_env
from test_keyring_faults import keyring_profile

from metrika_cli import main as entry
from metrika_cli.commands import whoami
from metrika_cli.env import Env

LOCKED = backend_env("LockedKeyring")


def test_a_locked_keyring_says_the_same_through_the_lean_path_and_the_app(isolated, monkeypatch):
    keyring_profile(isolated)
    lean = call_metrika("token", env=LOCKED)
    monkeypatch.setattr(entry, "lean_token_args", lambda args: None)  # every call through the Typer app
    through_app = call_metrika("token", env=LOCKED)
    assert lean.code == through_app.code == 7
    assert lean.stderr == through_app.stderr
    assert "What to do:" in lean.stderr and lean.stderr.count("  4. ") == 1, lean.stderr  # all four steps
    assert lean.stdout == through_app.stdout == ""


def test_the_real_process_takes_the_lean_path_and_says_the_same(isolated):
    keyring_profile(isolated)
    process = run_metrika("token", env=LOCKED)
    assert (process.code, process.stderr) == (7, call_metrika("token", env=LOCKED).stderr)


def explode(env: Env, name: str, *args: object) -> whoami.Report:
    env.secrets.add(TOKEN)
    raise RuntimeError(f"boom with {TOKEN} inside")


@pytest.mark.parametrize("debug", ["", "1"])
def test_an_internal_error_is_a_message_and_a_redacted_traceback_only_with_debug(monkeypatch, debug):
    monkeypatch.setattr(whoami, "inspect", explode)
    result = call_metrika("whoami", env={"METRIKA_DEBUG": debug})
    assert result.code == 1
    assert "Unexpected error RuntimeError at" in result.stderr and "METRIKA_DEBUG=1" in result.stderr
    assert ("Traceback (most recent call last)" in result.stderr) == bool(debug)
    assert TOKEN not in result.output
    if debug:
        assert "boom with sha256:" in result.stderr
