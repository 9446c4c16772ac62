"""`metrika logout --revoke`, end to end against the fake's OAuth: the token is revoked at Yandex
first and forgotten only then; each way it cannot be revoked forgets nothing, exits non-zero and
says where to revoke it by hand."""

from __future__ import annotations

import tomllib
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from conftest import CLIENT_ID, TOKEN, closed_port, disk_full_at_the_config_commit
from keyring_backends import FileKeyring
from test_refresh import SECRET, WITH_SECRET, pasted, renewable

DATA_ACCESS = "https://id.yandex.ru/personal/data-access"


def profiles(directory: Path) -> dict:
    path = directory / "config.toml"
    return tomllib.loads(path.read_text()).get("profiles", {}) if path.exists() else {}


def files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in directory.glob("*.toml")}


@pytest.mark.parametrize("keyring", [False, True])
def test_revoke_revokes_at_yandex_first_then_forgets(fake, metrika, isolated, keyring_file, keyring):
    issued = renewable(fake, isolated, keyring=keyring)
    result = metrika("logout", "--revoke", env=WITH_SECRET)
    assert result.code == 0, result.output
    assert "Revoked the token of profile default and forgot it." in result.stderr
    (request,) = fake.requests_to("/revoke_token", method="POST")
    sent = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
    assert sent == {"access_token": issued.access_token, "client_id": CLIENT_ID, "client_secret": SECRET}
    assert issued.access_token not in fake.accounts  # it no longer works at Yandex
    assert profiles(isolated) == {} and FileKeyring.entries() == {}
    assert issued.access_token not in result.output and SECRET not in result.output


def test_a_pasted_token_cannot_be_revoked_and_nothing_is_forgotten(fake, metrika, isolated):
    pasted(metrika, "default")
    before = files(isolated)
    fake.requests.clear()
    result = metrika("logout", "--revoke", env=WITH_SECRET)
    assert result.code == 2, result.output
    assert "issued without a device_id" in result.stderr and DATA_ACCESS in result.stderr
    assert "`metrika logout`" in result.stderr
    assert files(isolated) == before and fake.requests == []
    assert metrika("token").stdout == TOKEN + "\n"


def test_yandex_refusing_a_token_without_device_id_forgets_nothing(fake, metrika, isolated):
    issued = renewable(fake, isolated)
    fake.issued[issued.access_token].device_id = ""  # Yandex knows it as issued without one
    before = files(isolated)
    result = metrika("logout", "--revoke", env=WITH_SECRET)
    assert result.code == 2, result.output
    assert "device_id" in result.stderr and DATA_ACCESS in result.stderr
    assert files(isolated) == before


def test_without_the_secret_nothing_is_sent_and_nothing_forgotten(fake, metrika, isolated):
    renewable(fake, isolated)
    before = files(isolated)
    fake.requests.clear()
    result = metrika("logout", "--revoke")
    assert result.code == 2, result.output
    assert "METRIKA_CLIENT_SECRET" in result.stderr and DATA_ACCESS in result.stderr
    assert files(isolated) == before and fake.requests == []


def test_a_wrong_secret_forgets_nothing(fake, metrika, isolated):
    issued = renewable(fake, isolated)
    before = files(isolated)
    result = metrika("logout", "--revoke", env={"METRIKA_CLIENT_SECRET": "e" * 32})
    assert result.code == 2, result.output
    assert "refused the app's secret" in result.stderr and "e" * 32 not in result.output
    assert files(isolated) == before and issued.access_token in fake.accounts


def test_yandex_out_of_reach_is_retry_later_and_forgets_nothing(fake, metrika, isolated):
    renewable(fake, isolated)
    before = files(isolated)
    result = metrika(
        "logout", "--revoke", env={**WITH_SECRET, "METRIKA_OAUTH_URL": f"http://127.0.0.1:{closed_port()}"}
    )
    assert result.code == 6, result.output
    assert "nothing was forgotten" in result.stderr and DATA_ACCESS not in result.stderr
    assert files(isolated) == before


def test_revoke_all_forgets_those_revoked_and_keeps_the_others(fake, metrika, isolated):
    first = renewable(fake, isolated, "a", login="a")
    pasted(metrika, "b")
    second = renewable(fake, isolated, "c", login="c")
    result = metrika("logout", "--all", "--revoke", "--yes", env=WITH_SECRET)
    assert result.code == 2, result.output
    assert set(profiles(isolated)) == {"b"}
    assert first.access_token not in fake.accounts and second.access_token not in fake.accounts
    assert "profile b cannot be revoked" in result.stderr


def test_nothing_stored_is_nothing_to_revoke(fake, metrika, isolated):
    result = metrika("logout", "--revoke", env=WITH_SECRET)
    assert result.code == 0 and "Nothing was stored for profile default." in result.stderr
    assert fake.requests == []


def test_revoked_but_not_forgotten_says_so_and_how_to_finish(fake, metrika, isolated, monkeypatch):
    issued = renewable(fake, isolated)
    with disk_full_at_the_config_commit():
        result = metrika("logout", "--revoke", env=WITH_SECRET)
    assert result.code == 1, result.output
    assert "Revoked at Yandex, but not forgotten here" in result.stderr
    assert "`metrika logout`" in result.stderr
    assert issued.access_token not in fake.accounts
