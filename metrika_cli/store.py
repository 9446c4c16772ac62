"""Where tokens and profile metadata live: the OS keyring, config.toml, credentials.toml.

The keyring itself is keyrings.py's (the only module that imports keyring); here is which entry
is whose: the config folder's service, the backend class a profile recorded, 0.3's entries moved.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import os
import re
import stat
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, MetrikaError, StoreUnavailable
from .i18n import _
from .keyrings import (
    SERVICE,
    Keyring,
    backend_id,
    backend_path,
    describe_backend,
    folder_service,
    no_keyring_error,
    recordable,
)
from .os_errors import os_reason

# Re-exported: callers have always found the keyring's names here (the adapter itself is keyrings.py).
__all__ = ["SERVICE", "Keyring", "backend_id", "backend_path", "describe_backend", "no_keyring_error"]
REFRESH_SUFFIX = "#refresh"  # keyring username of a profile's refresh token: NAME#refresh
APP_SECRET_PREFIX = "client-secret:"  # keyring username of an app's secret: client-secret:CLIENTID
PROFILE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")  # also the keyring user name
Saving = tuple[str, str, "Profile", bool, "str | None"]  # name, token, metadata, insecure, refresh token


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
    renewable: bool = False  # a refresh token was stored beside the token
    device_id: str | None = None  # the token was issued with one, so it can be revoked
    keyring_backend: str | None = None  # the keyring backend's class, loaded directly on the next read

    @classmethod
    def from_toml(cls, data: dict[str, Any], where: str = "") -> Profile:
        """The profile from its table; a value of the wrong type names the file and key."""
        known: dict[str, Any] = {}
        for key in cls.__dataclass_fields__:
            if key not in data:
                continue
            value = data[key]
            if key == "scopes":
                ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
            else:
                ok = isinstance(value, bool if key == "renewable" else str)
            if not ok:
                raise ConfigError(
                    _("{where}.{key} has a value of the wrong type.").format(where=where, key=key),
                    fix=[_("Correct it, or run `metrika login` again for that profile.")],
                )
            known[key] = value
        return cls(**known)

    def to_toml(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value not in (None, [], False)}


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


def default_config_dir(environ: Mapping[str, str]) -> Path | None:
    """The config folder metrika uses when METRIKA_CONFIG_DIR is not set; None when there is none."""
    try:
        return config_dir({key: value for key, value in environ.items() if key != "METRIKA_CONFIG_DIR"})
    except ConfigError:
        return None


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
        default_directory: Path | None = None,
    ) -> None:
        self.directory = directory
        self.default_directory = default_directory or directory
        self.keyring = Keyring(keyring_backend, keyring_timeout, folder_service(directory, self.default_directory))
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

    def file_entries(self) -> dict[str, dict[str, Any]]:
        """Every profile's entry in credentials.toml (token, refresh token), the file read once."""
        tables = _table(read_toml(self.credentials_path, secret=True), "profiles", self.credentials_path)
        return {name: _table(tables, name, self.credentials_path) for name in tables}

    def file_token(self, name: str) -> str | None:
        """The profile's token in credentials.toml, if it has one there."""
        tables = _table(read_toml(self.credentials_path, secret=True), "profiles", self.credentials_path)
        value = _table(tables, name, self.credentials_path).get("token")
        return value if isinstance(value, str) and value else None

    def save(
        self, name: str, token: str, profile: Profile, insecure: bool, refresh_token: str | None = None
    ) -> Profile:
        """Store the token, its refresh token (None: an old one goes) and its metadata together,
        or leave the previous ones as they were."""
        from .text import fingerprint

        with self.lock():
            config = self.config()
            previous = self.profiles().get(name)
            profile.storage, profile.fingerprint = ("file" if insecure else "keyring"), fingerprint(token)
            profile.renewable = refresh_token is not None
            undo = self._write_token(name, token, insecure, refresh_token)
            profile.keyring_backend = None if insecure else recordable(self.keyring.loaded())
            try:
                config.setdefault("profiles", {})[name] = profile.to_toml()
                write_toml(self.config_path, config)  # the commit
            except BaseException:
                undo()
                raise
            if previous and previous.storage != profile.storage:
                self._remove_token(name, previous.storage)
        return profile

    def save_many(self, entries: list[Saving]) -> list[Profile]:
        """`save` for several profiles at once (refresh --all), with one commit for them all: each
        profile's token, refresh token and metadata change together, and on any failure none does."""
        from .text import fingerprint

        with self.lock():
            config = self.config()
            tables = _table(config, "profiles", self.config_path)
            before = {name: _table(tables, name, self.config_path).get("storage") for name, *_rest in entries}
            undo: list[Callable[[], None]] = []
            try:
                for name, token, profile, insecure, refresh_token in entries:
                    profile.storage, profile.fingerprint = ("file" if insecure else "keyring"), fingerprint(token)
                    profile.renewable = refresh_token is not None
                    undo.append(self._write_token(name, token, insecure, refresh_token))
                    profile.keyring_backend = None if insecure else recordable(self.keyring.loaded())
                for name, _token, profile, *_rest in entries:
                    config.setdefault("profiles", {})[name] = profile.to_toml()
                write_toml(self.config_path, config)  # the commit
            except BaseException:
                for step in reversed(undo):
                    step()
                raise
            for name, _token, profile, *_rest in entries:
                if before[name] and before[name] != profile.storage:
                    self._remove_token(name, before[name])
        return [profile for _name, _token, profile, *_rest in entries]

    def _write_token(
        self, name: str, token: str, insecure: bool, refresh_token: str | None = None
    ) -> Callable[[], None]:
        """Write the token, then its refresh token, where they go; returns how to put back what was
        there. The token first: whatever a kill leaves, config.toml's fingerprint no longer matches."""
        if insecure:
            credentials = read_toml(self.credentials_path, secret=True)
            before = copy.deepcopy(credentials)
            entry = {"token": token} if refresh_token is None else {"token": token, "refresh_token": refresh_token}
            credentials.setdefault("profiles", {})[name] = entry
            write_toml(self.credentials_path, credentials)
            return lambda: write_toml(self.credentials_path, before)
        written: list[tuple[str, str | None]] = []

        def undo() -> None:  # the refresh token first: if it cannot be put back, the token stays new (a mismatch)
            for username, old in reversed(written):
                if not self._restore_keyring(username, old):
                    break

        try:
            for username, value in ((name, token), (name + REFRESH_SUFFIX, refresh_token)):
                old = self.keyring.get(username)
                if value is None and old is None:
                    continue
                written.append((username, old))
                if value is None:
                    self.keyring.delete(username)
                else:
                    self.keyring.set(username, value)
        except BaseException:
            undo()
            raise
        return undo

    def refresh_token(self, name: str) -> str | None:
        """The profile's refresh token, from where its storage says the token is."""
        if self.profile(name).storage == "file":
            tables = _table(read_toml(self.credentials_path, secret=True), "profiles", self.credentials_path)
            value = _table(tables, name, self.credentials_path).get("refresh_token")
            return value if isinstance(value, str) and value else None
        return self.keyring.get(name + REFRESH_SUFFIX)

    def app_secret(self, client_id: str) -> str | None:
        """The app's secret kept for this ClientID: in the keyring, or in credentials.toml where the
        file store was chosen on purpose."""
        if self.keyring.available():
            value = self.keyring.get(APP_SECRET_PREFIX + client_id)
            if value:
                return value
        secrets = _table(read_toml(self.credentials_path, secret=True), "client_secrets", self.credentials_path)
        value = secrets.get(client_id)
        return value if isinstance(value, str) and value else None

    def keep_app_secret(self, client_id: str, secret: str, insecure: bool = False) -> None:
        """Keep the app's secret for this ClientID: in the keyring, or (insecure) in credentials.toml."""
        with self.lock():
            if not insecure:
                self.keyring.set(APP_SECRET_PREFIX + client_id, secret)
                return
            credentials = read_toml(self.credentials_path, secret=True)
            _table(credentials, "client_secrets", self.credentials_path)
            credentials.setdefault("client_secrets", {})[client_id] = secret
            write_toml(self.credentials_path, credentials)

    def _restore_keyring(self, username: str, old: str | None) -> bool:
        """Put back what was there; False when the keyring fails now (the fingerprint tells later)."""
        try:
            if old is None:
                self.keyring.delete(username)
            else:
                self.keyring.set(username, old)
        except MetrikaError:
            return False
        return True

    def _remove_token(self, name: str, storage: str | None) -> bool:
        """Delete the profile's token (and refresh token) from one place; True when there was one."""
        if storage == "keyring":
            self.keyring.delete(name + REFRESH_SUFFIX)
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
                    had.append(self.keyring.delete(name + REFRESH_SUFFIX))
                    had.append(self.keyring.delete(name))
                    had.append(self._forget_legacy(name))
                config = self.config()
                had.append(_table(config, "profiles", self.config_path).pop(name, None) is not None)
                if had[-1]:
                    write_toml(self.config_path, config)
                if any(had):
                    forgotten.append(name)
        return forgotten

    # ---- tokens in the keyring: this folder's service, the recorded backend, 0.3's entries moved

    @property
    def legacy_service(self) -> str | None:
        """Where metrika 0.3 kept this folder's tokens (one service for every folder), when that is
        not where they go now."""
        return SERVICE if self.keyring.service != SERVICE else None

    def keyring_token(self, name: str, profile: Profile) -> str | None:
        """The profile's token in the keyring, read through the backend class it recorded (no
        discovery); an entry 0.3 left under the shared service is moved here when it is this
        profile's own (its fingerprint is the one config.toml records)."""
        self.keyring.prefer(profile.keyring_backend)
        value = self.keyring.get(name)
        moved: dict[str, str] = {}
        if value is None and self.legacy_service:
            moved = self._legacy_entries({name: profile})
            value = moved.get(name)
        self._settle({name: profile}, {name: value}, moved)
        return value

    def keyring_tokens(self, profiles: Mapping[str, Profile]) -> dict[str, str | None]:
        """keyring_token for many profiles at once: one connection, one unlock, one search, one
        file read (`status`, `refresh --all`). Any failure is the keyring's, for all of them; a
        profile whose entry is not text is left out (keyring_token of it says so)."""
        if not profiles:
            return {}
        recorded = [profile.keyring_backend for profile in profiles.values() if profile.keyring_backend]
        if recorded:
            self.keyring.prefer(max(set(recorded), key=recorded.count))
        found = self.keyring.get_many(list(profiles))
        missing = {name: profile for name, profile in profiles.items() if name in found and found[name] is None}
        moved = self._legacy_entries(missing) if missing and self.legacy_service else {}
        found.update(moved)
        self._settle(profiles, found, moved)
        return found

    def _legacy_entries(self, profiles: Mapping[str, Profile]) -> dict[str, str]:
        """The entries 0.3 wrote under the shared service that are these profiles' own: the
        fingerprint matches. Any other belongs to another folder and is left alone."""
        from .text import fingerprint

        old = self.keyring.get_many(list(profiles), service=SERVICE)
        return {
            name: value
            for name, value in old.items()
            if value and profiles[name].fingerprint and fingerprint(value) == profiles[name].fingerprint
        }

    def _settle(self, profiles: Mapping[str, Profile], found: Mapping[str, str | None], moved: dict[str, str]) -> None:
        """After a successful read: move 0.3's entries to this folder's service, and record the
        backend class where a profile records none (or another). Under the lock, and best effort:
        the read has succeeded whatever happens here."""
        from .text import fingerprint

        backend = recordable(self.keyring.loaded())
        stale = [
            name
            for name, value in found.items()
            if value
            and backend
            and profiles[name].keyring_backend != backend
            and profiles[name].fingerprint in (None, fingerprint(value))
        ]
        if not moved and not stale:
            return
        with contextlib.suppress(MetrikaError), self.lock():
            for name, value in moved.items():
                if self.keyring.get(name) is None:  # a login meanwhile wins
                    self.keyring.set(name, value)
                if not self._default_folder_keeps(name, value):
                    self.keyring.delete(name, service=SERVICE)
            if stale and backend:
                self._record_backend({name: found[name] or "" for name in stale}, backend)

    def _record_backend(self, tokens: Mapping[str, str], backend: str) -> None:
        """config.toml records `backend` for these profiles, if their token is still the one read."""
        from .text import fingerprint

        config = self.config()
        tables = _table(config, "profiles", self.config_path)
        changed = False
        for name, token in tokens.items():
            table = tables.get(name)
            if isinstance(table, dict) and table.get("fingerprint") in (None, fingerprint(token)):
                table["keyring_backend"], changed = backend, True
        if changed:
            write_toml(self.config_path, config)

    def _default_folder_keeps(self, name: str, value: str) -> bool:
        """True when the default folder's profile of that name uses this very entry (or that cannot
        be told): the shared service is the default folder's own, and its entry stays."""
        from .text import fingerprint

        try:
            theirs = Store(self.default_directory).profile(name)
        except MetrikaError:
            return True
        return theirs.storage == "keyring" and theirs.fingerprint in (None, fingerprint(value))

    def _forget_legacy(self, name: str) -> bool:
        """Delete the entry 0.3 left for this profile under the shared service, if it is this
        profile's own and the default folder does not use it; True when there was one."""
        if not self.legacy_service:
            return False
        profile = self.profile(name)
        mine = self._legacy_entries({name: profile}).get(name)
        return bool(mine) and not self._default_folder_keeps(name, mine or "") and self.keyring.delete(name, SERVICE)


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
