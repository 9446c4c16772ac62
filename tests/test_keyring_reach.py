"""A keyring that is installed but out of reach (ssh, cron: no D-Bus session) is named as such,
with the way to reach it, never "install a keyring". Run as pipx installs metrika: a venv
without keyrings.alt, so that keyring's own choice is its `fail` backend."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
import tomli_w
from conftest import CLIENT_ID, TOKEN, keyring_service
from secret_service import HOST_SESSION_VARIABLES, SECRET_SERVICE_BACKEND

from metrika_cli.text import fingerprint


@pytest.fixture(scope="session")
def pipx_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv of its own, without keyrings.alt: this venv's packages linked in one by one, but for it."""
    root = tmp_path_factory.mktemp("pipx-like") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=60)
    (site,) = root.glob("lib/python3*/site-packages")
    ours = Path(keyring.__file__).resolve().parents[1]
    for entry in ours.iterdir():
        if entry.name == "keyrings" or entry.name.startswith("keyrings.alt"):
            continue
        (site / entry.name).symlink_to(entry)
    python = root / "bin" / "python"
    probe = "import importlib.util, keyring; print(importlib.util.find_spec('keyrings'), keyring.get_keyring())"
    shown = subprocess.run([python, "-c", probe], env=no_session(), capture_output=True, text=True, timeout=60)
    assert shown.stdout.startswith("None keyring.backends.fail.Keyring"), shown.stdout + shown.stderr
    return python


def no_session(**extra: str) -> dict[str, str]:
    """This process's environment as ssh or cron has it: no D-Bus session, no runtime folder."""
    env = {key: value for key, value in os.environ.items() if key not in HOST_SESSION_VARIABLES}
    for name in ("PYTHON_KEYRING_BACKEND", "XDG_RUNTIME_DIR"):
        env.pop(name, None)
    return {**env, **extra}


def profile_in_keyring(folder: Path, names: tuple[str, ...] = ("default",), **extra: str) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    table = {"client_id": CLIENT_ID, "login": "vasya", "storage": "keyring", "fingerprint": fingerprint(TOKEN)}
    (folder / "config.toml").write_text(tomli_w.dumps({"profiles": {name: {**table, **extra} for name in names}}))
    (folder / "config.toml").chmod(0o600)


def run(python: Path, *args: str, env: dict[str, str], input: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-m", "metrika_cli", *args], env=env, input=input, capture_output=True, text=True, timeout=60
    )


def assert_named_out_of_reach(stderr: str) -> None:
    assert "The keyring is out of reach: gnome-keyring is installed" in stderr, stderr
    assert "dbus-run-session" in stderr and "gnome-keyring-daemon --unlock" in stderr
    assert "METRIKA_TOKEN" in stderr and "--insecure-storage" in stderr
    assert "install" not in stderr.replace("installed", "") and "No OS keyring" not in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    "bus, problem",
    [
        (None, "DBUS_SESSION_BUS_ADDRESS is not set"),
        ("unix:path=/nonexistent/bus", "where no bus answers"),
        ("unix:path=/nonexistent/\x1b[2Jbus,guid=1", "points at unix:path=/nonexistent/\\x1b[2Jbus,guid=1"),
    ],
)
def test_token_over_ssh_names_the_keyring_out_of_reach(pipx_python, isolated, bus, problem):
    profile_in_keyring(isolated)
    env = no_session(**({"DBUS_SESSION_BUS_ADDRESS": bus} if bus else {}))
    result = run(pipx_python, "token", env=env)
    assert result.returncode == 7, result.stderr
    assert problem in result.stderr
    assert_named_out_of_reach(result.stderr)
    assert result.stdout == "" and "\x1b" not in result.stderr


def test_status_in_cron_names_it_for_every_profile(pipx_python, isolated):
    profile_in_keyring(isolated, ("default", "work"))
    result = run(pipx_python, "status", "--offline", "--json", env=no_session(PATH="/usr/bin:/bin"))  # cron's PATH
    assert result.returncode == 7
    items = json.loads(result.stdout)["profiles"]
    assert [item["diagnosis"] for item in items] == ["store_unavailable"] * 2
    for item in items:
        assert_named_out_of_reach("\n".join([item["summary"], *item["fix"]]))


def test_login_without_a_session_says_so_and_stores_nothing(pipx_python, isolated, fake):
    result = run(pipx_python, "login", "--with-token", "--client-id", CLIENT_ID, env=no_session(), input=TOKEN)
    assert result.returncode == 7
    assert_named_out_of_reach(result.stderr)
    assert not (isolated / "config.toml").exists()


def test_the_users_bus_is_named_and_reaching_it_works(pipx_python, isolated, secret_service_env, tmp_path):
    """A desktop user's cron: the session bus runs at XDG_RUNTIME_DIR/bus, the job just lacks the variable."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    socket = secret_service_env["DBUS_SESSION_BUS_ADDRESS"].removeprefix("unix:path=").split(",")[0]
    (runtime / "bus").symlink_to(socket)
    profile_in_keyring(isolated)
    service = keyring_service()
    put = f"import keyring; keyring.set_password({service!r}, 'default', {TOKEN!r})"
    subprocess.run([sys.executable, "-c", put], env=secret_service_env, check=True, timeout=30)
    try:
        failed = run(pipx_python, "token", env=no_session(XDG_RUNTIME_DIR=str(runtime)))
        assert failed.returncode == 7
        (variable,) = re.findall(r"`export (DBUS_SESSION_BUS_ADDRESS=unix:path=[^`]*)`", failed.stderr)
        assert variable == f"DBUS_SESSION_BUS_ADDRESS=unix:path={runtime / 'bus'}"
        name, _, value = variable.partition("=")
        reached = run(pipx_python, "token", env=no_session(**{name: value}))
        assert reached.returncode == 0, reached.stderr
        assert reached.stdout == TOKEN + "\n"
    finally:
        remove = f"import keyring; keyring.delete_password({service!r}, 'default')"
        subprocess.run([sys.executable, "-c", remove], env=secret_service_env, timeout=30)


def test_a_recorded_secret_service_without_a_session_is_out_of_reach_not_empty(metrika, isolated, monkeypatch):
    """keyrings.alt installed too (this venv): the recorded class is not viable, and the token is
    not looked for in a file keyring it never was in."""
    profile_in_keyring(isolated, keyring_backend=SECRET_SERVICE_BACKEND)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    result = metrika("token")
    assert result.code == 7
    assert_named_out_of_reach(result.stderr)


def test_the_headless_recipe_in_the_message_works(pipx_python, isolated, fake, tmp_path):
    """Over ssh with no desktop session: the recipe metrika gives, typed as given, then login and token."""
    from secret_service import find_keyring_daemons

    profile_in_keyring(isolated)
    failed = run(pipx_python, "token", env=no_session())
    (start, unlock) = re.findall(r"`(dbus-run-session[^`]*|read -rs[^`]*)`", failed.stderr)
    assert start == "dbus-run-session -- bash"
    metrika = f"{pipx_python} -m metrika_cli"
    script = (
        f'echo "$DBUS_SESSION_BUS_ADDRESS" > {tmp_path}/bus; {unlock} >/dev/null; '
        f"{metrika} login --with-token --client-id {CLIENT_ID} && {metrika} token"
    )
    home = tmp_path / "home"
    env = no_session(HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_RUNTIME_DIR=str(tmp_path))
    try:
        done = subprocess.run(
            [*start.split()[:-1], "bash", "-c", script],
            env=env,
            input=f"a-keyring-password\n{TOKEN}\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        bus = (tmp_path / "bus").read_text().strip() if (tmp_path / "bus").exists() else None
        for pid in find_keyring_daemons(bus) if bus else []:  # what the recipe started, by its PID
            os.kill(pid, 15)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == TOKEN
    assert list((home / "data" / "keyrings").glob("login.keyring"))  # the test's folder, not a real home


def assert_named_not_running(stderr: str) -> None:
    assert "The keyring is not running: gnome-keyring is installed" in stderr, stderr
    assert "`gnome-keyring-daemon --start --components=secrets`" in stderr
    assert "gnome-keyring-daemon --unlock --components=secrets" in stderr
    assert "METRIKA_TOKEN" in stderr and "--insecure-storage" in stderr
    assert "install" not in stderr.replace("installed", "") and "No OS keyring" not in stderr
    assert "out of reach" not in stderr and "Traceback" not in stderr


def test_a_keyring_installed_but_not_running_is_named_with_how_to_start_it(pipx_python, isolated, tmp_path):
    """A session bus that answers, gnome-keyring installed, but nobody started it (and the bus
    cannot): not "install a keyring", nor "out of reach"."""
    from secret_service import bare_session_bus

    profile_in_keyring(isolated)
    with bare_session_bus(tmp_path) as bus:
        token = run(pipx_python, "token", env=no_session(DBUS_SESSION_BUS_ADDRESS=bus))
        login = run(
            pipx_python,
            "login",
            "--with-token",
            "--client-id",
            CLIENT_ID,
            env=no_session(DBUS_SESSION_BUS_ADDRESS=bus),
            input=TOKEN,
        )
    for result in (token, login):
        assert result.returncode == 7
        assert_named_not_running(result.stderr)
    assert (isolated / "config.toml").read_text().count("[profiles.") == 1  # nothing stored by the login


def test_the_not_running_recipe_in_the_message_works(pipx_python, isolated, fake, tmp_path):
    """The headless way the message gives, typed as given on that bus, then login and token."""
    from secret_service import bare_session_bus

    home = tmp_path / "home"
    with bare_session_bus(tmp_path) as bus:
        env = no_session(
            DBUS_SESSION_BUS_ADDRESS=bus,
            HOME=str(home),
            XDG_DATA_HOME=str(home / "data"),
            XDG_RUNTIME_DIR=str(tmp_path),
        )
        failed = run(pipx_python, "login", "--with-token", "--client-id", CLIENT_ID, env=env, input=TOKEN)
        (recipe,) = re.findall(r"`(read -rs[^`]*)`", failed.stderr)
        started = subprocess.run(
            ["bash", "-c", f"{recipe} >/dev/null"], env=env, input="a-keyring-password\n", timeout=30, text=True
        )
        assert started.returncode == 0
        login = run(pipx_python, "login", "--with-token", "--client-id", CLIENT_ID, env=env, input=TOKEN)
        token = run(pipx_python, "token", env=env)
    assert failed.returncode == 7 and "is not running" in failed.stderr
    assert login.returncode == 0, login.stderr
    assert token.stdout == TOKEN + "\n"
    assert list((home / "data" / "keyrings").glob("login.keyring"))  # the test's folder, not a real home


def test_at_a_terminal_login_says_how_to_start_it_before_offering_plain_text(pipx_python, isolated, fake, tmp_path):
    """A person at a terminal (a real pty) is told the keyring is not running, and how to start
    it, before being offered the plain-text file; refusing stores nothing (exit 7)."""
    import pexpect
    from secret_service import bare_session_bus

    with bare_session_bus(tmp_path) as bus:
        child = pexpect.spawn(
            str(pipx_python),
            ["-m", "metrika_cli", "login", "--flow", "token", "--client-id", CLIENT_ID, "--no-browser"],
            env=no_session(DBUS_SESSION_BUS_ADDRESS=bus, NO_COLOR="1"),
            encoding="utf-8",
            timeout=30,
            dimensions=(40, 400),
        )
        child.expect("Paste the token")
        child.sendline(TOKEN)
        child.expect(r"The keyring is not running: gnome-keyring is installed.*Start it in this session")
        child.expect_exact("gnome-keyring-daemon --start --components=secrets")
        child.expect(r"Store the token in plain text in .* \[y/N\] ")
        child.sendline("n")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 7
    assert not (isolated / "config.toml").exists() and not (isolated / "credentials.toml").exists()
