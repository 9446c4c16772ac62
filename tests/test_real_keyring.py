"""The token through a real Secret Service: gnome-keyring-daemon in a private D-Bus session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import CLIENT_ID, OTHER_TOKEN, TOKEN, keyring_service


def files_containing(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_login_then_token_through_the_os_keyring(fake, metrika, real_keyring, isolated, tmp_path):
    result = metrika("login", "--with-token", "--client-id", CLIENT_ID, input=TOKEN)
    assert result.code == 0, result.stderr
    assert f"Stored in the keyring: Secret Service (service {keyring_service()})." in result.stderr
    assert metrika("token").stdout == TOKEN + "\n"
    assert 'storage = "keyring"' in (isolated / "config.toml").read_text()
    assert not (isolated / "credentials.toml").exists()
    assert files_containing(tmp_path, TOKEN[8:24]) == []


def test_the_keyring_entry_is_the_folders_service_user_profile(fake, metrika, real_keyring):
    metrika("login", "--with-token", "--profile", "work", "--client-id", CLIENT_ID, input=TOKEN)
    read = subprocess.run(
        [sys.executable, "-c", f"import keyring; print(keyring.get_password({keyring_service()!r}, 'work'))"],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ),
    )
    assert read.stdout.strip() == TOKEN


def test_logout_deletes_the_keyring_entry(fake, metrika, real_keyring):
    metrika("login", "--with-token", "--client-id", CLIENT_ID, input=TOKEN)
    assert metrika("logout").code == 0
    assert metrika("token").code == 3


def test_moving_from_plain_text_to_the_keyring_removes_the_plain_text_copy(fake, metrika, real_keyring, isolated):
    fake.add_token(OTHER_TOKEN)
    assert metrika("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID, input=OTHER_TOKEN).code == 0
    assert OTHER_TOKEN in (isolated / "credentials.toml").read_text()
    assert metrika("login", "--with-token", "--client-id", CLIENT_ID, input=TOKEN).code == 0
    assert OTHER_TOKEN not in (isolated / "credentials.toml").read_text()
    assert metrika("token").stdout == TOKEN + "\n"


def test_whoami_names_the_secret_service_once_and_json_its_backend(fake, metrika, real_keyring):
    assert metrika("login", "--with-token", "--client-id", CLIENT_ID, input=TOKEN).code == 0
    whoami = metrika("whoami")
    assert whoami.code == 0, whoami.output
    (row,) = [line for line in whoami.stdout.splitlines() if line.startswith("token ")]
    assert row.endswith(f", keyring: Secret Service (service {keyring_service()})")  # once, and by its name
    document = json.loads(metrika("whoami", "--json").stdout)
    assert document["storage"] == {"kind": "keyring", "backend": "keyring.backends.SecretService.Keyring", "path": None}
