"""Where tokens and profile metadata live: the OS keyring, config.toml, credentials.toml.

The only module that imports keyring (lazily: `metrika token` is called in loops).
"""

from __future__ import annotations

import contextlib
import copy
import errno
import os
import re
import stat
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError, MetrikaError, StoreUnavailable
from .i18n import N_, _
from .os_errors import os_reason

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
    fingerprint: str | None = None  # of the token this metadata belongs to: a mismatch is never used

    @classmethod
    def from_toml(cls, data: dict[str, Any], where: str = "") -> Profile:
        """The profile from its table; a value of the wrong type names the file and key."""
        known: dict[str, Any] = {}
        for key in cls.__dataclass_fields__:
            if key not in data:
                continue
            value = data[key]
            ok = (
                (isinstance(value, list) and all(isinstance(item, str) for item in value))
                if key == "scopes"
                else isinstance(value, str)
            )
            if not ok:
                raise ConfigError(
                    _("{where}.{key} has a value of the wrong type.").format(where=where, key=key),
                    fix=[_("Correct it, or run `metrika login` again for that profile.")],
                )
            known[key] = value
        return cls(**known)

    def to_toml(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value not in (None, [])}


def config_dir(environ: Mapping[str, str]) -> Path:
    try:
        explicit = environ.get("METRIKA_CONFIG_DIR")
        if explicit:
            return Path(explicit).expanduser()
        if sys.platform.startswith("linux"):  # what platformdirs answers, without its import on every `metrika token`
            xdg = environ.get("XDG_CONFIG_HOME", "")
            return (Path(xdg) if xdg.strip() else Path("~/.config").expanduser()) / SERVICE
        import platformdirs  # type: ignore[unreachable,unused-ignore]  # (mypy checks for Linux only)

        return Path(platformdirs.user_config_dir(SERVICE, appauthor=False, roaming=True))
    except RuntimeError:  # no HOME, and a user id that passwd does not know (docker run --user 4242)
        raise ConfigError(
            _("There is no home folder to keep the config in."),
            fix=[
                _(
                    "Set METRIKA_CONFIG_DIR (or HOME) to a folder of your own, or give the token through "
                    "METRIKA_TOKEN, which needs no config."
                )
            ],
        ) from None


# ---- files -----------------------------------------------------------------------------


def unreadable(path: Path, exc: BaseException) -> ConfigError:
    """A config file or folder that cannot be read (or stat'ed), and why."""
    return ConfigError(
        _("Cannot read {path}: {error}.").format(path=path, error=os_reason(exc)),
        fix=[_("Point METRIKA_CONFIG_DIR at a folder you can write to.")],
    )


def read_toml(path: Path, secret: bool = False) -> dict[str, Any]:
    """The file's tables, {} when it does not exist; a clear error naming file and line."""
    check_private(path.parent, secret=True)
    check_private(path, secret)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise unreadable(path, exc) from None
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ConfigError(
            _("{path} is nested too deeply to be a metrika config.").format(path=path),
            fix=[_("Move the file away and run `metrika login` again.")],
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            _("{path} is not valid TOML: {error}").format(path=path, error=exc),
            fix=[_("Correct that line, or move the file away and run `metrika login` again.")],
        ) from None


def write_toml(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` atomically with mode 0600: readers see the old file or the new one. A symlink
    (a dotfile manager's) stays one: the file it points to is replaced."""
    import tempfile

    import tomli_w

    ensure_dir(path.parent)
    if path.is_symlink():
        path = path.resolve()
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
            _("Cannot write {path}: {error}.").format(path=path, error=os_reason(exc)),
            fix=[_("Make the folder writable, or point METRIKA_CONFIG_DIR at one that is.")],
        ) from None


def ensure_dir(path: Path) -> None:
    """Create `path` and every missing parent 0700, whatever the umask."""
    try:
        missing = [folder for folder in (path, *path.parents) if not folder.exists()]
        for folder in reversed(missing):
            folder.mkdir(mode=0o700)
            folder.chmod(0o700)
    except FileExistsError:  # another metrika made it meanwhile
        ensure_dir(path)
    except OSError as exc:
        raise ConfigError(
            _("Cannot create the folder {path}: {error}.").format(path=path, error=os_reason(exc)),
            fix=[_("Point METRIKA_CONFIG_DIR at a folder you can write to.")],
        ) from None


def check_private(path: Path, secret: bool) -> None:
    """Refuse a folder or file that another user owns or can change (or, for a secret, read), as
    ssh treats ~/.ssh: what is in it could have been planted there. A symlink (stow, chezmoi) is
    followed and its target judged, with the folder that holds the target."""
    try:
        link = path.lstat()
        if stat.S_ISLNK(link.st_mode):
            target = path.resolve()
            info = target.stat()
            holder = None if stat.S_ISDIR(info.st_mode) else (target.parent, target.parent.stat())
    except FileNotFoundError:  # nothing there yet, or a link to nothing yet: written when needed
        return
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop of links
        raise unreadable(path, exc if isinstance(exc, OSError) else OSError(errno.ELOOP, str(exc))) from None
    if not stat.S_ISLNK(link.st_mode):
        _check_owned_and_closed(path, link, _closed_to(link, secret))
        return
    _check_owned_and_closed(path, link, 0)  # a link's own mode means nothing
    _check_owned_and_closed(target, info, _closed_to(info, secret))
    if holder and not holder[1].st_mode & stat.S_ISVTX:  # whoever writes in it can replace the target
        _check_owned_and_closed(*holder, 0o022)


def _closed_to(info: os.stat_result, secret: bool) -> int:
    """The mode bits others must not have: a folder or a secret closed to them, a config unwritable."""
    return 0o077 if secret or stat.S_ISDIR(info.st_mode) else 0o022


def _check_owned_and_closed(path: Path, info: os.stat_result, closed: int) -> None:
    if info.st_uid != os.geteuid():
        raise ConfigError(
            _("{path} belongs to another user (uid {uid}); metrika only uses files and folders you own.").format(
                path=path, uid=info.st_uid
            ),
            fix=[
                _("Make it yours: `sudo chown {user} {path}`, or point METRIKA_CONFIG_DIR elsewhere.").format(
                    user=os.geteuid(), path=path
                )
            ],
        )
    if not info.st_mode & closed:
        return
    raise ConfigError(
        _("{path} is open to other users (mode {mode}); metrika refuses to use it.").format(
            path=path, mode=shown_mode(info.st_mode)
        ),
        fix=[_("Close it: `chmod {mode} {path}`.").format(mode=_closed_mode(info.st_mode, closed), path=path)],
    )


def _closed_mode(mode: int, closed: int) -> str:
    """The chmod that closes it: 700 or 600, or for a folder only others must not write to, `go-w`."""
    if closed == 0o022 and stat.S_ISDIR(mode):
        return "go-w"
    return "700" if stat.S_ISDIR(mode) else "600"


def shown_mode(mode: int) -> str:
    """A mode as `ls -l` shows it, then in full octal: `drwxrwxrwt, 1777`."""
    return f"{stat.filemode(mode)}, {stat.S_IMODE(mode):04o}"


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

    def get(self, profile: str) -> str | None:
        value = self._call(
            _("reading the token"), lambda backend: backend.get_password(SERVICE, profile), _raise_no_keyring
        )
        if value is None or isinstance(value, str):
            return value
        raise StoreUnavailable(
            _("The keyring returned something other than text for profile {profile}.").format(profile=profile),
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
    """Profiles in config.toml, tokens in the keyring or credentials.toml, under one lock.

    A login is a transaction: the new token is written first, config.toml (which names where
    the token is and records its fingerprint) is replaced atomically as the commit, and only
    then is the old copy removed. A failure before the commit puts back what was there.
    """

    def __init__(
        self,
        directory: Path,
        keyring_backend: str | None = None,
        keyring_timeout: float = 5.0,
        lock_timeout: float = 10.0,
    ) -> None:
        self.directory = directory
        self.keyring = Keyring(keyring_backend, keyring_timeout)
        self.lock_timeout = lock_timeout

    @property
    def config_path(self) -> Path:
        return self.directory / "config.toml"

    @property
    def credentials_path(self) -> Path:
        return self.directory / "credentials.toml"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Serialise commands that change profiles, so a token and its metadata stay together."""
        ensure_dir(self.directory)
        check_private(self.directory, secret=True)
        with ProfileLock(self.directory / ".lock", self.lock_timeout):
            self._remove_temporary_files()
            yield

    def _remove_temporary_files(self) -> None:
        """Half-written files an interrupted metrika left (one may hold a token); only under the lock."""
        for leftover in self.directory.glob(".*.toml.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()

    def config(self) -> dict[str, Any]:
        return read_toml(self.config_path)

    def profiles(self) -> dict[str, Profile]:
        from .text import shown_name  # a hand-edited name is named escaped in an error

        tables = _table(self.config(), "profiles", self.config_path)
        return {
            name: Profile.from_toml(
                _table(tables, name, self.config_path), f"{self.config_path}: profiles.{shown_name(name)}"
            )
            for name in tables
        }

    def profile(self, name: str) -> Profile:
        return self.profiles().get(name) or Profile()

    def active_profile(self) -> str | None:
        """The profile `metrika switch` recorded as the active one, if any; one that is not a stored
        profile's name (a hand edit: `active_profile = 42`, a typo) is an error naming file and value."""
        config = self.config()
        if "active_profile" not in config:
            return None
        value = config["active_profile"]
        names = _table(config, "profiles", self.config_path)
        if isinstance(value, str) and value in names:
            return value
        raise ActiveProfileError.about(self.config_path, value, sorted(names))

    def set_active(self, name: str | None) -> None:
        """Record `name` as the active profile (None: forget the choice)."""
        with self.lock():
            config = self.config()
            if name:
                config["active_profile"] = name
            elif config.pop("active_profile", None) is None:
                return
            write_toml(self.config_path, config)

    def file_tokens(self) -> dict[str, str]:
        """Every token in credentials.toml by profile, the file read once (status over many profiles)."""
        tables = _table(read_toml(self.credentials_path, secret=True), "profiles", self.credentials_path)
        found = {name: _table(tables, name, self.credentials_path).get("token") for name in tables}
        return {name: value for name, value in found.items() if isinstance(value, str) and value}

    def file_token(self, name: str) -> str | None:
        """The profile's token in credentials.toml, if it has one there."""
        tables = _table(read_toml(self.credentials_path, secret=True), "profiles", self.credentials_path)
        value = _table(tables, name, self.credentials_path).get("token")
        return value if isinstance(value, str) and value else None

    def save(self, name: str, token: str, profile: Profile, insecure: bool) -> Profile:
        """Store the token and its metadata together, or leave the previous ones as they were."""
        from .text import fingerprint

        with self.lock():
            config = self.config()
            previous = self.profiles().get(name)
            profile.storage, profile.fingerprint = ("file" if insecure else "keyring"), fingerprint(token)
            undo = self._write_token(name, token, insecure)
            try:
                config.setdefault("profiles", {})[name] = profile.to_toml()
                write_toml(self.config_path, config)  # the commit
            except BaseException:
                undo()
                raise
            if previous and previous.storage != profile.storage:
                self._remove_token(name, previous.storage)
        return profile

    def _write_token(self, name: str, token: str, insecure: bool) -> Callable[[], None]:
        """Write the token where it goes; returns how to put back what was there."""
        if insecure:
            credentials = read_toml(self.credentials_path, secret=True)
            before = copy.deepcopy(credentials)
            credentials.setdefault("profiles", {})[name] = {"token": token}
            write_toml(self.credentials_path, credentials)
            return lambda: write_toml(self.credentials_path, before)
        old = self.keyring.get(name)
        try:
            self.keyring.set(name, token)
        except BaseException:
            self._restore_keyring(name, old)
            raise
        return lambda: self._restore_keyring(name, old)

    def _restore_keyring(self, name: str, old: str | None) -> None:
        with contextlib.suppress(MetrikaError):  # a keyring that fails now: the fingerprint tells later
            if old is None:
                self.keyring.delete(name)
            else:
                self.keyring.set(name, old)

    def _remove_token(self, name: str, storage: str | None) -> bool:
        """Delete the profile's token from one place; True when there was one."""
        if storage == "keyring":
            return self.keyring.delete(name)
        credentials = read_toml(self.credentials_path, secret=True)
        if name not in _table(credentials, "profiles", self.credentials_path):
            return False
        credentials["profiles"].pop(name)
        write_toml(self.credentials_path, credentials)
        return True

    def forget(self, names: list[str]) -> list[str]:
        """Delete tokens and metadata of these profiles, from every place a token could be;
        returns the ones that had any. The metadata goes last, so a failure leaves it to retry."""
        forgotten = []
        with self.lock():
            for name in names:
                had = [self._remove_token(name, "file")]
                if self.keyring.available():
                    had.append(self.keyring.delete(name))
                config = self.config()
                had.append(_table(config, "profiles", self.config_path).pop(name, None) is not None)
                if had[-1]:
                    write_toml(self.config_path, config)
                if any(had):
                    forgotten.append(name)
        return forgotten


class ActiveProfileError(ConfigError):
    """config.toml's active_profile names no stored profile, or is not a name at all."""

    @classmethod
    def about(cls, path: Path, value: object, names: list[str]) -> ActiveProfileError:
        import difflib
        import json

        from .text import fingerprint, looks_like_token, shown_name

        token_like = isinstance(value, str) and looks_like_token(value)
        written = fingerprint(str(value)) if token_like else json.dumps(value, ensure_ascii=False, default=str)[:80]
        fix = [
            _("Choose a stored profile: `metrika switch NAME` (`metrika switch` lists them)."),
            _("Or delete the active_profile line from {path} to use profile default.").format(path=path),
        ]
        if not isinstance(value, str) or not value:
            message = _("{path}: active_profile = {value} is not a profile name (a stored profile's name, in quotes).")
            return cls(message.format(path=path, value=shown_name(written)), fix)
        close = difflib.get_close_matches(value, names, n=3)
        if close:
            fix.insert(
                0,
                _("Did you mean {names}? `metrika switch {first}` records it.").format(
                    names=", ".join(shown_name(name) for name in close), first=shown_name(close[0])
                ),
            )
        message = _("{path}: active_profile = {value}, but no profile of that name is stored there.")
        return cls(message.format(path=path, value=shown_name(written)), fix)


def _table(data: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    """data[key] as a table ({} when absent); anything else names the file and key."""
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(
            _("{path}: {key} must be a table.").format(path=path, key=key),
            fix=[_("Correct it, or move the file away and run `metrika login` again.")],
        )
    return value


class ProfileLock:
    """An exclusive lock on a file that is never a symlink, held at most `timeout` seconds in waiting;
    the holder writes its pid in it, so whoever waits can say who holds it."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path, self.timeout, self.fd = path, timeout, -1

    def __enter__(self) -> ProfileLock:
        import fcntl
        import time

        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            os.fchmod(self.fd, 0o600)
        except OSError as exc:
            raise ConfigError(
                _("Cannot open the lock file {path}: {error}.").format(path=self.path, error=os_reason(exc)),
                fix=[_("Remove it if it is not a plain file (a symlink is never followed), then try again.")],
            ) from None
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._give_up()
                time.sleep(0.05)
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())
        return self

    def _give_up(self) -> None:
        holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip()
        os.close(self.fd)
        if not _is_running(holder):  # a pid left by a holder that is gone, or of another pid namespace
            raise StoreUnavailable(
                _("Another process has been holding the lock {path} for over {seconds:g} s.").format(
                    path=self.path, seconds=self.timeout
                ),
                fix=[
                    _("Find it with `fuser -v {path}`, wait for it or stop it, and try again.").format(path=self.path)
                ],
            )
        raise StoreUnavailable(
            _("Another metrika (pid {pid}) has been changing the profiles for over {seconds:g} s.").format(
                pid=holder, seconds=self.timeout
            ),
            fix=[_("Wait for it to finish and try again, or stop it: `kill {pid}`.").format(pid=holder)],
        )

    def __exit__(self, *exc: object) -> None:
        import fcntl

        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _is_running(pid: str) -> bool:
    """Whether `pid` (as read from a lock file) names a process that exists now."""
    if not pid.isascii() or not pid.isdigit() or not 0 < int(pid) < 2**22:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, another user's
        return True
    return True
