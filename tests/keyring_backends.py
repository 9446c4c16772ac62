"""Keyring backends that misbehave, for tests only.

Loaded by the `metrika` subprocess through ``PYTHON_KEYRING_BACKEND=keyring_backends.<Name>``
with ``tests/`` on ``PYTHONPATH`` (see :func:`backend_env`). Each one looks like a real,
working keyring to ``keyring`` (it is not the `fail` or `null` backend) and then fails
in its own way when metrika reads or writes a password.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError, PasswordSetError

HANG_SECONDS = 600.0
TESTS = Path(__file__).resolve().parent


FILE_VARIABLE = "METRIKA_TEST_KEYRING_FILE"  # the JSON file FileKeyring keeps its entries in
PAUSED_VARIABLE = "METRIKA_TEST_KEYRING_PAUSED"  # a file StoreThenHangKeyring creates once it has stored


def backend_env(name: str) -> dict[str, str]:
    """The environment that makes `metrika` use the backend class `name` of this module."""
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH", "")]))
    return {"PYTHON_KEYRING_BACKEND": f"keyring_backends.{name}", "PYTHONPATH": path}


class _Test(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError

    def delete_password(self, service: str, username: str) -> None:
        raise PasswordDeleteError("nothing stored")


class HangingKeyring(_Test):
    """A D-Bus that never answers: every call sleeps for ten minutes."""

    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(HANG_SECONDS)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        time.sleep(HANG_SECONDS)

    def delete_password(self, service: str, username: str) -> None:
        time.sleep(HANG_SECONDS)


class LockedKeyring(_Test):
    """A keyring whose collection is locked and stays locked."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("the collection is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("the collection is locked")


class RefusingKeyring(_Test):
    """A keyring that refuses to store anything (PasswordSetError)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise PasswordSetError("the keyring refused the item")


class FileKeyring(_Test):
    """A working keyring kept in one JSON file (named by METRIKA_TEST_KEYRING_FILE), so a test, the
    in-process `metrika` and a `metrika` subprocess all see the same entries. Written atomically."""

    @staticmethod
    def path() -> Path:
        return Path(os.environ[FILE_VARIABLE])

    @classmethod
    def entries(cls) -> dict[str, str]:
        try:
            return json.loads(cls.path().read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    @classmethod
    def _save(cls, entries: dict[str, str]) -> None:
        temporary = cls.path().with_suffix(".tmp")
        temporary.write_text(json.dumps(entries), encoding="utf-8")
        os.replace(temporary, cls.path())

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        self._save({**self.entries(), f"{service}/{username}": password})

    def delete_password(self, service: str, username: str) -> None:
        entries = self.entries()
        if entries.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError("nothing stored")
        self._save(entries)


class StoreThenHangKeyring(FileKeyring):
    """Stores the password, then does not answer (a D-Bus that dies after the write): creates the
    file METRIKA_TEST_KEYRING_PAUSED names, if set, and sleeps for ten minutes."""

    def set_password(self, service: str, username: str, password: str) -> None:
        super().set_password(service, username, password)
        if os.environ.get(PAUSED_VARIABLE):
            Path(os.environ[PAUSED_VARIABLE]).write_text("stored\n")
        time.sleep(HANG_SECONDS)


class BytesKeyring(_Test):
    """Answers bytes where a password is text."""

    def get_password(self, service: str, username: str) -> str | None:
        return b"y0__xBytesTokenAbCdEfGh0123456789_QrStUvWxYz"  # type: ignore[return-value]


class IntKeyring(_Test):
    """Answers a number where a password is text."""

    def get_password(self, service: str, username: str) -> str | None:
        return 42  # type: ignore[return-value]


class UnloadableKeyring(_Test):
    """A backend that cannot even be loaded: whoever loads it gets a RuntimeError saying so."""

    def __init__(self) -> None:
        raise RuntimeError("UnloadableKeyring was loaded")
