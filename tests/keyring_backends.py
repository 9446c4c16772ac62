"""Keyring backends that misbehave, for tests only.

Loaded by the `metrika` subprocess through ``PYTHON_KEYRING_BACKEND=keyring_backends.<Name>``
with ``tests/`` on ``PYTHONPATH`` (see :func:`backend_env`). Each one looks like a real,
working keyring to ``keyring`` (it is not the `fail` or `null` backend) and then fails
in its own way when metrika reads or writes a password.
"""

from __future__ import annotations

import time
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError, PasswordSetError

HANG_SECONDS = 600.0
TESTS = Path(__file__).resolve().parent


def backend_env(name: str) -> dict[str, str]:
    """The environment that makes `metrika` use the backend class `name` of this module."""
    import os

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
