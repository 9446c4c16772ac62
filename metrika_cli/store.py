"""Profiles: what each one records (config.toml) and where its token is (the keyring, or
credentials.toml), changed only by transactions: a token and its metadata change together, or not.

The files themselves are files.py's (the config folder, atomic writes, private modes, the lock);
the keyring's entries are keyrings.py's (the folder's service, 0.3's entries, the backend class).
"""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, MetrikaError
from .files import locked, read_toml, table, write_toml
from .i18n import _
from .keyrings import APP_SECRET_PREFIX, REFRESH_SUFFIX, Keyring, folder_service

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

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Serialise commands that change profiles, so a token and its metadata stay together."""
        return locked(self.directory, self.lock_timeout)

    def config(self) -> dict[str, Any]:
        return read_toml(self.config_path)

    def profiles(self) -> dict[str, Profile]:
        from .text import shown_name  # a hand-edited name is named escaped in an error

        tables = table(self.config(), "profiles", self.config_path)
        return {
            name: Profile.from_toml(
                table(tables, name, self.config_path), f"{self.config_path}: profiles.{shown_name(name)}"
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
        names = table(config, "profiles", self.config_path)
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

    def _credentials(self, key: str) -> dict[str, Any]:
        """credentials.toml's table `key` (profiles, client_secrets): {} when the file has none."""
        return table(read_toml(self.credentials_path, secret=True), key, self.credentials_path)

    def file_tokens(self) -> dict[str, str]:
        """Every token in credentials.toml by profile, the file read once (status over many profiles)."""
        tables = self._credentials("profiles")
        found = {name: table(tables, name, self.credentials_path).get("token") for name in tables}
        return {name: value for name, value in found.items() if isinstance(value, str) and value}

    def file_entries(self) -> dict[str, dict[str, Any]]:
        """Every profile's entry in credentials.toml (token, refresh token), the file read once."""
        tables = self._credentials("profiles")
        return {name: table(tables, name, self.credentials_path) for name in tables}

    def file_token(self, name: str) -> str | None:
        """The profile's token in credentials.toml, if it has one there."""
        tables = self._credentials("profiles")
        value = table(tables, name, self.credentials_path).get("token")
        return value if isinstance(value, str) and value else None

    def save(
        self, name: str, token: str, profile: Profile, insecure: bool, refresh_token: str | None = None
    ) -> Profile:
        """Store the token, its refresh token (None: an old one goes) and its metadata together,
        or leave the previous ones as they were."""

        with self.lock():
            config = self.config()
            previous = self.profiles().get(name)
            undo = self._write_token(name, token, profile, insecure, refresh_token)
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

        with self.lock():
            config = self.config()
            tables = table(config, "profiles", self.config_path)
            before = {name: table(tables, name, self.config_path).get("storage") for name, *_rest in entries}
            undo: list[Callable[[], None]] = []
            try:
                for name, token, profile, insecure, refresh_token in entries:
                    undo.append(self._write_token(name, token, profile, insecure, refresh_token))
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
        self, name: str, token: str, profile: Profile, insecure: bool, refresh_token: str | None
    ) -> Callable[[], None]:
        """Write the token, then its refresh token, where they go, and say so in `profile` (where,
        the fingerprint, renewable, the keyring's class); returns how to put back what was there.
        The token first: whatever a kill leaves, config.toml's fingerprint no longer matches."""
        from .text import fingerprint

        profile.storage, profile.fingerprint = ("file" if insecure else "keyring"), fingerprint(token)
        profile.renewable = refresh_token is not None
        undo = self._write_entries(name, token, insecure, refresh_token)
        profile.keyring_backend = None if insecure else self.keyring.recordable()
        return undo

    def _write_entries(self, name: str, token: str, insecure: bool, refresh_token: str | None) -> Callable[[], None]:
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
            tables = self._credentials("profiles")
            value = table(tables, name, self.credentials_path).get("refresh_token")
            return value if isinstance(value, str) and value else None
        return self.keyring.get(name + REFRESH_SUFFIX)

    def app_secret(self, client_id: str) -> str | None:
        """The app's secret kept for this ClientID: in the keyring, or in credentials.toml where the
        file store was chosen on purpose."""
        if self.keyring.available():
            value = self.keyring.get(APP_SECRET_PREFIX + client_id)
            if value:
                return value
        secrets = self._credentials("client_secrets")
        value = secrets.get(client_id)
        return value if isinstance(value, str) and value else None

    def keep_app_secret(self, client_id: str, secret: str, insecure: bool = False) -> None:
        """Keep the app's secret for this ClientID: in the keyring, or (insecure) in credentials.toml."""
        with self.lock():
            if not insecure:
                self.keyring.set(APP_SECRET_PREFIX + client_id, secret)
                return
            credentials = read_toml(self.credentials_path, secret=True)
            table(credentials, "client_secrets", self.credentials_path)
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
        if name not in table(credentials, "profiles", self.credentials_path):
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
                had.append(table(config, "profiles", self.config_path).pop(name, None) is not None)
                if had[-1]:
                    write_toml(self.config_path, config)
                if any(had):
                    forgotten.append(name)
        return forgotten

    # ---- tokens in the keyring: the recorded backend, 0.3's entries moved (see keyrings.Keyring)

    def keyring_token(self, name: str, profile: Profile) -> str | None:
        """The profile's token in the keyring, read through the backend class it recorded (no
        discovery); an entry 0.3 left under the shared service is moved here when it is this
        profile's own (its fingerprint is the one config.toml records)."""
        self.keyring.prefer(profile.keyring_backend)
        value = self.keyring.get(name)
        moved: dict[str, str] = {}
        if value is None and self.keyring.legacy_service:
            moved = self.keyring.legacy_entries({name: profile.fingerprint})
            value = moved.get(name)
        self._settle({name: profile}, {name: value}, moved)
        return value

    def keyring_tokens(self, profiles: Mapping[str, Profile], refresh_tokens: bool = False) -> dict[str, str | None]:
        """keyring_token for many profiles at once: one connection, one unlock, one search, one
        file read (`status`, `refresh --all`). Any failure is the keyring's, for all of them; a
        profile whose entry is not text is left out (keyring_token of it says so). With
        `refresh_tokens`, each profile's refresh token is read in the same search, under NAME#refresh."""
        if not profiles:
            return {}
        recorded = [profile.keyring_backend for profile in profiles.values() if profile.keyring_backend]
        if recorded:
            self.keyring.prefer(max(set(recorded), key=recorded.count))
        usernames = [*profiles, *(name + REFRESH_SUFFIX for name in profiles if refresh_tokens)]
        found = self.keyring.get_many(usernames)
        missing = {
            name: profile.fingerprint for name, profile in profiles.items() if name in found and found[name] is None
        }
        moved = self.keyring.legacy_entries(missing) if missing and self.keyring.legacy_service else {}
        found.update(moved)
        self._settle(profiles, {name: found[name] for name in profiles if name in found}, moved)
        return found

    def _settle(self, profiles: Mapping[str, Profile], found: Mapping[str, str | None], moved: dict[str, str]) -> None:
        """After a successful read: move 0.3's entries to this folder's service, and record the
        backend class where a profile records none (or another). Under the lock, and best effort:
        the read has succeeded whatever happens here."""
        from .text import fingerprint

        backend = self.keyring.recordable()
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
                self.keyring.move_legacy(name, value, keep_old=self._default_folder_keeps(name, value))
            if stale and backend:
                self._record_backend({name: found[name] or "" for name in stale}, backend)

    def _record_backend(self, tokens: Mapping[str, str], backend: str) -> None:
        """config.toml records `backend` for these profiles, if their token is still the one read."""
        from .text import fingerprint

        config = self.config()
        tables = table(config, "profiles", self.config_path)
        changed = False
        for name, token in tokens.items():
            found = tables.get(name)
            if isinstance(found, dict) and found.get("fingerprint") in (None, fingerprint(token)):
                found["keyring_backend"], changed = backend, True
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
        if not self.keyring.legacy_service:
            return False
        mine = self.keyring.legacy_entries({name: self.profile(name).fingerprint}).get(name)
        return bool(mine) and not self._default_folder_keeps(name, mine or "") and self.keyring.delete_legacy(name)


class KeyringBatch:
    """The keyring entries of many profiles (`kept`), read in one conversation when the first is
    asked for (Store.keyring_tokens: one connection, one unlock, one search); a failure of that
    read is the keyring's for them all, and nobody waits for the keyring again. An entry left out
    of it (not text), or of a profile not in `kept`, is read alone, which says what is wrong with
    it. For status (tokens) and refresh --all (tokens and refresh tokens)."""

    def __init__(self, store: Store, kept: Mapping[str, Profile], refresh_tokens: bool = False) -> None:
        self.store, self.kept, self.refresh_tokens = store, kept, refresh_tokens
        self.found: dict[str, str | None] | MetrikaError | None = None

    def token(self, name: str, profile: Profile) -> str | None:
        found = self._read(name, profile)
        if name not in found:
            found[name] = self.store.keyring_token(name, profile)
        return found[name]

    def refresh_token(self, name: str, profile: Profile) -> str | None:
        found, key = self._read(name, profile), name + REFRESH_SUFFIX
        if key not in found:
            found[key] = self.store.keyring.get(key)
        return found[key]

    def _read(self, name: str, profile: Profile) -> dict[str, str | None]:
        if self.found is None:
            try:
                self.found = self.store.keyring_tokens(self.kept or {name: profile}, self.refresh_tokens)
            except MetrikaError as exc:
                self.found = exc
        if isinstance(self.found, MetrikaError):
            raise self.found
        return self.found


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
