"""Run a real Secret Service (gnome-keyring-daemon) on a private D-Bus session bus, for tests.

Linux only. Needs the `dbus-daemon` and `gnome-keyring-daemon` executables. Nothing here
talks to the user's real session: the bus, the keyring daemon and its storage all live
under the test's tmp_path, and both daemons are stopped by PID on exit.

    with running_secret_service(tmp_path) as env:
        subprocess.run([sys.executable, "-c", "import keyring; ..."], env=env, timeout=10)
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

SECRETS_BUS_NAME = "org.freedesktop.secrets"
SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"
LOGIN_PASSWORD = "metrika-test-login-password"

START_TIMEOUT = 10.0  # seconds for both daemons to come up and answer a round trip
STOP_TIMEOUT = 5.0  # seconds to wait after SIGTERM before SIGKILL
DBUS_CALL_TIMEOUT = 2.0
PROBE_TIMEOUT = 10.0

# Variables that could lead a client to the user's real session, bus or keyring.
HOST_SESSION_VARIABLES = (
    "DBUS_SESSION_BUS_ADDRESS",
    "DBUS_STARTER_ADDRESS",
    "DBUS_STARTER_BUS_TYPE",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "GNOME_KEYRING_CONTROL",
    "GNOME_KEYRING_PID",
    "SSH_AUTH_SOCK",
)

# sun_path is 108 bytes on Linux, including the terminating NUL.
_MAX_SOCKET_PATH = 100

# A session bus without service directories: nothing can be auto-activated, so no
# daemon we did not start ourselves can appear on it.
_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# Run in a subprocess with the yielded env: makes sure the "default" alias points at an
# unlocked collection, then proves keyring can store, read and delete a secret.
_PROBE_SCRIPT = r"""
import sys
import keyring
from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection

service = DBusAddress("/org/freedesktop/secrets", "org.freedesktop.secrets", "org.freedesktop.Secret.Service")
with open_dbus_connection("SESSION") as conn:
    def call(method, signature=None, *args):
        reply = conn.send_and_get_reply(new_method_call(service, method, signature, args), timeout=5)
        if reply.header.message_type.name == "error":
            raise RuntimeError(f"{method} failed: {reply.header.fields} {reply.body}")
        return reply.body
    (default,) = call("ReadAlias", "s", "default")
    if default == "/":
        # No default alias (older gnome-keyring): point it at the login collection.
        default = "/org/freedesktop/secrets/collection/login"
        call("SetAlias", "so", "default", default)
    collection = DBusAddress(default, "org.freedesktop.secrets", "org.freedesktop.DBus.Properties")
    reply = conn.send_and_get_reply(
        new_method_call(collection, "Get", "ss", ("org.freedesktop.Secret.Collection", "Locked")), timeout=5)
    if reply.header.message_type.name == "error":
        sys.exit(f"default collection {default} is unusable: {reply.body}")
    if reply.body[0][1]:
        sys.exit(f"default collection {default} is locked")

backend = keyring.get_keyring()
if type(backend).__module__ + "." + type(backend).__name__ != "keyring.backends.SecretService.Keyring":
    sys.exit(f"wrong keyring backend: {backend!r}")
keyring.set_password("metrika-secret-service-probe", "probe", "probe-value")
value = keyring.get_password("metrika-secret-service-probe", "probe")
keyring.delete_password("metrika-secret-service-probe", "probe")
if value != "probe-value":
    sys.exit(f"round trip returned {value!r}")
"""


@dataclass(frozen=True)
class SecretServiceSession:
    """A running private Secret Service: the env to give clients, and the daemons' PIDs."""

    env: dict[str, str]
    bus_address: str
    dbus_pid: int
    keyring_pid: int  # the process that owns org.freedesktop.secrets on the bus
    data_home: Path


def secret_service_root(tmp_path: Path) -> Path:
    """The folder under tmp_path that holds the daemons' state, config and logs."""
    return tmp_path / "secret-service"


def keyring_files(tmp_path: Path) -> list[Path]:
    """Files of gnome-keyring's storage (XDG_DATA_HOME/keyrings), sorted."""
    keyrings = secret_service_root(tmp_path) / "data" / "keyrings"
    if not keyrings.is_dir():
        return []
    return sorted(path for path in keyrings.rglob("*") if path.is_file())


def find_keyring_daemons(bus_address: str) -> list[int]:
    """PIDs of live gnome-keyring-daemon processes attached to the given bus (via /proc)."""
    marker = f"DBUS_SESSION_BUS_ADDRESS={bus_address}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "gnome-keyring-d":  # comm is cut to 15 chars
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours
            continue
        if marker in environ and _is_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@contextlib.contextmanager
def running_secret_service(tmp_path: Path, login_keyring: bool = True) -> Iterator[dict[str, str]]:
    """Yield an env in which `keyring` uses a private gnome-keyring Secret Service."""
    with secret_service_session(tmp_path, login_keyring) as session:
        yield session.env


@contextlib.contextmanager
def secret_service_session(tmp_path: Path, login_keyring: bool = True) -> Iterator[SecretServiceSession]:
    """Start dbus-daemon and gnome-keyring-daemon under tmp_path; stop both by PID on exit.

    With `login_keyring` False the daemon is started as on a headless machine where nobody
    logged in to a desktop: no `--unlock`, so it has no login keyring and no default collection
    (and the keyring round trip is not probed: it cannot succeed).

    Raises RuntimeError (with the daemons' stderr) if they do not come up within
    START_TIMEOUT seconds.
    """
    root = secret_service_root(tmp_path)
    dirs = {name: root / name for name in ("data", "config", "home", "logs")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + START_TIMEOUT

    with contextlib.ExitStack() as cleanup:
        socket_dir = _short_socket_dir(root, cleanup)
        runtime_dir = socket_dir / "run"
        runtime_dir.mkdir(mode=0o700, exist_ok=True)
        runtime_dir.chmod(0o700)  # mkdir's mode is masked by the umask

        dbus_log = dirs["logs"] / "dbus-daemon.log"
        keyring_log = dirs["logs"] / "gnome-keyring-daemon.log"

        def failure(reason: str) -> RuntimeError:
            return RuntimeError(
                f"private Secret Service did not start: {reason}\n"
                f"--- dbus-daemon stderr ---\n{_read_log(dbus_log)}\n"
                f"--- gnome-keyring-daemon stderr ---\n{_read_log(keyring_log)}"
            )

        bus_config = root / "bus.conf"
        bus_config.write_text(_BUS_CONFIG.format(socket=socket_dir / "bus"))
        dbus = _start(
            ["dbus-daemon", f"--config-file={bus_config}", "--nofork", "--print-address=1"],
            env=_without_host_session(os.environ),
            stdout=subprocess.PIPE,
            log=dbus_log,
            failure=failure,
        )
        cleanup.callback(_stop_child, dbus)
        bus_address = _read_bus_address(dbus, deadline, failure)

        daemon_env = _without_host_session(os.environ) | {
            "DBUS_SESSION_BUS_ADDRESS": bus_address,
            "XDG_RUNTIME_DIR": str(runtime_dir),
            "XDG_DATA_HOME": str(dirs["data"]),
            "XDG_CONFIG_HOME": str(dirs["config"]),
            "HOME": str(dirs["home"]),
        }
        unlock = ["--unlock"] if login_keyring else []
        keyring_daemon = _start(
            ["gnome-keyring-daemon", "--foreground", *unlock, "--components=secrets"],
            env=daemon_env,
            stdin=subprocess.PIPE,
            log=keyring_log,
            failure=failure,
        )
        cleanup.callback(_stop_keyring_daemons, keyring_daemon, bus_address)
        # --unlock reads the login password until EOF, then creates the login keyring unlocked.
        assert keyring_daemon.stdin is not None
        try:
            if login_keyring:
                keyring_daemon.stdin.write(LOGIN_PASSWORD.encode())
            keyring_daemon.stdin.close()
        except BrokenPipeError:
            pass  # it died early; the wait below reports its exit code and stderr

        owner_pid = _wait_for_secrets_owner(bus_address, (dbus, keyring_daemon), deadline, failure)
        if owner_pid != keyring_daemon.pid:
            # It forked despite --foreground: the owner is the daemon we must stop.
            if not _is_gnome_keyring(owner_pid):
                raise failure(f"{SECRETS_BUS_NAME} is owned by PID {owner_pid}, not gnome-keyring-daemon")
            cleanup.callback(_stop_pid, owner_pid)

        env = _without_host_session(os.environ) | {
            "DBUS_SESSION_BUS_ADDRESS": bus_address,
            "XDG_RUNTIME_DIR": str(runtime_dir),
            "PYTHON_KEYRING_BACKEND": SECRET_SERVICE_BACKEND,
        }
        if login_keyring:
            _probe_round_trip(env, deadline, failure)

        yield SecretServiceSession(
            env=env,
            bus_address=bus_address,
            dbus_pid=dbus.pid,
            keyring_pid=owner_pid,
            data_home=dirs["data"],
        )


def _without_host_session(environ: os._Environ[str] | dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in environ.items() if key not in HOST_SESSION_VARIABLES}


def _short_socket_dir(root: Path, cleanup: contextlib.ExitStack) -> Path:
    """root itself, or a short temp folder when root is too deep for a unix socket path."""
    longest_socket = root / "run" / "keyring" / "control"  # gnome-keyring's control socket
    if len(os.fsencode(longest_socket)) <= _MAX_SOCKET_PATH:
        return root
    short = Path(tempfile.mkdtemp(prefix="metrika-ss-"))
    cleanup.callback(_remove_tree, short)
    return short


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _start(command: list[str], *, env: dict[str, str], log: Path, failure, **popen_args) -> subprocess.Popen:
    # stderr goes to a file: a pipe nobody drains could fill up and block the daemon.
    with log.open("wb") as stderr:
        try:
            return subprocess.Popen(command, env=env, stderr=stderr, close_fds=True, **popen_args)
        except OSError as exc:
            raise failure(f"cannot run {command[0]}: {exc}") from exc


def _read_bus_address(dbus: subprocess.Popen, deadline: float, failure) -> str:
    assert dbus.stdout is not None
    received = b""
    with selectors.DefaultSelector() as selector:
        selector.register(dbus.stdout, selectors.EVENT_READ)
        while not received.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise failure("dbus-daemon did not print its address in time")
            if not selector.select(timeout=remaining):
                continue
            chunk = os.read(dbus.stdout.fileno(), 4096)
            if not chunk:
                raise failure(f"dbus-daemon exited with code {dbus.wait(timeout=STOP_TIMEOUT)}")
            received += chunk
    return received.decode().strip()


def _wait_for_secrets_owner(bus_address: str, daemons, deadline: float, failure) -> int:
    """Poll the bus until org.freedesktop.secrets has an owner; return the owner's PID."""
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        for daemon in daemons:
            if daemon.poll() is not None:
                raise failure(f"{daemon.args[0]} exited with code {daemon.returncode}")
        try:
            with open_dbus_connection(bus_address, auth_timeout=DBUS_CALL_TIMEOUT) as conn:
                reply = conn.send_and_get_reply(message_bus.NameHasOwner(SECRETS_BUS_NAME), timeout=DBUS_CALL_TIMEOUT)
                if reply.body[0]:
                    reply = conn.send_and_get_reply(
                        message_bus.GetConnectionUnixProcessID(SECRETS_BUS_NAME), timeout=DBUS_CALL_TIMEOUT
                    )
                    return int(reply.body[0])
        except Exception as exc:  # jeepney raises several types while the bus settles
            last_error = exc
        time.sleep(0.05)
    raise failure(f"{SECRETS_BUS_NAME} was not owned within {START_TIMEOUT:g} s (last error: {last_error!r})")


def _probe_round_trip(env: dict[str, str], deadline: float, failure) -> None:
    timeout = max(1.0, min(PROBE_TIMEOUT, deadline - time.monotonic()))
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _PROBE_SCRIPT],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise failure(f"keyring round trip did not finish within {timeout:.1f} s") from exc
    if probe.returncode != 0:
        raise failure(f"keyring round trip failed (exit {probe.returncode}):\n{probe.stderr}{probe.stdout}")


def _stop_keyring_daemons(keyring_daemon: subprocess.Popen, bus_address: str) -> None:
    _stop_child(keyring_daemon)
    # Anything it spawned or forked on our bus must not outlive the test.
    for pid in find_keyring_daemons(bus_address):
        _stop_pid(pid)


def _stop_child(process: subprocess.Popen) -> None:
    """SIGTERM, wait, SIGKILL if needed; always reap. Only ever our own child's PID."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _stop_pid(pid: int) -> None:
    """Stop a process we did not spawn directly (a forked daemon) by its PID."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
        if not _is_alive(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        end = time.monotonic() + wait
        while _is_alive(pid) and time.monotonic() < end:
            time.sleep(0.05)


def _is_alive(pid: int) -> bool:
    """True if pid runs; a zombie counts as gone (its parent, not us, must reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[0]
    return state not in ("Z", "X")


def _is_gnome_keyring(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "gnome-keyring-d"
    except OSError:
        return False


def _read_log(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip() or "(empty)"
    except OSError:
        return "(missing)"


@contextlib.contextmanager
def bare_session_bus(tmp_path: Path) -> Iterator[str]:
    """Yield the address of a private D-Bus session bus with no keyring on it, and none it could
    start (no service directories): a machine where a keyring is installed but nobody started it.
    Whatever gnome-keyring a test starts on it is stopped by PID with the bus."""
    root = tmp_path / "bare-bus"
    root.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as cleanup:
        socket_dir = _short_socket_dir(root, cleanup)

        def failure(reason: str) -> RuntimeError:
            return RuntimeError(f"private D-Bus session did not start: {reason}\n{_read_log(root / 'dbus.log')}")

        (root / "bus.conf").write_text(_BUS_CONFIG.format(socket=socket_dir / "bus"))
        dbus = _start(
            ["dbus-daemon", f"--config-file={root / 'bus.conf'}", "--nofork", "--print-address=1"],
            env=_without_host_session(os.environ),
            stdout=subprocess.PIPE,
            log=root / "dbus.log",
            failure=failure,
        )
        cleanup.callback(_stop_child, dbus)
        address = _read_bus_address(dbus, time.monotonic() + START_TIMEOUT, failure)
        cleanup.callback(lambda: [_stop_pid(pid) for pid in find_keyring_daemons(address)])
        yield address
