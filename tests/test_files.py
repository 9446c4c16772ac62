"""The config folder and its files: a corrupt config, a folder that cannot exist, four logins
at once. Clear messages, the right exit code, no traceback, nothing overwritten or half-written."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import CLIENT_ID, OTHER_TOKEN, TOKEN

INSECURE = ("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID)
CORRUPT = b'[profiles.default]\nclient_id = "4760187d81bc4b7799476b42b5103713"\nlogin = vasya\n'


@pytest.fixture
def corrupt_config(isolated: Path) -> Path:
    isolated.mkdir(mode=0o700, parents=True)
    path = isolated / "config.toml"
    path.write_bytes(CORRUPT)
    return path


@pytest.mark.parametrize(
    "command, stdin",
    [
        (INSECURE, TOKEN),
        (("logout",), ""),
        (("logout", "--all"), ""),
        (("whoami",), ""),
        (("check-access", "101"), ""),
        (("token",), ""),
        (("auth-url",), ""),
    ],
)
def test_a_corrupt_config_is_named_with_its_line_and_never_overwritten(fake, metrika, corrupt_config, command, stdin):
    result = metrika(*command, input=stdin)
    assert result.code == 1, result.output
    assert str(corrupt_config) in result.stderr
    assert "line 3" in result.stderr
    assert "Traceback" not in result.output
    assert corrupt_config.read_bytes() == CORRUPT
    assert not (corrupt_config.parent / "credentials.toml").exists()
    assert fake.requests == []


def test_a_corrupt_config_in_json_mode_is_one_internal_error_object(fake, metrika, corrupt_config):
    import json

    result = metrika("whoami", "--json")
    document = json.loads(result.stdout)
    assert result.code == 1 and document["diagnosis"] == "internal_error" and document["exit_code"] == 1
    assert str(corrupt_config) in document["summary"] and "line 3" in document["summary"]


def test_a_corrupt_credentials_file_is_named_and_kept(fake, metrika, isolated):
    assert metrika(*INSECURE, input=TOKEN).code == 0
    credentials = isolated / "credentials.toml"
    credentials.write_bytes(b"[profiles.default\n")
    result = metrika("token")
    assert result.code == 1 and str(credentials) in result.stderr and "line 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert metrika(*INSECURE, input=TOKEN).code == 1
    assert credentials.read_bytes() == b"[profiles.default\n"


@pytest.mark.parametrize("where", ["under_a_file", "in_proc"])
def test_a_config_folder_that_cannot_be_created_is_a_clear_error(fake, metrika, tmp_path, where):
    if where == "under_a_file":
        regular = tmp_path / "regular-file"
        regular.write_text("not a folder\n")
        folder = regular / "metrika"
    else:
        folder = Path("/proc/self/metrika-cli-test")
    env = {"METRIKA_CONFIG_DIR": str(folder)}
    result = metrika(*INSECURE, input=TOKEN, env=env)
    assert result.code == 1, result.output
    assert str(folder) in result.stderr and "METRIKA_CONFIG_DIR" in result.stderr
    assert "Traceback" not in result.output
    assert not folder.exists()
    # reading a file under a regular file fails (exit 1, the path named); under /proc it is just absent
    reading = 1 if where == "under_a_file" else 3
    for command, code in ((("token",), reading), (("whoami",), reading), (("logout",), 1)):
        result = metrika(*command, env=env)
        assert result.code == code, result.output
        assert "Traceback" not in result.output
        if code == 1:
            assert str(folder) in result.stderr


def test_four_logins_at_once_leave_one_whole_profile(fake, isolated):
    tokens = {TOKEN: "vasya", OTHER_TOKEN: "petya"}
    for number in (3, 4):
        token = f"y0__xConcurrent{number}Token_{'abcdefghij' * 3}-{number}"
        tokens[token] = f"user{number}"
        fake.add_token(token, login=f"user{number}", uid=str(2000 + number), client_id=CLIENT_ID)
    fake.add_token(OTHER_TOKEN, login="petya", uid="2002", client_id=CLIENT_ID)
    fake.latency = 0.05  # widen the window in which they overlap
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "metrika_cli", *INSECURE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for _token in tokens
    ]
    outcomes = [process.communicate(token, timeout=60) for process, token in zip(processes, tokens)]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], outcomes
    config = tomllib.loads((isolated / "config.toml").read_text())
    credentials = tomllib.loads((isolated / "credentials.toml").read_text())
    stored = credentials["profiles"]["default"]["token"]
    assert stored in tokens
    assert config["profiles"]["default"]["login"] == tokens[stored]
    assert config["profiles"]["default"]["storage"] == "file"
    assert stat.S_IMODE(isolated.stat().st_mode) == 0o700
    for path in isolated.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert not list(isolated.glob("*.tmp")) and not list(isolated.glob(".*.tmp"))


def test_files_are_0600_and_the_folder_0700_even_with_a_lax_umask(fake, isolated):
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, runpy, sys; os.umask(0); "
            "sys.argv = ['metrika', *sys.argv[1:]]; "
            "runpy.run_module('metrika_cli', run_name='__main__')",
            *INSECURE,
        ],
        input=TOKEN,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert completed.returncode == 0, completed.stderr
    assert stat.S_IMODE(isolated.stat().st_mode) == 0o700
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in isolated.iterdir()} == {
        "config.toml": 0o600,
        "credentials.toml": 0o600,
        ".lock": 0o600,
    }
