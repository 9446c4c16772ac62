"""METRIKA_TOKEN needs nothing else: no home folder, no user in passwd, no readable config, no
keyring that answers. The token in the environment is used as it is."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w
from conftest import CLIENT_ID, OTHER_TOKEN, TOKEN
from keyring_backends import backend_env

from metrika_cli.env import KEYRING_TIMEOUT
from metrika_cli.text import fingerprint

STRANGER = 4242  # a uid that /etc/passwd does not know (docker run --user 4242)


def as_stranger(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`metrika ARGS` as uid 4242 with no HOME: Python's own files stay readable through
    CAP_DAC_READ_SEARCH alone (they sit under /root here), nothing else of root's is kept."""
    if not shutil.which("setpriv"):
        pytest.fail("setpriv (util-linux) is needed to run a process as a user passwd does not know")
    command = [
        "setpriv",
        *("--reuid", str(STRANGER), "--regid", str(STRANGER), "--clear-groups"),
        *("--inh-caps", "+dac_read_search", "--ambient-caps", "+dac_read_search"),
        sys.executable,
        "-m",
        "metrika_cli",
        *args,
    ]
    return subprocess.run(command, env=env, cwd="/", capture_output=True, text=True, timeout=60)


def test_no_home_and_a_uid_passwd_does_not_know_still_use_metrika_token(fake):
    import pwd

    with pytest.raises(KeyError):
        pwd.getpwuid(STRANGER)
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "METRIKA_TOKEN": TOKEN,
        "METRIKA_LANG": "en",
        **dict.fromkeys(("METRIKA_API_URL", "METRIKA_LOGIN_URL", "METRIKA_OAUTH_URL"), fake.url),
    }
    probe = as_stranger("--version", env={**env, "METRIKA_TOKEN": ""})
    assert probe.returncode == 0, probe.stderr  # it does run as the stranger
    token = as_stranger("token", env=env)
    assert (token.returncode, token.stdout, token.stderr) == (0, TOKEN + "\n", "")
    check = as_stranger("check-access", "101", "--json", env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["diagnosis"] == "ok"
    whoami = as_stranger("whoami", env=env)
    assert whoami.returncode == 0 and "vasya" in whoami.stdout, whoami.stderr
    # and without METRIKA_TOKEN the missing home is named, not a traceback
    login = as_stranger("token", env={**env, "METRIKA_TOKEN": ""})
    assert login.returncode == 1 and "no home folder" in login.stderr and "METRIKA_TOKEN" in login.stderr


def config_problem(directory: Path, problem: str) -> None:
    directory.mkdir(mode=0o700, parents=True)
    config = directory / "config.toml"
    if problem == "corrupt":
        config.write_text('[profiles.default]\nlogin = "unterminated\n')
    elif problem == "wrong-types":
        config.write_text(tomli_w.dumps({"profiles": {"default": {"storage": 7, "fingerprint": ["x"]}}}))
    elif problem == "not-a-table":
        config.write_text('profiles = "x"\n')
    elif problem == "foreign-owner":
        config.write_text(tomli_w.dumps({"profiles": {"default": {"storage": "file"}}}))
        os.chown(config, 4242, 4242)
    elif problem == "open-folder":
        directory.chmod(0o777)
    elif problem == "a-folder":
        config.mkdir()
    if config.is_file():
        config.chmod(0o600)


@pytest.mark.parametrize(
    "problem", ["corrupt", "wrong-types", "not-a-table", "foreign-owner", "open-folder", "a-folder"]
)
def test_an_unusable_config_does_not_stop_metrika_token(fake, metrika, isolated, problem):
    config_problem(isolated, problem)
    env = {"METRIKA_TOKEN": TOKEN}
    assert metrika("token", env=env).stdout == TOKEN + "\n"
    for args in (("whoami",), ("check-access", "101", "--json")):
        result = metrika(*args, env=env)
        assert result.code == 0, (args, result.output)
    assert metrika("token").code == 1  # without it, the problem is reported as before


@pytest.mark.parametrize("stored", [TOKEN, OTHER_TOKEN], ids=["the-same-token", "another-token"])
def test_a_hanging_keyring_is_not_asked_when_metrika_token_is_set(fake, metrika, isolated, stored):
    isolated.mkdir(mode=0o700)
    profile = {"client_id": CLIENT_ID, "login": "vasya", "storage": "keyring", "fingerprint": fingerprint(stored)}
    (isolated / "config.toml").write_text(tomli_w.dumps({"profiles": {"default": profile}}))
    (isolated / "config.toml").chmod(0o600)
    env = {**backend_env("HangingKeyring"), "METRIKA_TOKEN": TOKEN}
    for args in (("whoami",), ("check-access", "101"), ("token",)):
        started = time.monotonic()
        result = metrika(*args, env=env)
        assert time.monotonic() - started < KEYRING_TIMEOUT - 1, args  # asking it would wait that long
        assert result.code == 0, (args, result.output)
        shadowed = f"METRIKA_TOKEN ({fingerprint(TOKEN)}) is used instead of the token stored"
        assert (shadowed in result.stderr) == (stored != TOKEN), (args, result.stderr)
        if stored != TOKEN:
            assert fingerprint(OTHER_TOKEN) in result.stderr
