"""`metrika status`: many profiles at once against the loopback fake, its Metrika quotas on."""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from conftest import CLIENT_ID, OTHER_CLIENT_ID, OTHER_TOKEN, TOKEN, call_metrika
from keyring_backends import backend_env

from metrika_cli.env import Env
from metrika_cli.main import main
from metrika_cli.text import fingerprint

UNKNOWN_TOKEN = "y0__xRevokedTokenNotKnownAnywhere0123456789_abcdefghijklmn"
LINE_KEYS = {"schema", "ok", "diagnosis", "exit_code", "profile", "token", "identity", "summary", "fix"}
WHOAMI_KEYS = LINE_KEYS | {"warnings", "client_id_matches", "expires_at", "days_left", "counters", "accounts"}


def token_for(number: int) -> str:
    return f"y0__xStatusToken{number:05d}AbCdEfGh0123456789_QrStUvWxYz-abc"


def in_days(days: float, now: datetime | None = None) -> str:
    return ((now or datetime.now(UTC)) + timedelta(days=days)).isoformat(timespec="seconds")


def store_profiles(directory: Path, profiles: dict[str, dict[str, Any]], active: str | None = None) -> None:
    """Write config.toml and credentials.toml as `metrika login --insecure-storage` would, for
    many profiles at once: each value has `token` (in credentials.toml unless storage is
    "keyring") and the metadata (client_id, login, storage "file" unless said, expires_at…)."""
    config: dict[str, Any] = {"profiles": {}}
    credentials: dict[str, Any] = {"profiles": {}}
    for name, spec in profiles.items():
        meta = {"client_id": CLIENT_ID, "storage": "file", **{k: v for k, v in spec.items() if k != "token"}}
        config["profiles"][name] = {key: value for key, value in meta.items() if value is not None}
        if meta["storage"] == "file" and spec.get("token"):
            credentials["profiles"][name] = {"token": spec["token"]}
    if active:
        config["active_profile"] = active
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    (directory / "config.toml").write_text(tomli_w.dumps(config))
    (directory / "credentials.toml").write_text(tomli_w.dumps(credentials))
    for path in (directory / "config.toml", directory / "credentials.toml"):
        path.chmod(0o600)


def metrika_requests(fake) -> list:
    return [r for r in fake.requests if r.path.startswith(("/management/", "/stat/"))]


@contextlib.contextmanager
def first_on_the_cpu() -> Iterator[None]:
    """The fake and metrika run ahead of the other test workers (nice -10, as root may): this
    test is about their timing, and a fake starved of the CPU stamps requests late, in bunches,
    which looks like a burst that was never sent. Without the right to, it runs as it is."""
    threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    try:
        for tid in threads:
            os.setpriority(os.PRIO_PROCESS, tid, -10)
    except OSError:
        pass
    try:
        yield
    finally:
        for tid in threads:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, tid, 0)


# The 200-profile run at 4 times Metrika's rate, the fake's quota raised to match: the same
# schedule in a quarter of the time. bench/status.py measures the real rate.
FASTER = 4


def test_200_profiles_finish_at_the_quota_with_no_429_in_one_process(fake, isolated):
    count = 200
    fake.quota = True
    fake.per_ip_per_second = 30 * FASTER
    profiles = {}
    for number in range(count):
        token = token_for(number)
        fake.add_token(token, login=f"client-{number}", uid=str(2_000_000 + number), counters=[{"id": 10_000 + number}])
        profiles[f"client-{number:03d}"] = {"token": token, "login": f"client-{number}", "expires_at": in_days(300)}
    store_profiles(isolated, profiles)
    fake.latency = 0.1  # one at a time, 400 requests would take 40 s
    with first_on_the_cpu():
        result = call_metrika("status", "--json", quota_per_second=30 * FASTER)
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert [item["diagnosis"] for item in document["profiles"]] == ["ok"] * count
    assert fake.quota_rejections == []
    asked = metrika_requests(fake)
    assert len(asked) == 2 * count  # the first page of counters and the accounts, no more
    assert len(fake.requests_to("/info")) == count
    assert not fake.requests_to("/management/v1/accounts", method="PUT")
    # Profiles are checked side by side: requests are in flight together. How fast the whole
    # run is, against the quota's R/30 s, is bench/status.py's to measure.
    assert fake.most_in_flight(asked) >= 2
    assert TOKEN not in result.output and token_for(7) not in result.output


def mixed(fake, isolated, now: datetime | None = None) -> None:
    """ok, token_invalid, wrong_app and an ok token that expires in 5 days."""
    fake.quota = True
    fake.add_token(OTHER_TOKEN, login="petya", client_id=OTHER_CLIENT_ID, metrika=False)
    fake.add_represented(TOKEN, "client-a")
    store_profiles(
        isolated,
        {
            "default": {"token": TOKEN, "login": "vasya", "expires_at": in_days(300, now)},
            "gone": {"token": UNKNOWN_TOKEN, "login": "kolya", "expires_at": in_days(100, now)},
            "other-app": {"token": OTHER_TOKEN, "login": "petya"},
            "soon": {"token": TOKEN, "login": "vasya", "expires_at": in_days(5, now)},
        },
    )


def test_a_mix_is_reported_per_profile_and_differing_codes_exit_1(fake, isolated, metrika):
    mixed(fake, isolated)
    result = metrika("status", "--expiring-within", "7")
    assert result.code == 1, result.output
    lines = [line.split() for line in result.stdout.splitlines()]
    assert [line[0] for line in lines] == ["default*", "gone", "other-app", "soon"]
    assert {line[0]: line[-1] for line in lines} == {
        "default*": "ok",
        "gone": "token_invalid",
        "other-app": "wrong_app",
        "soon": "token_expiring",
    }
    assert lines[0] == ["default*", "vasya", "4760…", "file", "no", "300", "ok"]
    assert lines[2][1:6] == ["petya", "0f9e…", "file", "no", "-"]
    assert "1 ok, 1 token_invalid, 1 token_expiring, 1 wrong_app" in result.stderr
    assert "metrika whoami --profile gone" in result.stderr
    assert fake.quota_rejections == []


def test_failures_that_share_an_exit_code_give_that_code(fake, isolated, metrika):
    mixed(fake, isolated)
    result = metrika("status", "--expiring-within", "7", "--profile", "gone", "--profile", "soon")
    assert result.code == 4, result.output
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["gone", "soon"]
    assert metrika("status", "--profile", "default", "--profile", "soon").code == 0


def test_json_has_the_documented_shape_and_each_item_is_whoamis_document(fake, isolated, metrika):
    mixed(fake, isolated)
    result = metrika("status", "--json")
    assert result.code == 1
    document = json.loads(result.stdout)
    assert set(document) >= {"schema", "ok", "exit_code", "active_profile", "profiles"}
    assert document["schema"] == 1 and document["ok"] is False and document["exit_code"] == 1
    assert document["active_profile"] == "default"
    assert document["counts"] == {"ok": 2, "token_invalid": 1, "wrong_app": 1}
    items = {item["profile"]: item for item in document["profiles"]}
    assert list(items) == ["default", "gone", "other-app", "soon"]
    for item in items.values():
        assert set(item) >= WHOAMI_KEYS | {"active"}
    assert [item["active"] for item in items.values()] == [True, False, False, False]
    default = items["default"]
    assert default["identity"] == {"login": "vasya", "uid": "1000034426", "client_id": CLIENT_ID}
    assert default["token"] == {"source": "file", "fingerprint": fingerprint(TOKEN)}
    assert default["accounts"] == ["client-a"]
    assert default["counters"] == {"total": 3, "by_permission": {"own": 1, "view": 1, "edit": 1}}
    assert default["days_left"] == 300
    assert items["gone"]["exit_code"] == 4 and items["gone"]["accounts"] is None
    assert items["other-app"]["diagnosis"] == "wrong_app" and items["other-app"]["days_left"] is None
    # whoami says the same of the same profile
    alone = json.loads(metrika("whoami", "--json", "--profile", "other-app").stdout)
    assert {k: alone[k] for k in LINE_KEYS} == {k: items["other-app"][k] for k in LINE_KEYS}
    assert TOKEN not in result.output and OTHER_TOKEN not in result.output
    assert not fake.requests_to("/management/v1/accounts", method="PUT")


def test_one_stored_expiring_token_is_one_warning_line(fake, isolated, metrika):
    mixed(fake, isolated)
    result = metrika("status")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: 1 token expires within 14 days: soon ({in_days(5)[:10]}); renew with `metrika login --profile NAME`."
    ]


def expiry_warnings(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("warning:")]


def test_the_expiry_warning_names_refresh_for_tokens_with_a_refresh_token(isolated, metrika):
    store_profiles(isolated, {"default": {"token": TOKEN, "expires_at": in_days(5), "renewable": True}})
    alone = metrika("status", "--offline")
    date = in_days(5)[:10]
    assert expiry_warnings(alone) == [
        f"warning: 1 token expires within 14 days: default ({date}); renew it with `metrika refresh`."
    ]
    store_profiles(
        isolated,
        {
            "default": {"token": TOKEN, "expires_at": in_days(300), "renewable": True},
            "a": {"token": TOKEN, "expires_at": in_days(5), "renewable": True},
            "b c": {"token": TOKEN, "expires_at": in_days(5), "renewable": True},
        },
    )
    both = metrika("status", "--offline")
    assert expiry_warnings(both) == [
        f"warning: 2 tokens expire within 14 days: a ({date}), b c ({date}); "
        "renew them with `metrika refresh --profile a --profile 'b c'`."
    ]


def test_the_expiry_warning_of_a_mix_names_refresh_for_some_and_login_for_the_others(isolated, metrika):
    store_profiles(
        isolated,
        {
            "pasted": {"token": TOKEN, "expires_at": in_days(3)},
            "work": {"token": TOKEN, "expires_at": in_days(5), "renewable": True},
        },
    )
    result = metrika("status", "--offline")
    assert expiry_warnings(result) == [
        f"warning: 2 tokens expire within 14 days: pasted ({in_days(3)[:10]}), work ({in_days(5)[:10]}); renew "
        "those with a refresh token with `metrika refresh --profile work`, each of the others with "
        "`metrika login --profile NAME`."
    ]
    many = {f"p{n}": {"token": TOKEN, "expires_at": in_days(5), "renewable": True} for n in range(7)}
    store_profiles(isolated, many)
    assert (
        "renew them with `metrika refresh --all --expiring-within 15`."
        in expiry_warnings(metrika("status", "--offline"))[0]
    )


def test_no_profiles_says_a_login_that_runs_as_it_is(metrika):
    for args in (["status"], ["status", "--offline"], ["refresh", "--all"]):
        result = metrika(*args)
        assert result.code == 3
        assert "Log in to store one: `metrika login`." in result.stderr
        document = json.loads(metrika(*args, "--json").stdout)
        assert document["fix"][0] == "Log in to store one: `metrika login`."


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("status",), []),
        (("--profile", "a", "status", "--json"), ["a"]),
        (("--profile", "a", "status", "--profile", "b", "--profile", "c", "--profile", "b"), ["b", "c"]),
    ],
)
def test_status_gets_its_profiles_resolved_by_the_dispatch(metrika, monkeypatch, args, expected):
    from metrika_cli.commands import status

    seen = []
    monkeypatch.setattr(status, "run", lambda env, names, *rest: seen.append((names, env.profiles, env.as_json)) or 0)
    assert metrika(*args).code == 0
    assert seen == [(expected, expected, "--json" in args)]


def test_no_profiles_is_no_token(metrika):
    result = metrika("status")
    assert result.code == 3 and "metrika login --profile NAME" in result.stderr
    document = json.loads(metrika("status", "--json").stdout)
    assert document["diagnosis"] == "no_token" and document["exit_code"] == 3


def test_a_named_profile_that_is_not_stored_is_no_token(fake, isolated, metrika):
    store_profiles(isolated, {"default": {"token": TOKEN, "login": "vasya"}})
    result = metrika("status", "--profile", "nobody", "--json")
    assert result.code == 3
    (item,) = json.loads(result.stdout)["profiles"]
    assert item["diagnosis"] == "no_token" and "metrika login --profile nobody" in item["fix"][0]
    assert fake.requests == []


def test_environment_tokens_are_for_one_profile_status_checks_the_stored_ones(fake, isolated, metrika):
    store_profiles(isolated, {"default": {"token": TOKEN, "login": "vasya"}})
    result = metrika("status", "--json", env={"METRIKA_TOKEN": UNKNOWN_TOKEN})
    assert result.code == 0
    assert "status checks each profile's stored token" in result.stderr


# ---- 429s that still come --------------------------------------------------------------


def test_a_429_is_waited_out_per_retry_after_and_retried(fake, isolated, metrika):
    store_profiles(isolated, {"default": {"token": TOKEN, "login": "vasya"}})
    fake.fail(
        "/management/v1/counters",
        "status",
        status=429,
        error_type="quota_requests_by_ip",
        times=1,
        headers={"Retry-After": "1"},
    )
    started = time.monotonic()
    result = metrika("status", "--json")
    assert result.code == 0, result.stdout
    assert time.monotonic() - started >= 1.0
    counters = fake.requests_to("/management/v1/counters")
    assert [r.status for r in counters] == [429, 200]
    assert counters[1].started - counters[0].finished >= 0.95


def test_a_429_that_does_not_pass_is_rate_limited(fake, isolated, metrika):
    store_profiles(isolated, {"default": {"token": TOKEN, "login": "vasya"}})
    fake.fail(
        "/management/v1/counters",
        "status",
        status=429,
        error_type="quota_parallel_requests",
        headers={"Retry-After": "0"},
    )
    result = metrika("status", "--json")
    assert result.code == 6
    (item,) = json.loads(result.stdout)["profiles"]
    assert item["diagnosis"] == "rate_limited" and "parallel" in item["summary"]
    assert len(fake.requests_to("/management/v1/counters")) == 3  # the first try and two retries


def test_a_daily_quota_is_not_waited_for(fake, isolated, metrika):
    store_profiles(isolated, {"default": {"token": TOKEN, "login": "vasya"}})
    fake.fail("/management/", "status", status=429, error_type="quota_requests_by_uid")
    assert metrika("status").code == 6
    assert len(fake.requests_to("/management/v1/counters")) == 1


def test_a_failing_accounts_call_changes_no_diagnosis(fake, isolated, metrika):
    store_profiles(isolated, {"default": {"token": TOKEN, "login": "vasya"}})
    fake.fail("/management/v1/accounts", "status", status=503)
    result = metrika("status", "--json")
    assert result.code == 0
    (item,) = json.loads(result.stdout)["profiles"]
    assert item["diagnosis"] == "ok" and item["accounts"] is None


# ---- --offline -------------------------------------------------------------------------


def test_offline_asks_no_server_and_reports_what_is_stored(fake, isolated, metrika):
    store_profiles(
        isolated,
        {
            "default": {
                "token": TOKEN,
                "login": "vasya",
                "uid": "1000034426",
                "expires_at": in_days(30),
                "fingerprint": fingerprint(TOKEN),
            },
            "changed": {"token": OTHER_TOKEN, "login": "petya", "fingerprint": fingerprint(TOKEN)},
            "empty": {"token": None, "login": "kolya"},
            "old": {"token": TOKEN, "login": "vasya", "expires_at": in_days(-2)},
        },
    )
    result = metrika("status", "--offline", "--json")
    assert fake.requests == []
    document = json.loads(result.stdout)
    assert document["offline"] is True
    items = {item["profile"]: item for item in document["profiles"]}
    assert {name: item["diagnosis"] for name, item in items.items()} == {
        "changed": "no_token",
        "default": "ok",
        "empty": "no_token",
        "old": "token_invalid",
    }
    assert result.code == 1  # no_token (3) and token_invalid (4)
    assert items["default"]["identity"] == {"login": "vasya", "uid": "1000034426", "client_id": CLIENT_ID}
    assert items["default"]["days_left"] == 30 and items["default"]["counters"] is None
    changed = items["changed"]["summary"]
    assert f"({fingerprint(OTHER_TOKEN)}) is not the one its metadata describes ({fingerprint(TOKEN)})" in changed
    assert "metrika login --profile changed" in items["changed"]["fix"][0]
    assert "credentials.toml has no token" in items["empty"]["summary"]
    assert "expired on" in items["old"]["summary"]
    assert OTHER_TOKEN not in result.output and TOKEN not in result.output


def test_offline_spots_a_keyring_without_the_entry_and_no_keyring_at_all(fake, isolated, metrika):
    store_profiles(isolated, {"default": {"storage": "keyring", "login": "vasya"}, "work": {"token": TOKEN}})
    empty = metrika("status", "--offline", "--json", env=backend_env("RefusingKeyring"))
    items = {item["profile"]: item for item in json.loads(empty.stdout)["profiles"]}
    assert items["default"]["diagnosis"] == "no_token" and "keyring has no token" in items["default"]["summary"]
    assert items["work"]["diagnosis"] == "ok"
    assert empty.code == 3
    none = metrika("status", "--offline")  # the fail backend: no keyring at all
    assert none.code == 7
    assert none.stdout.splitlines()[0].split() == [
        "default*",
        "vasya",
        "4760…",
        "keyring",
        "-",
        "-",
        "store_unavailable",
    ]
    assert fake.requests == []


def test_a_locked_keyring_is_store_unavailable_for_each_keyring_profile(fake, isolated, metrika):
    store_profiles(isolated, {"a": {"storage": "keyring"}, "b": {"storage": "keyring"}, "c": {"token": TOKEN}})
    for offline in (["--offline"], []):
        result = metrika("status", *offline, env=backend_env("LockedKeyring"))
        assert result.code == 7
        assert [line.split()[-1] for line in result.stdout.splitlines()] == ["store_unavailable"] * 2 + ["ok"]
    assert len(fake.requests_to("/info")) == 1  # only c's token was asked about


def test_a_hung_keyring_is_waited_for_once(isolated):
    profiles: dict[str, dict[str, Any]] = {f"p{number}": {"storage": "keyring"} for number in range(5)}
    store_profiles(isolated, {**profiles, "plain": {"token": TOKEN}})
    started = time.monotonic()
    result = call_metrika("status", "--offline", env=backend_env("HangingKeyring"), keyring_timeout=1)
    assert result.code == 7
    assert time.monotonic() - started < 1 + 3  # one time limit (1 s here), not five
    assert result.stdout.count("store_unavailable") == 5
    assert result.stdout.splitlines()[-1].split()[-1] == "ok"  # a token in credentials.toml is not in the keyring


# ---- the terminal ----------------------------------------------------------------------


def on_terminal(
    *args: str,
    stdout_tty: bool = True,
    stderr_tty: bool = False,
    quota_per_second: float | None = None,
    **environ: str,
) -> tuple[str, str]:
    import os

    env = Env.for_test(
        {**os.environ, **environ}, stdout_tty=stdout_tty, stderr_tty=stderr_tty, quota_per_second=quota_per_second
    )
    main(list(args), env=env)
    assert isinstance(env.stdout, io.StringIO) and isinstance(env.stderr, io.StringIO)
    return env.stdout.getvalue(), env.stderr.getvalue()


def test_on_a_terminal_status_is_a_table_in_colour_unless_no_color(fake, isolated):
    mixed(fake, isolated)
    coloured, _ = on_terminal("status", TERM="xterm")
    assert "\x1b[" in coloured and "profile" in coloured and "diagnosis" in coloured
    plain, _ = on_terminal("status", NO_COLOR="1", TERM="xterm")
    assert "\x1b[" not in plain
    header, *rows = [line for line in plain.splitlines() if line.strip() and not set(line.strip()) <= set("─━ ")]
    assert header.split() == ["profile", "login", "app", "storage", "renewable", "days", "left", "diagnosis"]
    assert rows[0].split() == ["default*", "vasya", "4760…", "file", "no", "300", "ok"]


FAST = 30 * FASTER  # the fake's quotas are off in this test: the pacer may go faster than Metrika's


def test_a_progress_bar_shows_on_a_terminal_for_many_profiles_only(fake, isolated):
    store_profiles(isolated, {f"p{number:02d}": {"token": TOKEN, "login": "vasya"} for number in range(12)})
    _, bar = on_terminal("status", stdout_tty=False, stderr_tty=True, TERM="xterm", quota_per_second=FAST)
    assert "Checking profiles" in bar
    _, quiet = on_terminal("status", stdout_tty=False, stderr_tty=False, quota_per_second=FAST)
    assert "Checking profiles" not in quiet and quiet.splitlines()[0] == "12 ok"
    store_profiles(isolated, {f"p{number:02d}": {"token": TOKEN, "login": "vasya"} for number in range(3)})
    _, few = on_terminal("status", stdout_tty=False, stderr_tty=True, TERM="xterm", quota_per_second=FAST)
    assert "Checking profiles" not in few


def test_status_in_russian_keeps_codes_and_columns(fake, isolated, metrika):
    store_profiles(isolated, {"default": {"token": TOKEN, "login": "vasya", "expires_at": in_days(3)}})
    result = metrika("status", env={"METRIKA_LANG": "ru"})
    assert result.code == 0
    assert result.stdout.split() == ["default*", "vasya", "4760…", "file", "no", "3", "ok"]
    assert "1 ok" in result.stderr and "предупреждение" in result.stderr


def test_status_help_lists_its_options(metrika):
    help_text = call_metrika("status", "--help").stdout
    for option in ("--profile", "--offline", "--expiring-within", "--json"):
        assert option in help_text
