"""The private Secret Service helper really runs gnome-keyring, isolated and cleaned up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from secret_service import (
    HOST_SESSION_VARIABLES,
    SECRET_SERVICE_BACKEND,
    find_keyring_daemons,
    keyring_files,
    running_secret_service,
    secret_service_session,
)

SECRET = "metrika-plaintext-canary-7f3c9a1e"


def run_python(code: str, env: dict[str, str]) -> str:
    """Run code in a fresh interpreter with env; return its stdout, fail on error."""
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=15)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def set_secret(env: dict[str, str], value: str = SECRET) -> None:
    run_python(f"import keyring; keyring.set_password('metrika-cli', 'default', {value!r})", env)


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_round_trip_through_private_daemon(tmp_path):
    with running_secret_service(tmp_path) as env:
        set_secret(env)
        # A second process reads it back: the secret lives in the daemon, not in-process.
        out = run_python(
            "import keyring\n"
            "backend = keyring.get_keyring()\n"
            "print(type(backend).__module__ + '.' + type(backend).__name__)\n"
            "print(keyring.get_password('metrika-cli', 'default'))\n",
            env,
        )
        assert out.splitlines() == [SECRET_SERVICE_BACKEND, SECRET]

        run_python("import keyring; keyring.delete_password('metrika-cli', 'default')", env)
        assert run_python("import keyring; print(keyring.get_password('metrika-cli', 'default'))", env) == "None"


def test_secret_is_not_stored_in_plain_text(tmp_path):
    with running_secret_service(tmp_path) as env:
        login = tmp_path / "secret-service" / "data" / "keyrings" / "login.keyring"
        before = login.read_bytes()
        set_secret(env)
        assert login in keyring_files(tmp_path)
        assert login.read_bytes() != before, "the item should be written to the keyring file"
        assert_not_in_any_file(tmp_path, SECRET.encode())
    # Once the daemon has exited everything it had is flushed; still no plain text.
    assert_not_in_any_file(tmp_path, SECRET.encode())


def assert_not_in_any_file(folder: Path, needle: bytes) -> None:
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert files, "expected the keyring storage under tmp_path"
    leaking = [path for path in files if needle in path.read_bytes()]
    assert leaking == []


def test_daemons_are_stopped_on_exit(tmp_path):
    with secret_service_session(tmp_path) as session:
        set_secret(session.env)
        assert os.path.basename(os.readlink(f"/proc/{session.dbus_pid}/exe")) == "dbus-daemon"
        assert os.path.basename(os.readlink(f"/proc/{session.keyring_pid}/exe")) == "gnome-keyring-daemon"
        # The PID we will stop is the only gnome-keyring on our bus (it did not fork).
        assert find_keyring_daemons(session.bus_address) == [session.keyring_pid]

    assert not is_running(session.dbus_pid)
    assert not is_running(session.keyring_pid)
    assert find_keyring_daemons(session.bus_address) == []


def test_daemons_are_stopped_when_the_body_raises(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with secret_service_session(tmp_path) as session:
            1 / 0

    assert not is_running(session.dbus_pid)
    assert not is_running(session.keyring_pid)
    assert find_keyring_daemons(session.bus_address) == []


def test_env_does_not_reference_the_host_session(tmp_path, monkeypatch):
    real_host_address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    fake_host = {
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/4242/bus-host",
        "DISPLAY": ":42",
        "WAYLAND_DISPLAY": "wayland-host",
        "GNOME_KEYRING_CONTROL": "/run/user/4242/keyring-host",
        "SSH_AUTH_SOCK": "/run/user/4242/ssh-host",
        "XDG_RUNTIME_DIR": "/run/user/4242",
    }
    for name, value in fake_host.items():
        monkeypatch.setenv(name, value)

    with running_secret_service(tmp_path) as env:
        address = env["DBUS_SESSION_BUS_ADDRESS"]
        assert address.startswith("unix:path=")
        assert address != fake_host["DBUS_SESSION_BUS_ADDRESS"]
        if real_host_address:
            assert address != real_host_address
        for value in env.values():
            assert "/run/user/4242" not in value
            assert not real_host_address or real_host_address not in value
        for name in ("DISPLAY", "WAYLAND_DISPLAY", "GNOME_KEYRING_CONTROL", "SSH_AUTH_SOCK"):
            assert name not in env
        assert set(HOST_SESSION_VARIABLES) & set(env) == {"DBUS_SESSION_BUS_ADDRESS"}
        assert env["PYTHON_KEYRING_BACKEND"] == SECRET_SERVICE_BACKEND
        assert Path(env["XDG_RUNTIME_DIR"]).stat().st_mode & 0o777 == 0o700
        # The yielded env must not have changed the test process's own environment.
        assert os.environ["DBUS_SESSION_BUS_ADDRESS"] == fake_host["DBUS_SESSION_BUS_ADDRESS"]


def test_a_daemon_that_cannot_start_raises_with_its_stderr(tmp_path, monkeypatch):
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "dbus-daemon").symlink_to(shutil.which("dbus-daemon"))
    fake = shims / "gnome-keyring-daemon"
    fake.write_text("#!/bin/sh\necho 'keyring exploded' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")

    with pytest.raises(RuntimeError, match="keyring exploded"):
        with running_secret_service(tmp_path):
            pass
