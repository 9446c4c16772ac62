"""A Secret Service that runs but has no default keyring (gnome-keyring-daemon started where nobody
logged in to a desktop: the usual headless or CI machine). The error says that, not "install a
keyring", and the fix it gives works: against the real daemon, in a private D-Bus session."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest
from conftest import CLIENT_ID, TOKEN, keyring_service
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection
from secret_service import SECRETS_BUS_NAME, secret_service_session

LOGIN = ("login", "--with-token", "--client-id", CLIENT_ID)


def secret_service_answers(bus_address: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open_dbus_connection(bus_address) as bus:
            if bus.send_and_get_reply(message_bus.NameHasOwner(SECRETS_BUS_NAME), timeout=2).body[0]:
                return
        time.sleep(0.05)
    raise AssertionError(f"nobody owns {SECRETS_BUS_NAME} after {seconds} s")


@pytest.fixture
def no_default_keyring(tmp_path, monkeypatch):
    """metrika pointed at a gnome-keyring-daemon that has no login keyring, hence no default collection."""
    with secret_service_session(tmp_path, login_keyring=False) as session:
        for name in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "PYTHON_KEYRING_BACKEND"):
            monkeypatch.setenv(name, session.env[name])
        yield session


def test_login_says_the_secret_service_has_no_default_keyring_and_how_to_make_one(
    fake, metrika, no_default_keyring, isolated
):
    result = metrika(*LOGIN, input=TOKEN)
    assert result.code == 7, result.output
    assert "a Secret Service is running, but it has no default keyring" in result.stderr
    assert "Seahorse" in result.stderr and "gnome-keyring-daemon --replace --unlock" in result.stderr
    assert "--insecure-storage" in result.stderr and "METRIKA_TOKEN" in result.stderr
    assert "install and start a keyring" not in result.stderr and "Traceback" not in result.stderr
    assert not (isolated / "config.toml").exists()


def test_the_command_in_the_fix_makes_a_default_keyring_and_login_then_works(
    fake, metrika, no_default_keyring, tmp_path
):
    failed = metrika(*LOGIN, input=TOKEN)
    (command,) = re.findall(r"`([^`]*gnome-keyring-daemon[^`]*)`", failed.stderr)
    home = tmp_path / "user-home"  # where the new daemon keeps the login keyring it creates
    env = {**no_default_keyring.env, "HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "PATH": os.environ["PATH"]}
    typed = subprocess.run(
        ["bash", "-c", command], input="a-new-keyring-password\n", env=env, capture_output=True, text=True, timeout=30
    )
    assert typed.returncode == 0, typed.stderr
    secret_service_answers(no_default_keyring.bus_address)  # the new daemon takes a moment to take the name
    login = metrika(*LOGIN, input=TOKEN)
    assert login.code == 0, login.output
    assert f"Stored in the keyring: Secret Service (service {keyring_service()})." in login.stderr
    assert metrika("token").stdout == TOKEN + "\n"
    assert list((home / "data" / "keyrings").glob("login.keyring"))  # in the test's folder, not the real home


def test_the_recorded_class_and_status_over_many_profiles_say_the_same(
    fake, metrika, no_default_keyring, isolated, monkeypatch
):
    """Loaded directly (nothing names a backend) and read many at once: the same explanation."""
    import tomli_w

    isolated.mkdir(mode=0o700, parents=True)
    table = {"client_id": CLIENT_ID, "storage": "keyring", "keyring_backend": "keyring.backends.SecretService.Keyring"}
    (isolated / "config.toml").write_text(tomli_w.dumps({"profiles": {"default": table, "work": table}}))
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    token = metrika("token")
    status = metrika("status", "--offline", "--json")
    items = json.loads(status.stdout)["profiles"]
    assert token.code == 7 and status.code == 7
    for said in [token.stderr] + ["\n".join([item["summary"], *item["fix"]]) for item in items]:
        assert "a Secret Service is running, but it has no default keyring" in said
        assert "gnome-keyring-daemon --replace --unlock" in said
        assert "install and start a keyring" not in said and "Traceback" not in said
