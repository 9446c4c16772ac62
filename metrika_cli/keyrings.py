"""The OS keyring through the `keyring` library: every call time-limited, errors in the user's words.

The only module that imports keyring (lazily: `metrika token` is called in loops). Here are the
entries' names: a config folder's service (`metrika-cli`, or `metrika-cli:HASH` for any folder but
the default one), the usernames (`PROFILE`, `PROFILE#refresh`, `client-secret:CLIENTID`), and the
entries metrika 0.3 left under the shared service. store.py decides when a profile's entry is read,
written or moved, and records the backend class.

Which backend: PYTHON_KEYRING_BACKEND when set; else the class a profile recorded at login,
imported and instantiated directly (no entry-point discovery: that costs more than the read);
else, or when that class is missing or no longer viable, the `keyring` library's own choice.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .errors import MetrikaError, StoreUnavailable
from .i18n import N_, _

SERVICE = "metrika-cli"  # the default config folder's service, and every folder's in metrika 0.3
REFRESH_SUFFIX = "#refresh"  # username of a profile's refresh token: NAME#refresh
APP_SECRET_PREFIX = "client-secret:"  # username of an app's secret: client-secret:CLIENTID
T = TypeVar("T")

# Backends reached over the D-Bus session bus: out of reach without one.
DBUS_BACKENDS = (
    "keyring.backends.SecretService.Keyring",
    "keyring.backends.libsecret.Keyring",
    "keyring.backends.kwallet.DBusKeyring",
    "keyring.backends.kwallet.DBusKeyringKWallet4",
)
# Programs that provide a Secret Service (or KWallet) on the session bus, by the name people know.
PROVIDERS = {
    "gnome-keyring-daemon": "gnome-keyring",
    "kwalletd6": "KWallet",
    "kwalletd5": "KWallet",
    "kwalletd": "KWallet",
    "keepassxc": "KeePassXC",
}


def folder_service(directory: Path, default_directory: Path | None) -> str:
    """The keyring service of a config folder: `metrika-cli` for the default folder, else
    `metrika-cli:` and a short hash of the folder's real path, so two folders never share an entry."""
    import hashlib

    real = os.path.realpath(directory)
    if default_directory is not None and real == os.path.realpath(default_directory):
        return SERVICE
    return f"{SERVICE}:{hashlib.sha256(os.fsencode(real)).hexdigest()[:12]}"


# ---- time limit and errors -------------------------------------------------------------


def _with_time_limit(call: Callable[[], T], what: str, seconds: float) -> T:
    """Run a keyring call in a daemon thread: a hung D-Bus must not hang the tool."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="keyring", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise StoreUnavailable(
            _("The keyring did not answer within {seconds:g} s ({what}).").format(seconds=seconds, what=what),
            fix=_no_keyring_fix(),
        )
    if "error" in outcome:
        raise _keyring_failure(outcome["error"], what)
    return outcome["value"]  # type: ignore[no-any-return]


def _keyring_failure(exc: BaseException, what: str) -> MetrikaError:
    from keyring.errors import KeyringLocked

    if isinstance(exc, MetrikaError):
        return exc
    if isinstance(exc, KeyringLocked):
        reason = _("the keyring is locked")
        fix = [
            _(
                "Unlock your keyring (log in to the desktop session, or run `gnome-keyring-daemon --unlock`), "
                "then try again."
            ),
            *_no_keyring_fix(),
        ]
    elif _no_default_collection(exc):
        reason = _(
            "a Secret Service is running, but it has no default keyring to keep the token in, and "
            "creating one needs a password prompt that nobody answered"
        )
        fix = [
            _('Create a default keyring: on a desktop, in Seahorse ("Passwords and Keys"), add a password keyring.'),
            _(
                "Without a desktop, restart gnome-keyring with a login keyring, typing its new password: "
                "`read -rs PASSWORD && printf '%s' \"$PASSWORD\" | gnome-keyring-daemon --replace --unlock`."
            ),
            *_no_keyring_fix()[:2],  # not "install a keyring": one is running
        ]
    else:
        unreachable = out_of_reach(os.environ) if _named_dbus_backend() else None
        if unreachable is not None:  # a D-Bus backend named by PYTHON_KEYRING_BACKEND, with no bus to reach it
            return unreachable
        reason = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
        fix = _no_keyring_fix()
    return StoreUnavailable(_("The keyring failed ({what}): {reason}.").format(what=what, reason=reason), fix=fix)


def _no_default_collection(exc: BaseException) -> bool:
    """keyring's Secret Service backend found no default collection ("login" keyring) and could not
    create one: the prompt for its password was dismissed, or there is no one to show it (headless)."""
    from keyring.errors import InitError

    cause = type(exc.__cause__)
    return isinstance(exc, InitError) and (cause.__module__, cause.__name__) == (
        "secretstorage.exceptions",
        "PromptDismissedException",
    )


def _no_keyring_fix() -> list[str]:
    return [
        _("Store the token in a plain-text file instead: `metrika login --insecure-storage`."),
        _("Or give the token through the environment: METRIKA_TOKEN or METRIKA_TOKEN_FILE."),
        _("Or install and start a keyring (on Linux: gnome-keyring or KeePassXC with Secret Service)."),
    ]


def no_keyring_error() -> StoreUnavailable:
    """No keyring to use: out of reach (one is installed, but there is no session bus), or none at all.
    A backend that PYTHON_KEYRING_BACKEND names (`fail`, `null`, a file) is a choice: none is out of reach."""
    return keyring_unreached() or StoreUnavailable(
        _("No OS keyring is available to store the token."), fix=_no_keyring_fix()
    )


def keyring_unreached() -> StoreUnavailable | None:
    """A keyring installed here but out of reach or not running; None when there is none to reach."""
    chosen = os.environ.get("PYTHON_KEYRING_BACKEND")
    return out_of_reach(os.environ) if not chosen or _named_dbus_backend() else None


# ---- a keyring out of reach ------------------------------------------------------------


def _named_dbus_backend() -> bool:
    """PYTHON_KEYRING_BACKEND names a backend that lives on the session bus."""
    return os.environ.get("PYTHON_KEYRING_BACKEND", "") in DBUS_BACKENDS


def installed_provider(environ: Mapping[str, str]) -> str | None:
    """The Secret Service provider installed here (gnome-keyring, KWallet, KeePassXC), if any."""
    import shutil

    path = os.pathsep.join(filter(None, [environ.get("PATH", ""), "/usr/bin", "/usr/local/bin"]))
    for program, name in PROVIDERS.items():
        if shutil.which(program, path=path):
            return name
    return None


def _connects(socket_path: str) -> bool:
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(socket_path)
        except OSError:
            return False
    return True


def _bus_sockets(address: str) -> list[str]:
    """The unix sockets a D-Bus address names (`unix:path=…`, `unix:abstract=…`), in order."""
    sockets = []
    for part in address.split(";"):
        transport, _colon, options = part.partition(":")
        if transport != "unix":
            continue
        values = dict(option.partition("=")[::2] for option in options.split(","))
        if values.get("path"):
            sockets.append(values["path"])
        elif values.get("abstract"):
            sockets.append("\0" + values["abstract"])
    return sockets


def session_bus_problem(environ: Mapping[str, str]) -> str | None:
    """Why this process cannot reach a D-Bus session bus; None when it can (or cannot tell)."""
    address = environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    if not address.strip():
        return _("DBUS_SESSION_BUS_ADDRESS is not set")
    sockets = _bus_sockets(address)
    if sockets and not any(_connects(path) for path in sockets):
        from .text import escape_controls

        return _("DBUS_SESSION_BUS_ADDRESS points at {address}, where no bus answers").format(
            address=escape_controls(address.replace("\n", " "))[:200]
        )
    return None


def user_bus(environ: Mapping[str, str]) -> str | None:
    """The user's own session bus socket, when it exists (a desktop user's cron): /run/user/UID/bus."""
    candidates = [Path(environ["XDG_RUNTIME_DIR"]) / "bus"] if environ.get("XDG_RUNTIME_DIR") else []
    candidates.append(Path(f"/run/user/{os.getuid()}/bus"))
    for candidate in candidates:
        if candidate.is_socket() and _connects(str(candidate)):
            return str(candidate)
    return None


def out_of_reach(environ: Mapping[str, str]) -> StoreUnavailable | None:
    """A keyring that is installed but that this process cannot reach (ssh, cron, a container: no
    usable session bus), with the ways to reach it or to choose another store on purpose; or, on
    a bus that answers, one that is installed but not running (`not_running`)."""
    provider = installed_provider(environ)
    if provider is None:
        return None
    problem = session_bus_problem(environ)
    if problem is None:  # the bus answers: is any keyring on it?
        return not_running(provider) if no_keyring_on_bus(environ) else None
    fix = []
    bus = user_bus(environ)
    if bus:
        fix.append(
            _(
                "Your session's bus is running: reach it with `export DBUS_SESSION_BUS_ADDRESS=unix:path={bus}` "
                "(in a crontab, put `DBUS_SESSION_BUS_ADDRESS=unix:path={bus}` above the job's line)."
            ).format(bus=bus)
        )
    if provider == "gnome-keyring":
        fix.append(
            _(
                "Without a desktop session, start one with its own keyring: `dbus-run-session -- bash`, then in "
                "that shell `read -rs PASSWORD && printf '%s' \"$PASSWORD\" | gnome-keyring-daemon --unlock "
                "--components=secrets`, and run metrika there."
            )
        )
    else:
        fix.append(
            _("Without a desktop session, start one (`dbus-run-session -- bash`) and open {provider} in it.").format(
                provider=provider
            )
        )
    fix.append(
        _(
            "Or choose on purpose: METRIKA_TOKEN or METRIKA_TOKEN_FILE from the job's secret store, or a "
            "plain-text file: `metrika login --insecure-storage`."
        )
    )
    return StoreUnavailable(
        _("The keyring is out of reach: {provider} is installed, but {problem} (as under ssh or cron).").format(
            provider=provider, problem=problem
        ),
        fix=fix,
    )


# Bus names a keyring answers at: the Secret Service (gnome-keyring, KeePassXC, new KWallets), KWallet.
KEYRING_BUS_NAMES = frozenset({"org.freedesktop.secrets", "org.kde.kwalletd6", "org.kde.kwalletd5", "org.kde.kwalletd"})


def no_keyring_on_bus(environ: Mapping[str, str]) -> bool:
    """The session bus answers, but no keyring is on it: nothing owns a keyring's name, and the bus
    cannot start one (D-Bus activation). False when it cannot tell."""
    try:
        from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
        from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

        with open_dbus_connection(environ["DBUS_SESSION_BUS_ADDRESS"], auth_timeout=1.0) as connection:
            names: set[str] = set()
            for question in (message_bus.ListNames(), message_bus.ListActivatableNames()):
                names.update(connection.send_and_get_reply(question, timeout=1.0).body[0])
    except Exception:  # jeepney missing, the bus gone meanwhile, an odd answer: cannot tell
        return False
    return not names & KEYRING_BUS_NAMES


def not_running(provider: str) -> StoreUnavailable:
    """A keyring that is installed, on a session bus that answers, but that nobody started."""
    if provider == "gnome-keyring":
        fix = [
            _(
                "Start it in this session: `gnome-keyring-daemon --start --components=secrets` (on a desktop, "
                "your login keyring opens with your login password)."
            ),
            _(
                "Without a desktop, start it with a login keyring of its own, typing its new password: "
                "`read -rs PASSWORD && printf '%s' \"$PASSWORD\" | gnome-keyring-daemon --unlock "
                "--components=secrets`, then run metrika again."
            ),
        ]
    elif provider == "KWallet":
        fix = [_("Start it in this session: `kwalletd6` (or `kwalletd5`); a Plasma session starts it at login.")]
    else:
        fix = [_("Open KeePassXC, unlock a database, and turn on its Secret Service integration (Settings).")]
    fix.append(
        _(
            "Or choose on purpose: METRIKA_TOKEN or METRIKA_TOKEN_FILE from the job's secret store, or a "
            "plain-text file: `metrika login --insecure-storage`."
        )
    )
    return StoreUnavailable(
        _(
            "The keyring is not running: {provider} is installed, but no keyring answers on the session bus, "
            "and the bus cannot start one."
        ).format(provider=provider),
        fix=fix,
    )


# ---- loading a backend -----------------------------------------------------------------


def _usable(backend: Any) -> Any | None:
    """The backend, or None when it stores nothing (`fail`, `null`, an empty chain)."""
    from keyring.backends import chainer, fail, null

    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


def _discover(name: str | None) -> Any | None:
    """The backend PYTHON_KEYRING_BACKEND names, else the one keyring discovers (every entry point)."""
    import keyring

    return _usable(keyring.core.load_keyring(name) if name else keyring.get_keyring())


def _load_class(path: str) -> Any | None:
    """An instance of the backend class `path` (`keyring.backends.SecretService.Keyring`), imported
    directly, without keyring's discovery; None when it is missing or cannot be made."""
    import importlib

    from keyring.backend import KeyringBackend

    module_name, _dot, class_name = path.rpartition(".")
    try:
        kind = getattr(importlib.import_module(module_name), class_name)
        if not (isinstance(kind, type) and issubclass(kind, KeyringBackend)):
            return None  # only a keyring backend is ever made from what config.toml names
        return _usable(kind())
    except Exception:  # gone since login (uninstalled, renamed), or it cannot start here: discovery decides
        return None


def recordable(backend: Any) -> str | None:
    """The class to load next time: the backend's own, or for a chain its first backend's (the
    one a chain writes to, and reads first)."""
    from keyring.backends import chainer

    if isinstance(backend, chainer.ChainerBackend):
        return recordable(backend.backends[0]) if backend.backends else None
    return None if backend is None else backend_id(backend)


# The backends people know by a name of their own; any other is named by its class.
KEYRING_NAMES = {
    "keyring.backends.SecretService.Keyring": "Secret Service",
    "keyring.backends.libsecret.Keyring": "Secret Service (libsecret)",
    "keyring.backends.kwallet.DBusKeyring": "KWallet",
    "keyring.backends.kwallet.DBusKeyringKWallet4": "KWallet 4",
    "keyring.backends.macOS.Keyring": "macOS Keychain",
    "keyring.backends.Windows.WinVaultKeyring": "Windows Credential Manager",
}
KEYRING_FILES = {  # backends that keep their entries in a file of their own: the file is named
    "keyrings.alt.file.PlaintextKeyring": N_("keyrings.alt plain-text file {path}"),
    "keyrings.alt.file.EncryptedKeyring": N_("keyrings.alt encrypted file {path}"),
}


def backend_id(backend: Any) -> str:
    """The backend's class as PYTHON_KEYRING_BACKEND names it: `keyring.backends.SecretService.Keyring`."""
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def backend_path(backend: Any) -> str | None:
    """The file a file-based backend (keyrings.alt) keeps its entries in."""
    path = getattr(backend, "file_path", None)
    return path if isinstance(path, str) and path else None


def describe_backend(backend: Any) -> str:
    """The backend in words a person knows: `Secret Service`, `keyrings.alt plain-text file PATH`."""
    from keyring.backends import chainer

    if isinstance(backend, chainer.ChainerBackend):
        return _("a chain of keyrings: {backends}").format(
            backends=", ".join(describe_backend(one) for one in backend.backends)
        )
    for kind in type(backend).__mro__:  # a subclass of a known backend is that backend
        name = f"{kind.__module__}.{kind.__qualname__}"
        if name in KEYRING_FILES:
            return _(KEYRING_FILES[name]).format(path=backend_path(backend) or "?")
        if name in KEYRING_NAMES:
            return KEYRING_NAMES[name]
    return backend_id(backend)


def _is_a(backend: Any, path: str) -> bool:
    return any(f"{kind.__module__}.{kind.__qualname__}" == path for kind in type(backend).__mro__)


# ---- many entries at once --------------------------------------------------------------


def read_many(backend: Any, service: str, usernames: list[str]) -> dict[str, str | None]:
    """Every username's entry under `service`, read the cheapest way the backend allows: a Secret
    Service in one connection (one unlock, one search, the secrets in one call), a keyrings.alt file
    in one read, any other backend one entry at a time."""
    if _is_a(backend, "keyring.backends.SecretService.Keyring"):
        found = _secret_service_many(backend, service, usernames)
        missing = [name for name in usernames if name not in found]  # a locked item: the usual way unlocks it
        return found | {name: backend.get_password(service, name) for name in missing}
    if _is_a(backend, "keyrings.alt.file_base.Keyring"):
        return _file_many(backend, service, usernames)
    return {name: backend.get_password(service, name) for name in usernames}


def _secret_service_many(backend: Any, service: str, usernames: Iterable[str]) -> dict[str, str | None]:
    """One connection, one unlock (get_preferred_collection: the errors a single read gives), one
    SearchItems by the service attribute, then the attributes and one GetSecrets for the items."""
    from contextlib import closing

    from jeepney.wrappers import DBusErrorResponse  # type: ignore[import-untyped]
    from secretstorage.defines import SS_PATH
    from secretstorage.exceptions import ItemNotFoundException
    from secretstorage.util import DBusAddressWrapper, open_session

    wanted = set(usernames)
    scheme = backend.schemes[backend.scheme]
    collection = backend.get_preferred_collection()
    with closing(collection.connection) as connection:
        (paths,) = collection._collection.call("SearchItems", "a{ss}", {scheme["service"]: service})
        owners: dict[str, str] = {}
        attributes = _attributes(connection, paths)
        for path in paths:
            username = attributes.get(path, {}).get(scheme["username"])
            if username in wanted and username not in owners.values():  # the first item wins, as get_password
                owners[path] = username
        found: dict[str, str | None] = dict.fromkeys(wanted)
        if not owners:
            return found
        session = open_session(connection)
        secrets = DBusAddressWrapper(SS_PATH, "org.freedesktop.Secret.Service", connection)
        try:
            (values,) = secrets.call("GetSecrets", "aoo", list(owners), session.object_path)
        except (DBusErrorResponse, ItemNotFoundException):  # no GetSecrets here: one by one, this connection
            values = {path: _one_secret(connection, path, session) for path in owners}
        for path, username in owners.items():
            if path not in values:
                del found[username]  # locked: left to the single read
                continue
            found[username] = _decrypt(session, values[path]).decode("utf-8")
    return found


def _one_secret(connection: Any, path: str, session: Any) -> Any:
    from secretstorage.util import DBusAddressWrapper

    item = DBusAddressWrapper(path, "org.freedesktop.Secret.Item", connection)
    return item.call("GetSecret", "o", session.object_path)[0]


def _attributes(connection: Any, paths: list[str]) -> dict[str, dict[str, str]]:
    """Every item's attributes, the requests sent ahead of their replies (a round trip each would
    cost more than the rest of the read)."""
    from jeepney import DBusAddress, MessageType, new_method_call  # type: ignore[import-untyped]
    from jeepney.low_level import HeaderFields  # type: ignore[import-untyped]

    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(paths), 64):  # a bounded number in flight
        waiting: dict[int, str] = {}
        for path in paths[start : start + 64]:
            address = DBusAddress(path, "org.freedesktop.secrets", "org.freedesktop.DBus.Properties")
            serial = next(connection.outgoing_serial)
            connection.send(
                new_method_call(address, "Get", "ss", ("org.freedesktop.Secret.Item", "Attributes")), serial
            )
            waiting[serial] = path
        while waiting:
            reply = connection.receive()
            answered = waiting.pop(reply.header.fields.get(HeaderFields.reply_serial, -1), None)
            if answered is not None and reply.header.message_type == MessageType.method_return:
                found[answered] = dict(reply.body[0][1])
    return found


def _decrypt(session: Any, secret: tuple[str, bytes, bytes, str]) -> bytes:
    """A Secret Service secret struct, decrypted as secretstorage's Item.get_secret does."""
    if not session.encrypted:
        return bytes(secret[2])
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    decryptor = Cipher(algorithms.AES(session.aes_key), modes.CBC(bytes(secret[1]))).decryptor()
    padded = decryptor.update(bytes(secret[2])) + decryptor.finalize()
    return padded[: -padded[-1]]


def _file_many(backend: Any, service: str, usernames: list[str]) -> dict[str, str | None]:
    """keyrings.alt's file backends: the file read once, each entry decoded as get_password does."""
    import configparser
    from base64 import decodebytes

    from keyrings.alt.escape import escape  # type: ignore[import-untyped]

    config = configparser.RawConfigParser()
    if os.path.exists(backend.file_path):
        config.read(backend.file_path, encoding="utf-8")
    found: dict[str, str | None] = {}
    for username in usernames:
        try:
            encrypted = decodebytes(config.get(escape(service), escape(username)).encode())
        except (configparser.NoOptionError, configparser.NoSectionError):
            found[username] = None
            continue
        try:
            found[username] = backend.decrypt(encrypted, backend._generate_assoc(service, username)).decode("utf-8")
        except ValueError:
            found[username] = backend.decrypt(encrypted).decode("utf-8")
    return found


# ---- the keyring -----------------------------------------------------------------------


class Keyring:
    """The OS keyring: entries by service and username (`PROFILE`, `PROFILE#refresh`,
    `client-secret:CLIENTID`), every call time-limited. `service` is the config folder's."""

    def __init__(self, backend_name: str | None, timeout: float, service: str = SERVICE) -> None:
        self.backend_name = backend_name
        self.timeout = timeout
        self.service = service
        self.preferred: str | None = None  # the class a profile recorded: loaded before any discovery
        self._backend: Any = ...  # loaded on first use, inside the time limit
        self._direct = False  # loaded from `preferred`, without discovery

    def prefer(self, class_path: str | None) -> None:
        """Load this backend class directly (the one a profile recorded), unless one is loaded already."""
        if self._backend is ... and class_path:
            self.preferred = class_path

    def _load(self) -> Any | None:
        if self.backend_name:  # PYTHON_KEYRING_BACKEND wins
            return _discover(self.backend_name)
        if self.preferred:
            backend = _load_class(self.preferred)
            if backend is not None:
                self._direct = True
                return backend
        return _discover(None)

    def _fall_back(self, exc: Exception) -> Any | None:
        """After a directly loaded backend failed: when its class is not viable here (any more),
        discovery chooses, or the keyring is out of reach; else the failure stands."""
        kind = type(self._backend)
        if not self._direct or getattr(kind, "viable", True):
            raise exc
        self._direct = False
        if backend_id(self._backend) in DBUS_BACKENDS:
            unreachable = out_of_reach(os.environ)
            if unreachable is not None:
                raise unreachable from None
        self._backend = _discover(None)
        return self._backend

    def _call(self, what: str, action: Callable[[Any], T], missing: Callable[[], T]) -> T:
        def call() -> T:
            if self._backend is ...:
                self._backend = self._load()
            if self._backend is None:
                return missing()
            try:
                return action(self._backend)
            except Exception as exc:
                backend = self._fall_back(exc)
                return missing() if backend is None else action(backend)

        return _with_time_limit(call, what, self.timeout)

    def loaded(self) -> Any | None:
        """The backend in use, if a call already loaded it: none is loaded just to be named."""
        return None if self._backend is ... else self._backend

    def describe(self) -> str | None:
        """The loaded backend in words (`Secret Service`); None when none was loaded or it cannot say."""
        backend = self.loaded()
        if backend is None:
            return None
        try:  # a chain asks each of its backends whether it is usable: time-limited as any call
            return _with_time_limit(lambda: describe_backend(backend), _("naming the keyring"), self.timeout)
        except MetrikaError:
            return None

    def available(self) -> bool:
        """True when a real keyring backend exists (the `fail` and `null` backends do not count)."""
        return self._call(_("looking for a keyring"), lambda backend: True, lambda: False)

    def get(self, username: str, service: str | None = None) -> str | None:
        value = self._call(
            _("reading the token"),
            lambda backend: backend.get_password(service or self.service, username),
            _raise_no_keyring,
        )
        return _text(value, username)

    def get_many(self, usernames: list[str], service: str | None = None) -> dict[str, str | None]:
        """Many entries in one call (one connection, one unlock): `status` over every profile. An
        entry that is not text is left out: `get` of that one name says what is wrong with it."""
        if not usernames:
            return {}
        found = self._call(
            _("reading the token"),
            lambda backend: read_many(backend, service or self.service, usernames),
            _raise_no_keyring,
        )
        return {name: found.get(name) for name in usernames if isinstance(found.get(name), (str, type(None)))}

    def set(self, username: str, secret: str, service: str | None = None) -> None:
        self._call(
            _("storing the token"),
            lambda backend: backend.set_password(service or self.service, username, secret),
            _raise_no_keyring,
        )

    def delete(self, username: str, service: str | None = None) -> bool:
        """Delete the entry; False when there was none (or no keyring)."""

        def delete(backend: Any) -> bool:
            from keyring.errors import PasswordDeleteError

            try:
                backend.delete_password(service or self.service, username)
            except PasswordDeleteError:
                return False
            return True

        return self._call(_("deleting the token"), delete, lambda: False)

    # ---- this folder's entries: the backend class to record, 0.3's entries

    def recordable(self) -> str | None:
        """The backend class a profile records, to be loaded directly next time (None: none loaded)."""
        return recordable(self.loaded())

    @property
    def legacy_service(self) -> str | None:
        """Where metrika 0.3 kept this folder's tokens (one service for every folder), when that is
        not where they go now."""
        return SERVICE if self.service != SERVICE else None

    def legacy_entries(self, fingerprints: Mapping[str, str | None]) -> dict[str, str]:
        """The entries 0.3 wrote under the shared service for these usernames whose token has the
        fingerprint given (the one the profile records): this folder's own. Any other belongs to
        another folder and is left alone; so is everything when this folder's service is the shared one."""
        from .text import fingerprint

        if not self.legacy_service or not fingerprints:
            return {}
        old = self.get_many(list(fingerprints), service=SERVICE)
        return {
            name: value
            for name, value in old.items()
            if value and fingerprints[name] and fingerprint(value) == fingerprints[name]
        }

    def move_legacy(self, username: str, value: str, keep_old: bool) -> None:
        """Move an entry 0.3 left (`legacy_entries`) to this folder's service, unless an entry is
        there already (a login meanwhile wins); the old one stays when `keep_old` (another folder uses it)."""
        if self.get(username) is None:
            self.set(username, value)
        if not keep_old:
            self.delete(username, service=SERVICE)

    def delete_legacy(self, username: str) -> bool:
        """Delete the entry 0.3 left under the shared service; False when there was none."""
        return self.delete(username, SERVICE)


def _text(value: object, username: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise StoreUnavailable(
        _("The keyring returned something other than text for profile {profile}.").format(
            profile=username.split("#", maxsplit=1)[0]
        ),
        fix=_no_keyring_fix(),
    )


def _raise_no_keyring() -> Any:
    raise no_keyring_error()
