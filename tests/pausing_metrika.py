"""`python pausing_metrika.py STEP MARKER ARGS…`: `metrika ARGS` that stops at STEP of a login, creates
the file MARKER and sleeps, so a test can kill it (-9, or Ctrl-C) exactly there. Tests only.

Steps (of `Store.save`):
- ``token-written``: the new token is stored (keyring or credentials.toml); config.toml, the
  commit, is about to be written;
- ``credentials-renaming``: credentials.toml's new copy, with the token, is complete in its
  temporary file and about to replace the old one;
- ``commit-renaming``: config.toml's new copy is complete in its temporary file and about to
  replace the old one;
- ``refresh-writing``: the new token is in the keyring, its refresh token is about to be written;
- ``committed``: config.toml is replaced; the old copy in the other storage is about to be removed;
- ``none``: no stop of its own (a keyring backend may stop instead).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from metrika_cli import store
from metrika_cli.main import main


def install(step: str, marker: Path) -> None:
    def pause() -> None:
        marker.write_text("paused\n")
        time.sleep(600)

    if step == "token-written":
        write_toml = store.write_toml

        def write_toml_pausing(path: Path, data: dict[str, Any]) -> None:
            if path.name == "config.toml":
                pause()
            write_toml(path, data)

        store.write_toml = write_toml_pausing
    elif step in ("credentials-renaming", "commit-renaming"):
        name = "credentials.toml" if step == "credentials-renaming" else "config.toml"
        replace = os.replace

        def replace_pausing(source: Any, destination: Any) -> None:
            if Path(destination).name == name:
                pause()
            replace(source, destination)

        os.replace = replace_pausing
    elif step == "refresh-writing":
        set_password = store.Keyring.set

        def set_pausing(self: store.Keyring, profile: str, token: str) -> None:
            if profile.endswith("#refresh"):
                pause()
            set_password(self, profile, token)

        store.Keyring.set = set_pausing  # type: ignore[method-assign]
    elif step == "committed":
        remove = store.Store._remove_token

        def remove_pausing(self: store.Store, name: str, storage: str | None) -> bool:
            pause()
            return remove(self, name, storage)

        store.Store._remove_token = remove_pausing  # type: ignore[method-assign]
    elif step != "none":
        raise SystemExit(f"unknown step {step!r}")


if __name__ == "__main__":
    step, marker, *args = sys.argv[1:]
    install(step, Path(marker))
    sys.exit(main(args))
