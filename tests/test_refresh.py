"""`metrika refresh`, end to end against the fake's OAuth: a renewal is stored as a login is (checked
first; token, refresh token and metadata together), and each way it can fail leaves what was
stored as it was, with its own exit code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from conftest import CLIENT_ID, TOKEN, disk_full_at_the_config_commit, keyring_service
from fake_yandex import Account
from keyring_backends import FileKeyring, backend_env

from metrika_cli import store as store_module
from metrika_cli.errors import ConfigError
from metrika_cli.files import default_config_dir
from metrika_cli.store import Profile, Store
from metrika_cli.text import fingerprint

SECRET = "0123456789abcdef0123456789abcdef"  # the fake app's secret
WITH_SECRET = {"METRIKA_CLIENT_SECRET": SECRET}
TESTS = Path(__file__).resolve().parent


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat(timespec="seconds")


def renewable(fake, directory: Path, name: str = "default", login: str = "vasya", days: float = 300, **kw):
    """A profile as metrika's code login leaves it: a token issued with a device_id, its refresh
    token beside it (credentials.toml, or the keyring with `keyring=True`), the expiry recorded."""
    fake.app(CLIENT_ID)
    account = Account(login=login, uid=str(1_000_000 + sum(map(ord, login))), counters=[{"id": 101}])
    issued = fake.issue(CLIENT_ID, device_id=f"metrika-{name}", account=account)
    keyring = kw.pop("keyring", False)
    store = Store(
        directory, "keyring_backends.FileKeyring" if keyring else None, default_directory=default_config_dir(os.environ)
    )
    profile = Profile(
        client_id=CLIENT_ID, login=login, uid=account.uid, expires_at=in_days(days), device_id=f"metrika-{name}"
    )
    store.save(name, issued.access_token, profile, insecure=not keyring, refresh_token=issued.refresh_token)
    return issued


def pasted(metrika, name: str = "pasted", days: int = 300) -> None:
    """A profile whose token was pasted: no refresh token, no device_id."""
    address = f"https://oauth.yandex.ru/verification_code#access_token={TOKEN}&expires_in={days * 86400}"
    args = ("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID, "--profile", name)
    assert metrika(*args, input=address).code == 0


def stored(directory: Path) -> tuple[dict, dict]:
    config = tomllib.loads((directory / "config.toml").read_text())["profiles"]
    path = directory / "credentials.toml"
    credentials = tomllib.loads(path.read_text()).get("profiles", {}) if path.exists() else {}
    return config, credentials


def refresh_requests(fake) -> list[dict[str, str]]:
    return [
        {key: values[0] for key, values in parse_qs(r.body.decode()).items()}
        for r in fake.requests_to("/token", method="POST")
    ]


# ---- renewing --------------------------------------------------------------------------


def test_refresh_renews_the_current_profile_and_the_new_refresh_token_replaces_the_old(fake, metrika, isolated):
    old = renewable(fake, isolated, days=10)
    result = metrika("refresh", env=WITH_SECRET)
    assert result.code == 0, result.output
    assert "Renewed the token of profile default." in result.stderr
    config, credentials = stored(isolated)
    new_token, new_refresh = credentials["default"]["token"], credentials["default"]["refresh_token"]
    assert new_token != old.access_token and new_refresh != old.refresh_token
    assert config["default"]["fingerprint"] == fingerprint(new_token)
    assert config["default"]["renewable"] is True and config["default"]["device_id"] == "metrika-default"
    assert config["default"]["expires_at"][:10] == in_days(365)[:10]
    assert config["default"]["login"] == "vasya" and config["default"]["client_id"] == CLIENT_ID
    (sent,) = refresh_requests(fake)
    assert sent == {
        "grant_type": "refresh_token",
        "refresh_token": old.refresh_token,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
    }
    assert old.refresh_token not in fake.refresh_tokens and new_refresh in fake.refresh_tokens
    # the new token was checked as a login checks one, and works
    assert fake.requests_to("/info") and fake.requests_to("/management/v1/counters")
    assert metrika("token").stdout == new_token + "\n"
    assert metrika("whoami").code == 0
    for secret in (new_token, new_refresh, old.refresh_token, SECRET):
        assert secret not in result.output


def test_refresh_in_the_keyring_replaces_token_and_refresh_token_there(fake, metrika, isolated, keyring_file):
    old = renewable(fake, isolated, keyring=True)
    result = metrika("refresh", "--profile", "default", env=WITH_SECRET)
    assert result.code == 0, result.output
    entries = FileKeyring.entries()
    token, refresh = entries[f"{keyring_service()}/default"], entries[f"{keyring_service()}/default#refresh"]
    assert token != old.access_token and refresh in fake.refresh_tokens
    config, credentials = stored(isolated)
    assert config["default"]["storage"] == "keyring" and config["default"]["fingerprint"] == fingerprint(token)
    assert credentials == {}


def test_expiring_within_renews_only_the_tokens_with_fewer_days_left(fake, metrika, isolated):
    renewable(fake, isolated, "soon", login="a", days=10)
    renewable(fake, isolated, "later", login="b", days=200)
    renewable(fake, isolated, "edge", login="c", days=30)
    pasted(metrika, "pasted-later", days=300)
    before = stored(isolated)[0]
    result = metrika("refresh", "--all", "--expiring-within", "30", "--json", env=WITH_SECRET)
    assert result.code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["exit_code"] == 0
    items = {item["profile"]: item for item in document["profiles"]}
    assert list(items) == ["edge", "later", "pasted-later", "soon"]
    assert {name: item["renewed"] for name, item in items.items()} == {
        "edge": False,
        "later": False,
        "pasted-later": False,
        "soon": True,
    }
    assert items["soon"]["days_left"] == 365 and items["later"]["days_left"] == 200
    assert items["edge"]["days_left"] == 30 and "Not due" in items["edge"]["summary"]
    assert all(item["diagnosis"] == "ok" and item["fix"] == [] for item in items.values())
    after = stored(isolated)[0]
    assert {name for name in after if after[name] != before[name]} == {"soon"}
    assert len(refresh_requests(fake)) == 1


def test_nothing_due_needs_no_secret_and_asks_nobody(fake, metrika, isolated):
    renewable(fake, isolated, days=200)
    fake.requests.clear()
    result = metrika("refresh", "--expiring-within", "30")
    assert result.code == 0, result.output
    assert "Not due: the token of profile default expires on" in result.stderr
    assert fake.requests == []


def test_profile_given_more_than_once_selects_several_in_that_order(fake, metrika, isolated):
    for name in ("a", "b", "c"):
        renewable(fake, isolated, name, login=name)
    result = metrika("refresh", "--profile", "c", "--profile", "a", "--json", env=WITH_SECRET)
    assert result.code == 0, result.output
    assert [item["profile"] for item in json.loads(result.stdout)["profiles"]] == ["c", "a"]
    assert len(refresh_requests(fake)) == 2
    assert "2 renewed" in metrika("refresh", "--all", env=WITH_SECRET).stderr.replace("3 renewed", "2 renewed")


def test_the_global_profile_option_selects_it_too(fake, metrika, isolated):
    renewable(fake, isolated, "acme", login="acme")
    result = metrika("--profile", "acme", "refresh", "--json", env=WITH_SECRET)
    assert result.code == 0, result.output
    assert [item["profile"] for item in json.loads(result.stdout)["profiles"]] == ["acme"]


# ---- what is not renewed, and why ------------------------------------------------------


def test_a_pasted_token_is_not_renewable_and_names_the_login_that_gives_one(fake, metrika, isolated):
    pasted(metrika, "acme")
    fake.requests.clear()
    result = metrika("refresh", "--profile", "acme", env=WITH_SECRET)
    assert result.code == 3, result.output
    assert "cannot be renewed" in result.stderr and "metrika login --profile acme" in result.stderr
    assert fake.requests == []
    (item,) = json.loads(metrika("refresh", "--profile", "acme", "--json").stdout)["profiles"]
    assert item["diagnosis"] == "no_token" and item["exit_code"] == 3 and item["renewed"] is False
    assert "metrika login --profile acme" in item["fix"][0]


def test_a_dead_refresh_token_means_log_in_again_and_changes_nothing(fake, metrika, isolated):
    old = renewable(fake, isolated, "acme", login="acme")
    fake.refresh_tokens.clear()  # revoked, expired, or the password changed
    before = stored(isolated)
    result = metrika("refresh", "--profile", "acme", env=WITH_SECRET)
    assert result.code == 4, result.output
    assert "token_invalid" in result.stderr and "no longer accepts the refresh token" in result.stderr
    assert "metrika login --profile acme" in result.stderr
    assert stored(isolated) == before and before[1]["acme"]["refresh_token"] == old.refresh_token


def test_without_the_secret_exit_2_naming_the_variable_and_nothing_is_sent(fake, metrika, isolated):
    renewable(fake, isolated)
    pasted(metrika)
    fake.requests.clear()
    result = metrika("refresh", "--all")
    assert result.code == 2, result.output  # 2 whatever else failed: the secret is what is missing
    assert "METRIKA_CLIENT_SECRET" in result.stderr and f"oauth.yandex.ru/client/{CLIENT_ID}" in result.stderr
    assert fake.requests == []
    document = json.loads(metrika("refresh", "--all", "--json").stdout)
    assert document["exit_code"] == 2
    assert [item["diagnosis"] for item in document["profiles"]] == ["bad_input", "no_token"]


def test_a_wrong_secret_is_exit_2_and_changes_nothing(fake, metrika, isolated):
    renewable(fake, isolated)
    before = stored(isolated)
    result = metrika("refresh", env={"METRIKA_CLIENT_SECRET": "f" * 32})
    assert result.code == 2, result.output
    assert "refused the app's secret" in result.stderr and "METRIKA_CLIENT_SECRET" in result.stderr
    assert "f" * 32 not in result.output
    assert stored(isolated) == before


def test_a_renewed_token_of_another_account_fails_the_check_and_is_not_stored(fake, metrika, isolated):
    renewable(fake, isolated)
    config = (isolated / "config.toml").read_text()
    (isolated / "config.toml").write_text(config.replace('login = "vasya"', 'login = "petya"'))
    before = stored(isolated)
    result = metrika("refresh", "--json", env=WITH_SECRET)
    assert result.code == 5, result.output
    (item,) = json.loads(result.stdout)["profiles"]
    assert item["diagnosis"] == "wrong_account" and item["renewed"] is False
    assert item["summary"].startswith("The renewed token did not pass the check, so nothing was stored")
    assert stored(isolated) == before


def test_a_renewal_metrika_cannot_check_now_is_stored_with_a_warning(fake, metrika, isolated):
    """Yandex has spent the old refresh token: a renewal not stored would be lost for a busy Metrika."""
    old = renewable(fake, isolated)
    fake.fail("/management/", "status", status=503)
    result = metrika("refresh", env=WITH_SECRET)
    assert result.code == 0, result.output
    assert "stored without the check a login makes" in result.stderr
    _config, credentials = stored(isolated)
    assert credentials["default"]["refresh_token"] in fake.refresh_tokens
    assert old.refresh_token not in fake.refresh_tokens
    fake.clear_faults()
    assert metrika("whoami").code == 0


def test_the_network_failing_at_token_is_retry_later(fake, metrika, isolated):
    renewable(fake, isolated)
    before = stored(isolated)
    fake.fail("/token", "cut")
    result = metrika("refresh", env=WITH_SECRET)
    assert result.code == 6, result.output
    assert "network_error" in result.stderr and "Yandex OAuth" in result.stderr
    assert stored(isolated) == before


def test_failures_that_differ_exit_1_and_each_is_said(fake, metrika, isolated):
    renewable(fake, isolated, "good", login="good")
    renewable(fake, isolated, "dead", login="dead")
    pasted(metrika, "pasted")
    dead = stored(isolated)[1]["dead"]["refresh_token"]
    del fake.refresh_tokens[dead]
    result = metrika("refresh", "--all", env=WITH_SECRET)
    assert result.code == 1, result.output
    assert "dead: token_invalid:" in result.stderr and "pasted: no_token:" in result.stderr
    assert "1 renewed, 1 no_token, 1 token_invalid" in result.stderr


def test_a_profile_that_is_not_stored_is_no_token_with_the_closest_names(fake, metrika, isolated):
    renewable(fake, isolated, "acme", login="acme")
    result = metrika("refresh", "--profile", "acne", env=WITH_SECRET)
    assert result.code == 3, result.output
    assert "No profile named acne is stored" in result.stderr and "Did you mean acme?" in result.stderr


def test_all_with_nothing_stored_is_no_token_and_all_with_profile_is_bad_usage(fake, metrika, isolated):
    assert metrika("refresh", "--all").code == 3
    renewable(fake, isolated)
    result = metrika("refresh", "--all", "--profile", "default", "--json")
    assert result.code == 2 and json.loads(result.stdout)["diagnosis"] == "bad_input"


def test_a_token_its_metadata_does_not_describe_is_never_renewed(fake, metrika, isolated):
    renewable(fake, isolated)
    credentials = (isolated / "credentials.toml").read_text()
    token = tomllib.loads(credentials)["profiles"]["default"]["token"]
    (isolated / "credentials.toml").write_text(credentials.replace(token, "y0__xSomeOtherTokenAbCdEfGh0123456789_QrSt"))
    fake.requests.clear()
    result = metrika("refresh", env=WITH_SECRET)
    assert result.code == 3, result.output
    assert "is not the one its metadata describes" in result.stderr
    assert fake.requests == []


# ---- the transaction -------------------------------------------------------------------


def test_a_keyring_that_stores_and_then_hangs_never_pairs_the_new_token_with_old_metadata(
    fake, metrika, isolated, keyring_file
):
    old = renewable(fake, isolated, keyring=True)
    result = metrika("refresh", env={**WITH_SECRET, **backend_env("StoreThenHangKeyring")}, keyring_timeout=0.3)
    assert result.code == 7, result.output
    after = metrika("token")
    config = stored(isolated)[0]["default"]
    assert config["fingerprint"] == fingerprint(old.access_token)
    assert (after.code == 0 and after.stdout == old.access_token + "\n") or after.code == 3


def test_disk_full_at_the_commit_keeps_the_old_token_and_refresh_token(fake, metrika, isolated, monkeypatch):
    old = renewable(fake, isolated)
    before = stored(isolated)
    with disk_full_at_the_config_commit():
        result = metrika("refresh", env=WITH_SECRET)
    assert result.code == 1, result.output
    assert "no space left on the device" in result.stderr
    assert stored(isolated) == before
    assert metrika("token").stdout == old.access_token + "\n"


def refresh_stopped_at_the_commit(marker: Path) -> subprocess.Popen:
    """`metrika refresh` stopped where the new token and refresh token are written and config.toml,
    the commit, is next."""
    process = subprocess.Popen(
        [sys.executable, str(TESTS / "pausing_metrika.py"), "token-written", str(marker), "refresh"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **WITH_SECRET},
    )
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "refresh never reached the commit"
        time.sleep(0.01)
    return process


@pytest.mark.parametrize("storage", ["keyring", "file"])
def test_kill_9_before_the_commit_leaves_the_old_token_or_a_named_mismatch(
    fake, metrika, isolated, keyring_file, tmp_path, storage
):
    old = renewable(fake, isolated, keyring=storage == "keyring")
    before = stored(isolated)[0]
    process = refresh_stopped_at_the_commit(tmp_path / "paused")
    process.kill()
    process.communicate(timeout=15)
    assert stored(isolated)[0] == before  # config.toml, the commit, never happened
    result = metrika("token")
    if result.code == 0:
        assert result.stdout == old.access_token + "\n"
    else:  # the new token was written, the metadata still describes the old one: named, never used
        assert result.code == 3 and "metrika login --profile default" in result.stderr
        assert fingerprint(old.access_token) in result.stderr


def test_ctrl_c_while_yandex_is_asked_changes_nothing(fake, isolated, keyring_file):
    renewable(fake, isolated, keyring=True)
    keyring_before, before = FileKeyring.entries(), stored(isolated)
    fake.fail("/token", "hang", seconds=20)
    process = subprocess.Popen(
        [sys.executable, "-m", "metrika_cli", "refresh"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **WITH_SECRET, "METRIKA_TIMEOUT": "30"},
    )
    deadline = time.monotonic() + 30
    while not fake.requests_to("/token"):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _stdout, stderr = process.communicate(timeout=15)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert FileKeyring.entries() == keyring_before and stored(isolated) == before


# ---- whoami and status say it ----------------------------------------------------------


def test_whoami_and_status_say_whether_a_profile_is_renewable(fake, metrika, isolated):
    renewable(fake, isolated, "code", login="vasya")
    pasted(metrika, "pasted")
    documents = {name: json.loads(metrika("whoami", "--json", "--profile", name).stdout) for name in ("code", "pasted")}
    assert documents["code"]["renewable"] is True and documents["pasted"]["renewable"] is False
    environment = json.loads(metrika("whoami", "--json", env={"METRIKA_TOKEN": TOKEN}).stdout)
    assert environment["renewable"] is None
    nothing = json.loads(metrika("whoami", "--json", "--profile", "nobody").stdout)
    assert nothing["renewable"] is None
    assert "renewal   yes, with `metrika refresh`" in metrika("whoami", "--profile", "code").stdout
    assert "metrika login --profile pasted` gives a renewable one" in metrika("whoami", "--profile", "pasted").stdout
    status = json.loads(metrika("status", "--json").stdout)
    assert {item["profile"]: item["renewable"] for item in status["profiles"]} == {"code": True, "pasted": False}
    offline = json.loads(metrika("status", "--offline", "--json").stdout)
    assert {item["profile"]: item["renewable"] for item in offline["profiles"]} == {"code": True, "pasted": False}
    rows = [line.split() for line in metrika("status").stdout.splitlines()]
    assert [(row[0], row[4]) for row in rows] == [("code", "yes"), ("pasted", "no")]


def test_renewals_stored_in_one_batch_change_together_or_not_at_all(fake, isolated, keyring_file, monkeypatch):
    first = renewable(fake, isolated, "a", login="a", keyring=True)
    second = renewable(fake, isolated, "b", login="b")
    keyring_before, config_before = FileKeyring.entries(), (isolated / "config.toml").read_bytes()
    credentials_before = (isolated / "credentials.toml").read_bytes()
    store = Store(isolated, "keyring_backends.FileKeyring", default_directory=default_config_dir(os.environ))
    profiles = store.profiles()
    entries = [
        ("a", "y0__xNewTokenOfAAbCdEfGh0123456789_QrStUvWxYz", profiles["a"], False, "1:new-a"),
        ("b", "y0__xNewTokenOfBAbCdEfGh0123456789_QrStUvWxYz", profiles["b"], True, "1:new-b"),
    ]
    real_write = store_module.write_toml

    def full_disk_at_the_commit(path, data):
        if path.name == "config.toml":
            raise ConfigError("Cannot write config.toml: no space left on the device.")
        real_write(path, data)

    monkeypatch.setattr(store_module, "write_toml", full_disk_at_the_commit)
    with pytest.raises(ConfigError):
        store.save_many(entries)
    assert FileKeyring.entries() == keyring_before
    assert (isolated / "config.toml").read_bytes() == config_before
    assert (isolated / "credentials.toml").read_bytes() == credentials_before
    monkeypatch.setattr(store_module, "write_toml", real_write)
    store.save_many(entries)
    assert FileKeyring.entries()[f"{keyring_service()}/a#refresh"] == "1:new-a"
    assert tomllib.loads((isolated / "credentials.toml").read_text())["profiles"]["b"]["refresh_token"] == "1:new-b"
    assert {first.access_token, second.access_token}.isdisjoint(FileKeyring.entries().values())


# ---- many profiles in the keyring ------------------------------------------------------

OLD_SHAPES = [  # the tokens stored before the renewal, of every shape people have
    "y0__xFolderTokenAbCdEfGh0123456789_QrStUvWxYz-abcdefghijk",
    "y0_AgAAAABkZXZlbG9wZXJfdG9rZW5fZm9yX3Rlc3RzXzEyMzQ1Njc4",
    "AQAAAAAbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "0123456789abcdef0123456789abcdef",
    "odd-lower-case-token-0123456789abcdefghij",
]


def test_refresh_all_reads_every_token_and_refresh_token_in_one_secret_service_conversation(
    fake, metrika, isolated, real_keyring, monkeypatch
):
    """As status does: one connection, one unlock, one search, one GetSecrets for every profile,
    not two single reads a profile; the only single reads left are the transaction's own (what
    each write replaces, to put it back on a failure)."""
    from keyring.backends.SecretService import Keyring as SecretService

    from metrika_cli import keyrings

    store = Store(isolated, os.environ["PYTHON_KEYRING_BACKEND"], default_directory=default_config_dir(os.environ))
    names = [f"client-{number}" for number in range(len(OLD_SHAPES))]
    for name, old_token in zip(names, OLD_SHAPES, strict=True):
        account = Account(login=name, uid=str(2_000_000 + len(name + old_token)), counters=[{"id": 101}])
        issued = fake.issue(CLIENT_ID, device_id=f"metrika-{name}", account=account)
        profile = Profile(client_id=CLIENT_ID, login=name, uid=account.uid, expires_at=in_days(10))
        store.save(name, old_token, profile, insecure=False, refresh_token=issued.refresh_token)
    batches, single, written = [], [], []
    read_many, get_password, set_password = keyrings.read_many, SecretService.get_password, SecretService.set_password
    monkeypatch.setattr(keyrings, "read_many", lambda *args: batches.append(args[2]) or read_many(*args))
    monkeypatch.setattr(SecretService, "get_password", lambda self, *a: single.append(a[1]) or get_password(self, *a))
    monkeypatch.setattr(SecretService, "set_password", lambda self, *a: written.append(a[1]) or set_password(self, *a))
    result = metrika("refresh", "--all", "--json", env=WITH_SECRET)
    assert result.code == 0, result.output
    assert [item["renewed"] for item in json.loads(result.stdout)["profiles"]] == [True] * len(names)
    assert batches == [[*names, *(name + "#refresh" for name in names)]]
    assert sorted(single) == sorted(written) == sorted([*names, *(name + "#refresh" for name in names)])
    assert not set(OLD_SHAPES) & {metrika("token", "--profile", name).stdout.strip() for name in names}


# ---- at a terminal ---------------------------------------------------------------------


def test_at_a_terminal_refresh_asks_for_the_secret_hidden_keeps_it_and_asks_no_more(fake, isolated, real_keyring):
    import io

    from test_terminal import finish, spawn

    renewable(fake, isolated, days=10)
    store = Store(isolated, os.environ["PYTHON_KEYRING_BACKEND"], default_directory=default_config_dir(os.environ))
    try:
        child = spawn("refresh")
        child.logfile_read = transcript = io.StringIO()
        child.expect("Client secret")
        child.expect("App's secret")
        child.sendline(SECRET)
        child.expect(r"\[Y/n\]")
        child.sendline("")
        child.expect("Renewed the token of profile default.")
        assert finish(child) == 0
        assert SECRET not in transcript.getvalue() and SECRET[:8] not in transcript.getvalue()
        assert store.app_secret(CLIENT_ID) == SECRET
        again = spawn("refresh")
        again.expect("Renewed the token of profile default.")
        assert finish(again) == 0
        assert "App's secret" not in (again.before or "")
        assert len(refresh_requests(fake)) == 2
    finally:
        store.keyring.delete("client-secret:" + CLIENT_ID)


def test_a_renewable_token_near_its_expiry_points_at_refresh_not_at_a_new_login(fake, metrika, isolated):
    renewable(fake, isolated, "code", days=5)
    pasted(metrika, "pasted", days=5)
    assert "renew it with `metrika refresh --profile code`." in metrika("token", "--profile", "code").stderr
    assert "renew it with `metrika login --profile pasted`." in metrika("token", "--profile", "pasted").stderr


def test_a_daily_cron_run_with_nothing_due_says_one_line(fake, metrika, isolated):
    renewable(fake, isolated, "a", login="a", days=200)
    renewable(fake, isolated, "b", login="b", days=100)
    result = metrika("refresh", "--all", "--expiring-within", "30")
    assert result.code == 0 and result.stdout == ""
    assert result.stderr == "0 renewed, 2 not due\n"
