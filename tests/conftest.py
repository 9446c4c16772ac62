"""Every test runs with a clean environment: its own config folder, no keyring, English, no CI."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from unittest import mock

import pytest
from fake_yandex import FakeYandex
from keyring_backends import FILE_VARIABLE, backend_env
from secret_service import running_secret_service

from metrika_cli.env import KEYRING_TIMEOUT, LOCK_TIMEOUT, Env
from metrika_cli.main import main

# The suite keeps its compiled bytecode (the gitignored __pycache__ folders) even where
# PYTHONDONTWRITEBYTECODE is set: else each worker rewrites and compiles every test module
# again (about 2 s of CPU a worker) and each `metrika` child compiles metrika_cli (about 50 ms).
sys.dont_write_bytecode = False

CLIENT_ID = "4760187d81bc4b7799476b42b5103713"
OTHER_CLIENT_ID = "0f9e8d7c6b5a49382716051423324150"
TOKEN = "y0__xCanaryTokenAbCdEfGh0123456789_QrStUvWxYz-abcdefghijk"
OTHER_TOKEN = "y0__xSecondTokenZyXwVuTs9876543210_PqOnMlKjIh-zyxwvutsrqp"
HOST_VARIABLES = (
    "CI",
    "NO_COLOR",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "all_proxy",
    "no_proxy",
    "LANG",
    "LC_ALL",
    "LC_MESSAGES",
    "LANGUAGE",
    "SSH_CONNECTION",
    "SSH_TTY",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "DBUS_SESSION_BUS_ADDRESS",
    "PYTHONDONTWRITEBYTECODE",  # children keep their bytecode too (see sys.dont_write_bytecode above)
)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("METRIKA_") or name in HOST_VARIABLES:
            monkeypatch.delenv(name)
    config = tmp_path / "config"
    monkeypatch.setenv("METRIKA_CONFIG_DIR", str(config))
    monkeypatch.setenv("METRIKA_LANG", "en")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("METRIKA_TIMEOUT", "5")
    # A test that forgets the `fake` fixture must not reach Yandex: a closed loopback port.
    nowhere = f"http://127.0.0.1:{closed_port()}"
    for name in ("METRIKA_API_URL", "METRIKA_LOGIN_URL", "METRIKA_OAUTH_URL"):
        monkeypatch.setenv(name, nowhere)
    return config


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeYandex]:
    """Yandex ID, Metrika and OAuth on one loopback port; TOKEN is vasya's, from CLIENT_ID's app."""
    with FakeYandex() as server:
        server.add_token(
            TOKEN,
            login="vasya",
            client_id=CLIENT_ID,
            counters=[
                {"id": 101, "name": "Shop", "permission": "own"},
                {"id": 202, "name": "Blog", "permission": "view"},
                {"id": 303, "name": "Docs", "permission": "edit"},
            ],
        )
        for name in ("METRIKA_API_URL", "METRIKA_LOGIN_URL", "METRIKA_OAUTH_URL"):
            monkeypatch.setenv(name, server.url)
        yield server


@pytest.fixture(scope="session")
def secret_service_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One real gnome-keyring-daemon in a private D-Bus session for the whole run."""
    with running_secret_service(tmp_path_factory.mktemp("secret-service")) as env:
        yield env


@pytest.fixture
def real_keyring(monkeypatch: pytest.MonkeyPatch, secret_service_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Point metrika at the real Secret Service; forget what the test stored afterwards."""
    for name in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "PYTHON_KEYRING_BACKEND"):
        monkeypatch.setenv(name, secret_service_env[name])
    yield secret_service_env
    forget_metrikas_entries(secret_service_env["DBUS_SESSION_BUS_ADDRESS"])


def forget_metrikas_entries(bus_address: str) -> None:
    """Delete every entry of metrika's in the Secret Service at `bus_address`, whichever config
    folder's service it is under (in this process: a child would only add its start-up)."""
    import secretstorage

    with mock.patch.dict(os.environ, {"DBUS_SESSION_BUS_ADDRESS": bus_address}):
        bus = secretstorage.dbus_init()
    with contextlib.closing(bus):
        for item in secretstorage.get_default_collection(bus).get_all_items():
            if item.get_attributes().get("service", "").startswith("metrika-cli"):
                item.delete()


@contextlib.contextmanager
def disk_full_at_the_config_commit() -> Iterator[None]:
    """While inside, writing config.toml (its temporary file's fsync: the commit) fails as on a full disk."""
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(".config.toml."):
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    os.fsync = fsync
    try:
        yield
    finally:
        os.fsync = real_fsync


def keyring_service(environ: dict[str, str] | None = None) -> str:
    """The keyring service metrika uses for the config folder the environment names: `metrika-cli`
    for the default folder, `metrika-cli:HASH` for any other (a test's METRIKA_CONFIG_DIR)."""
    return Env.for_test({**os.environ, **(environ or {})}).store.keyring.service


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_metrika(*args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 60) -> Result:
    """`metrika ARGS` in a subprocess, standard input a pipe (never a terminal): for tests where
    the process itself is the point (the lean path's imports, signals, exit status, languages)."""
    completed = subprocess.run(
        [sys.executable, "-m", "metrika_cli", *args],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


def process_environment(environ: dict[str, str]) -> contextlib.AbstractContextManager[object]:
    """os.environ as `environ` for the duration: keyring reads it itself (httpx does not: the Env
    gives it its proxies)."""
    return mock.patch.dict(os.environ, environ, clear=True)


def call_metrika(
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    keyring_timeout: float = KEYRING_TIMEOUT,
    lock_timeout: float = LOCK_TIMEOUT,
    clock: Callable[[], datetime] | None = None,
    quota_per_second: float | None = None,
) -> Result:
    """`metrika ARGS` in this process: the same main() with an Env of its own (standard input
    a pipe, never a terminal), and what click prints caught too. `timeout` is the subprocess
    runner's; here the command's own time limits apply (`keyring_timeout`, `lock_timeout`:
    the Env's patience with a keyring and with another metrika holding the lock). `clock`: a
    fixed "now", if given. `quota_per_second`: the pacer's rate, raised with the fake's quota."""
    environ = {**os.environ, **(env or {})}
    fixed = {"clock": clock} if clock else {}
    streams = Env.for_test(
        environ,
        stdin=input or "",
        keyring_timeout=keyring_timeout,
        lock_timeout=lock_timeout,
        quota_per_second=quota_per_second,
        **fixed,
    )
    with (
        process_environment(environ),
        contextlib.redirect_stdout(streams.stdout),
        contextlib.redirect_stderr(streams.stderr),
    ):
        code = main(list(args), env=streams)
    return Result(code, streams.stdout.getvalue(), streams.stderr.getvalue())


@pytest.fixture
def metrika():
    """Run metrika in-process (fast); `run_metrika` for a real process."""
    return call_metrika


@pytest.fixture
def keyring_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """FileKeyring for every metrika of this test, in-process or not: the entries in one JSON file."""
    path = tmp_path / "keyring.json"
    monkeypatch.setenv(FILE_VARIABLE, str(path))
    for name, value in backend_env("FileKeyring").items():
        monkeypatch.setenv(name, value)
    return path


def parsed_by_the_app(args: list[str]) -> tuple[str, dict, dict] | None:
    """(the command's name, the global options, the command's parameters) as the Typer app reads
    `args`; None for a usage error, --help or --version. The lean paths' parity tests hold their
    readings against it."""
    import click

    from metrika_cli.app import click_command

    group = click_command()
    try:
        ctx = group.make_context("metrika", list(args))
        name, command, rest = group.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert command is not None
        params = command.make_context(name, rest, parent=ctx).params
    except (click.UsageError, click.exceptions.Exit):
        return None
    return name or "", ctx.params, params
