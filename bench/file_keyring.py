"""A tiny keyring backend that keeps passwords in one JSON file (BENCH_KEYRING_FILE).

For bench/ only: the baseline and `metrika token` then read the same backend, without D-Bus,
so the ratio measures metrika's own start-up and nothing else. Written atomically (a temporary
file renamed over it): `refresh --all` reads one profile while it stores another.
"""

from __future__ import annotations

import json
import os

from keyring.backend import KeyringBackend


class Keyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def _load(self) -> dict:
        try:
            with open(os.environ["BENCH_KEYRING_FILE"], encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def _save(self, data: dict) -> None:
        path = os.environ["BENCH_KEYRING_FILE"]
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(path + ".tmp", path)

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}/{username}"] = password
        self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        data.pop(f"{service}/{username}", None)
        self._save(data)
