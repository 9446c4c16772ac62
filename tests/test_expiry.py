"""Expiry that warns before it bites: days left rounded up, one warning line at 14 days or fewer,
--expiring-within DAYS -> token_expiring; an expiry not recorded never warns, never guessed.
Also: login over another account's profile says whose token it replaces."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime, timedelta

import pytest
from conftest import CLIENT_ID, OTHER_TOKEN, TOKEN, call_metrika, run_metrika
from test_status import in_days, store_profiles

from metrika_cli.expiry import days_left
from metrika_cli.text import fingerprint

NOW = datetime(2025, 3, 14, 21, 30, tzinfo=UTC)


def at(**delta: float) -> str:
    return (NOW + timedelta(**delta)).isoformat(timespec="seconds")


def fixed(*args: str, env: dict[str, str] | None = None):
    return call_metrika(*args, env=env, clock=lambda: NOW)


def one_profile(isolated, expires_at: str | None) -> None:
    store_profiles(isolated, {"default": {"token": TOKEN, "login": "vasya", "expires_at": expires_at}})


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


@pytest.mark.parametrize(
    ("delta", "days"),
    [({"hours": 1}, 1), ({"days": 1}, 1), ({"days": 1, "seconds": 1}, 2), ({"seconds": 0}, 0), ({"days": -3}, -3)],
)
def test_days_left_round_up(delta, days):
    assert days_left(at(**delta), NOW) == days


def test_days_left_of_an_unknown_or_unreadable_expiry_is_none():
    assert days_left(None, NOW) is None and days_left("", NOW) is None and days_left("soon", NOW) is None
    assert days_left("2025-03-15T21:30:00", NOW) == 1  # recorded without an offset: UTC


def test_one_hour_left_is_one_day_and_warns_once(fake, isolated):
    one_profile(isolated, at(hours=1))
    result = fixed("whoami", "--json")
    assert result.code == 0
    assert json.loads(result.stdout)["days_left"] == 1
    assert warnings(result.stderr) == [
        "warning: The token of profile default expires on 2025-03-14, in 1 day: "
        "renew it with `metrika login --profile default`."
    ]


def test_fourteen_days_warn_fifteen_do_not(fake, isolated):
    one_profile(isolated, at(days=14))
    assert len(warnings(fixed("whoami").stderr)) == 1
    assert len(warnings(fixed("check-access").stderr)) == 1
    one_profile(isolated, at(days=14, seconds=1))
    assert warnings(fixed("whoami").stderr) == []


def test_an_expired_token_says_expired(fake, isolated):
    one_profile(isolated, at(days=-2))
    assert "expired on 2025-03-12: get a new one with `metrika login --profile default`" in fixed("whoami").stderr


def test_an_unknown_expiry_never_warns_and_is_never_expiring(fake, isolated):
    one_profile(isolated, None)
    for command in (("whoami",), ("check-access",), ("status",)):
        result = fixed(*command, "--expiring-within", "100000")
        assert result.code == 0, (command, result.output)
        assert "expire" not in result.stderr
    assert "expire" not in run_metrika("token").stderr


def test_an_environment_token_gets_no_warning_for_the_stored_one(fake, isolated):
    one_profile(isolated, at(days=2))
    result = fixed("whoami", env={"METRIKA_TOKEN": TOKEN})
    assert warnings(result.stderr) == []


@pytest.mark.parametrize("command", [["whoami"], ["check-access"], ["status"]])
def test_exactly_n_days_with_expiring_within_n_is_not_expiring(fake, isolated, command):
    one_profile(isolated, at(days=30))
    result = fixed(*command, "--expiring-within", "30", "--json")
    assert result.code == 0, result.stdout
    one_profile(isolated, at(days=29, hours=23))  # 29 days and 23 hours: rounds up to 30 days left
    assert fixed(*command, "--expiring-within", "30").code == 0


@pytest.mark.parametrize("command", [["whoami"], ["check-access"], ["status"]])
def test_fewer_days_than_asked_is_token_expiring_exit_4(fake, isolated, command):
    one_profile(isolated, at(days=29))
    result = fixed(*command, "--expiring-within", "30", "--json")
    assert result.code == 4, result.stdout
    document = json.loads(result.stdout)
    item = document["profiles"][0] if command == ["status"] else document
    assert item["diagnosis"] == "token_expiring" and item["exit_code"] == 4
    assert "2025-04-12, in 29 days: fewer than the 30 asked for" in item["summary"]
    assert "metrika login --profile default" in item["fix"][0]


def test_check_access_lists_the_expiry_check(fake, isolated):
    one_profile(isolated, at(days=29))
    result = fixed("check-access", "--expiring-within", "30")
    assert "failed   it has at least 30 days left (29 days left)" in result.stdout
    assert "token_expiring: The token expires on 2025-04-12" in result.stdout
    assert fixed("check-access", "--expiring-within", "10").stdout.count("passed   it has at least 10 days left") == 1


def test_whoami_shows_who_then_why_it_is_expiring(fake, isolated):
    one_profile(isolated, at(days=3))
    result = fixed("whoami", "--expiring-within", "7")
    assert result.code == 4
    assert "vasya (uid 1000034426)" in result.stdout
    assert "token_expiring: The token expires on 2025-03-17, in 3 days" in result.stderr


def test_an_invalid_token_stays_invalid_however_soon_it_expires(fake, isolated):
    store_profiles(isolated, {"default": {"token": OTHER_TOKEN, "expires_at": at(days=1)}})
    result = fixed("whoami", "--expiring-within", "7", "--json")
    assert json.loads(result.stdout)["diagnosis"] == "token_invalid"


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", ""])
def test_a_bad_expiring_within_is_bad_usage(fake, isolated, value):
    one_profile(isolated, at(days=100))
    for command in ("whoami", "check-access", "status"):
        assert call_metrika(command, "--expiring-within", value).code == 2
        result = call_metrika(command, "--expiring-within", value, "--json")
        assert result.code == 2 and json.loads(result.stdout)["diagnosis"] == "bad_input"


def test_the_lean_token_path_warns_in_one_line_and_prints_only_the_token(isolated):
    one_profile(isolated, in_days(3))
    result = run_metrika("token")
    assert result.code == 0 and result.stdout == TOKEN + "\n"
    (line,) = result.stderr.splitlines()
    assert line.startswith("warning: The token of profile default expires on " + in_days(3)[:10])
    assert "metrika login --profile default" in line


# ---- login records what status checks, and says whose token it replaces ----------------


def login(token: str, profile: str = "default"):
    return call_metrika(
        "login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID, "--profile", profile, input=token
    )


def test_login_records_the_fingerprint_of_what_it_stored(fake, isolated):
    assert login(TOKEN).code == 0
    recorded = tomllib.loads((isolated / "config.toml").read_text())["profiles"]["default"]
    assert recorded["fingerprint"] == fingerprint(TOKEN)
    assert call_metrika("status", "--offline").code == 0


def test_login_over_another_accounts_profile_says_whose_token_it_replaces(fake, isolated):
    fake.add_token(OTHER_TOKEN, login="petya", uid="1000099999", client_id=CLIENT_ID)
    assert login(TOKEN).code == 0
    again = login(TOKEN)
    assert again.code == 0 and "Replacing" not in again.stderr  # the same account: nothing to say
    replaced = login(OTHER_TOKEN)
    assert replaced.code == 0
    assert f"Replacing the token of vasya ({fingerprint(TOKEN)}) in profile default." in replaced.stderr
    assert TOKEN not in replaced.output and OTHER_TOKEN not in replaced.output


def test_a_replaced_token_without_a_recorded_fingerprint_is_read_for_one(fake, isolated):
    fake.add_token(OTHER_TOKEN, login="petya", uid="1000099999", client_id=CLIENT_ID)
    store_profiles(isolated, {"default": {"token": TOKEN, "login": "vasya"}})
    replaced = login(OTHER_TOKEN)
    assert f"Replacing the token of vasya ({fingerprint(TOKEN)}) in profile default." in replaced.stderr


def test_metrika_api_and_exec_warn_too(fake, isolated):
    one_profile(isolated, in_days(2))
    called = call_metrika("api", "/management/v1/counters")
    assert called.code == 0 and len(warnings(called.stderr)) == 1
    executed = run_metrika("exec", "--", "true")
    assert executed.code == 0 and len(warnings(executed.stderr)) == 1
