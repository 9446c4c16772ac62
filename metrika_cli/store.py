"""Where tokens and profile metadata live: the OS keyring, config.toml, credentials.toml.

The only module that imports keyring (lazily: `metrika token` is called in loops).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError, MetrikaError, StoreUnavailable
from .i18n import _

SERVICE = "metrika-cli"
PROFILE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")  # also the keyring user name
T = TypeVar("T")


@dataclass
class Profile:
    """What `login` records about a profile; the token itself is kept apart."""

    client_id: str | None = None
    login: str | None = None
    uid: str | None = None
    storage: str | None = None  # "keyring" or "file"
    obtained_at: str | None = None
    expires_at: str | None = None
    scopes: list[str] = field(default_factory=list)
    fingerprint: str | None = None  # of the token stored with this metadata (never the token)

    @classmethod
    def from_toml(cls, data: dict[str, Any]) -> Profile:
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        return cls(**known)

    def to_toml(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value not in (None, [])}


def config_dir(environ: Mapping[str, str]) -> Path:
    explicit = environ.get("METRIKA_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform.startswith("linux"):  # what platformdirs answers, without its import on every `metrika token`
        xdg = environ.get("XDG_CONFIG_HOME", "")
        return (Path(xdg) if xdg.strip() else Path("~/.config").expanduser()) / SERVICE
    import platformdirs  # type: ignore[unreachable,unused-ignore]  # (mypy checks for Linux only)

    return Path(platformdirs.user_config_dir(SERVICE, appauthor=False, roaming=True))


# ---- files -----------------------------------------------------------------------------


def read_toml(path: Path) -> dict[str, Any]:
    """The file's tables, {} when it does not exist; a clear error naming file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            _("Cannot read {path}: {error}").format(path=path, error=os_reason(exc)),
            fix=[_("Point METRIKA_CONFIG_DIR at a folder you can write to.")],
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            _("{path} is not valid TOML: {error}").format(path=path, error=exc),
            fix=[_("Correct that line, or move the file away and run `metrika login` again.")],
        ) from None


def write_toml(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` atomically with mode 0600: readers see the old file or the new one."""
    import tomli_w

    ensure_dir(path.parent)
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)
                tomli_w.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        raise ConfigError(
            _("Cannot write {path}: {error}").format(path=path, error=os_reason(exc)),
            fix=[_("Make the folder writable, or point METRIKA_CONFIG_DIR at one that is.")],
        ) from None


def ensure_dir(path: Path) -> None:
    try:
        if not path.is_dir():
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.chmod(0o700)
    except OSError as exc:
        raise ConfigError(
            _("Cannot create the folder {path}: {error}").format(path=path, error=os_reason(exc)),
            fix=[_("Point METRIKA_CONFIG_DIR at a folder you can write to.")],
        ) from None


def os_reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or exc.__class__.__name__


# ---- keyring ---------------------------------------------------------------------------


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
    else:
        reason = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
        fix = _no_keyring_fix()
    return StoreUnavailable(_("The keyring failed ({what}): {reason}.").format(what=what, reason=reason), fix=fix)


def _no_keyring_fix() -> list[str]:
    return [
        _("Store the token in a plain-text file instead: `metrika login --insecure-storage`."),
        _("Or give the token through the environment: METRIKA_TOKEN or METRIKA_TOKEN_FILE."),
        _("Or install and start a keyring (on Linux: gnome-keyring or KeePassXC with Secret Service)."),
    ]


def no_keyring_error() -> StoreUnavailable:
    return StoreUnavailable(_("No OS keyring is available to store the token."), fix=_no_keyring_fix())


def _load_backend(name: str | None) -> Any | None:
    """The keyring backend PYTHON_KEYRING_BACKEND names (else keyring's own choice); None when it
    is one that stores nothing (`fail`, `null`, an empty chain)."""
    import keyring
    from keyring.backends import chainer, fail, null

    backend = keyring.core.load_keyring(name) if name else keyring.get_keyring()
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


class Keyring:
    """The OS keyring, service `metrika-cli`, user = profile name; every call time-limited."""

    def __init__(self, backend_name: str | None, timeout: float) -> None:
        self.backend_name = backend_name
        self.timeout = timeout
        self._backend: Any = ...  # loaded on first use, inside the time limit

    def _call(self, what: str, action: Callable[[Any], T], missing: Callable[[], T]) -> T:
        def call() -> T:
            if self._backend is ...:
                self._backend = _load_backend(self.backend_name)
            return missing() if self._backend is None else action(self._backend)

        return _with_time_limit(call, what, self.timeout)

    def available(self) -> bool:
        """True when a real keyring backend exists (the `fail` and `null` backends do not count)."""
        return self._call(_("looking for a keyring"), lambda backend: True, lambda: False)

    def get(self, profile: str) -> str | None:
        value = self._call(
            _("reading the token"), lambda backend: backend.get_password(SERVICE, profile), _raise_no_keyring
        )
        if value is None or isinstance(value, str):
            return value
        raise StoreUnavailable(
            _("The keyring answered something that is not text for profile {profile}.").format(profile=profile),
            fix=_no_keyring_fix(),
        )

    def set(self, profile: str, token: str) -> None:
        self._call(
            _("storing the token"), lambda backend: backend.set_password(SERVICE, profile, token), _raise_no_keyring
        )

    def delete(self, profile: str) -> bool:
        """Delete the profile's entry; False when there was none (or no keyring)."""

        def delete(backend: Any) -> bool:
            from keyring.errors import PasswordDeleteError

            try:
                backend.delete_password(SERVICE, profile)
            except PasswordDeleteError:
                return False
            return True

        return self._call(_("deleting the token"), delete, lambda: False)


def _raise_no_keyring() -> Any:
    raise no_keyring_error()


# ---- the store -------------------------------------------------------------------------


class Store:
    """Profiles in config.toml, tokens in the keyring or credentials.toml, under one lock."""

    def __init__(self, directory: Path, keyring_backend: str | None = None, keyring_timeout: float = 5.0) -> None:
        self.directory = directory
        self.keyring = Keyring(keyring_backend, keyring_timeout)

    @property
    def config_path(self) -> Path:
        return self.directory / "config.toml"

    @property
    def credentials_path(self) -> Path:
        return self.directory / "credentials.toml"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Serialise commands that change profiles, so a token and its metadata stay together."""
        import fcntl

        ensure_dir(self.directory)
        try:
            handle = open(self.directory / ".lock", "a")  # noqa: SIM115 (held open across the yield below)
        except OSError as exc:
            raise ConfigError(
                _("Cannot create the lock file in {path}: {error}").format(path=self.directory, error=os_reason(exc))
            ) from None
        with handle:
            os.chmod(handle.name, 0o600)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def profiles(self) -> dict[str, Profile]:
        tables = read_toml(self.config_path).get("profiles", {})
        if not isinstance(tables, dict):
            raise ConfigError(_("{path}: [profiles] must be a table.").format(path=self.config_path))
        return {name: Profile.from_toml(data) for name, data in tables.items() if isinstance(data, dict)}

    def profile(self, name: str) -> Profile:
        return self.profiles().get(name) or Profile()

    def active_profile(self) -> str | None:
        """The profile `metrika switch` recorded as the active one, if any."""
        value = read_toml(self.config_path).get("active_profile")
        return value if isinstance(value, str) and value else None

    def set_active(self, name: str | None) -> None:
        """Record `name` as the active profile (None: forget the choice)."""
        with self.lock():
            config = read_toml(self.config_path)
            if name:
                config["active_profile"] = name
            elif config.pop("active_profile", None) is None:
                return
            write_toml(self.config_path, config)

    def file_tokens(self) -> dict[str, str]:
        """Every token in credentials.toml by profile, read once (status over many profiles)."""
        tables = read_toml(self.credentials_path).get("profiles", {})
        if not isinstance(tables, dict):
            return {}
        found = {name: table.get("token") for name, table in tables.items() if isinstance(table, dict)}
        return {name: value for name, value in found.items() if isinstance(value, str) and value}

    def file_token(self, name: str) -> str | None:
        """The profile's token in credentials.toml, if it has one there."""
        table = read_toml(self.credentials_path).get("profiles", {}).get(name, {})
        value = table.get("token") if isinstance(table, dict) else None
        return value if isinstance(value, str) and value else None

    def save(self, name: str, token: str, profile: Profile, insecure: bool) -> Profile:
        """Store the token and its metadata together; returns the profile as saved."""
        with self.lock():
            config = read_toml(self.config_path)
            credentials = read_toml(self.credentials_path)
            previous = Profile.from_toml(config.get("profiles", {}).get(name, {}))
            if insecure:
                self._write_credential(credentials, name, token)
                profile.storage = "file"
                if previous.storage == "keyring":
                    self.keyring.delete(name)
            else:
                self.keyring.set(name, token)
                profile.storage = "keyring"
                if name in credentials.get("profiles", {}):
                    self._write_credential(credentials, name, None)
            config.setdefault("profiles", {})[name] = profile.to_toml()
            write_toml(self.config_path, config)
        return profile

    def forget(self, names: list[str]) -> list[str]:
        """Delete tokens and metadata of these profiles; returns the ones that had any."""
        forgotten = []
        with self.lock():
            config = read_toml(self.config_path)
            credentials = read_toml(self.credentials_path)
            for name in names:
                recorded = config.get("profiles", {}).get(name, {})
                had = False
                if recorded.get("storage") != "file" and self.keyring.delete(name):
                    had = True
                if name in credentials.get("profiles", {}):
                    self._write_credential(credentials, name, None)
                    had = True
                if config.get("profiles", {}).pop(name, None) is not None:
                    had = True
                if had:
                    forgotten.append(name)
            if forgotten:
                write_toml(self.config_path, config)
        return forgotten

    def _write_credential(self, credentials: dict[str, Any], name: str, token: str | None) -> None:
        tables = credentials.setdefault("profiles", {})
        if token is None:
            tables.pop(name, None)
        else:
            tables[name] = {"token": token}
        write_toml(self.credentials_path, credentials)
