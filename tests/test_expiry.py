"""Expiry that warns before it bites: days left rounded up, one warning line at 14 days or fewer,
--expiring-within DAYS -> token_expiring; an expiry not recorded never warns, never guessed.
Also: login over another account's profile says whose token it replaces."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime, timedelta

import pytest
from conftest import CLIENT_ID, OTHER_TOKEN, TOKEN, call_metrika, run_metrika
from hypothesis import given
from hypothesis import strategies as st
from test_status import in_days, store_profiles

from metrika_cli.expiry import days_left, expires_in
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


def test_one_hour_left_is_one_day_left_and_warns_once_in_hours(fake, isolated):
    one_profile(isolated, at(hours=1))
    result = fixed("whoami", "--json")
    assert result.code == 0
    assert json.loads(result.stdout)["days_left"] == 1
    assert warnings(result.stderr) == [
        "warning: The token of profile default expires on 2025-03-14, in 1 hour: "
        "renew it with `metrika login --profile default`."
    ]


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        ({"days": 1, "seconds": 1}, "in 2 days"),  # whole days rounded up, as days_left counts them
        ({"days": 1}, "in 1 day"),
        ({"days": 21}, "in 21 days"),
        ({"hours": 23, "minutes": 59}, "in 23 hours"),
        ({"hours": 3, "minutes": 30}, "in 3 hours"),
        ({"hours": 1}, "in 1 hour"),
        ({"minutes": 59, "seconds": 59}, "in 59 minutes"),
        ({"minutes": 1}, "in 1 minute"),
        ({"seconds": 59}, "in less than a minute"),
    ],
)
def test_time_left_is_said_in_days_then_hours_then_minutes(delta, words):
    assert expires_in(at(**delta), NOW) == words


def test_whoami_says_hours_under_a_day_and_expired_once_past(fake, isolated):
    one_profile(isolated, at(hours=3, minutes=10))
    assert "expires   2025-03-15, in 3 hours\n" in fixed("whoami").stdout  # NOW is 21:30 UTC
    one_profile(isolated, at(days=1))
    assert "expires   2025-03-15, in 1 day\n" in fixed("whoami").stdout


def test_expiring_within_a_day_says_the_hours_left(fake, isolated):
    one_profile(isolated, at(hours=5))
    assert (
        "passed   it has at least 1 day left (expires in 5 hours)"
        in fixed("check-access", "--expiring-within", "1").stdout
    )
    result = fixed("check-access", "--expiring-within", "2")
    assert result.code == 4
    assert "failed   it has at least 2 days left (expires in 5 hours)" in result.stdout
    assert "The token expires on 2025-03-15, in 5 hours: less than the 2 days asked for." in result.stdout


RUSSIAN_DAYS = {1: "день", 2: "дня", 4: "дня", 5: "дней", 11: "дней", 12: "дней", 14: "дней", 20: "дней", 21: "день"}
RUSSIAN_DAYS |= {22: "дня", 25: "дней", 101: "день", 111: "дней", 112: "дней", 122: "дня"}


def russian():
    from gettext import GNUTranslations

    from metrika_cli.i18n import LOCALE_DIR

    with (LOCALE_DIR / "ru" / "LC_MESSAGES" / "metrika.mo").open("rb") as catalog:
        return GNUTranslations(catalog)


def russian_days_word(n: int) -> str:
    """One day, a few days, many days, as a Russian grammar book puts it: by the last digit,
    except that 11 to 14 (and 111 to 114...) take the many-form."""
    last, last_two = str(n)[-1], str(n)[-2:].zfill(2)
    if last_two in ("11", "12", "13", "14"):
        return "дней"
    return {"1": "день", "2": "дня", "3": "дня", "4": "дня"}.get(last, "дней")


@pytest.mark.parametrize(("n", "word"), sorted(RUSSIAN_DAYS.items()))
def test_russian_days_take_their_plural_form(n, word):
    assert russian().ngettext("in {count} day", "in {count} days", n).format(count=n) == f"через {n} {word}"


@given(st.integers(min_value=0, max_value=200))
def test_every_russian_day_count_up_to_200_takes_the_grammar_books_form(n):
    translated = russian().ngettext("in {count} day", "in {count} days", n)
    assert translated.format(count=n) == f"через {n} {russian_days_word(n)}"


def test_the_warning_and_whoami_are_in_russian_with_plurals(isolated, metrika):
    one_profile(isolated, in_days(2))
    warned = metrika("token", env={"METRIKA_LANG": "ru"}).stderr
    assert "истекает " in warned and ", через 2 дня: обновите его командой" in warned
    one_profile(isolated, (datetime.now(UTC) + timedelta(hours=5, minutes=30)).isoformat(timespec="seconds"))
    warned = metrika("token", env={"METRIKA_LANG": "ru"}).stderr
    assert ", через 5 часов: обновите его командой `metrika login --profile default`." in warned


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
    assert "expire" not in call_metrika("token").stderr


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
    assert "2025-04-12, in 29 days: less than the 30 days asked for" in item["summary"]
    assert "`metrika login`" in item["fix"][0]  # the profile metrika picks anyway: no --profile


def test_check_access_lists_the_expiry_check(fake, isolated):
    one_profile(isolated, at(days=29))
    result = fixed("check-access", "--expiring-within", "30")
    assert "failed   it has at least 30 days left (expires in 29 days)" in result.stdout
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


def test_the_lean_token_path_warns_in_one_line_and_prints_only_the_token(isolated, metrika):
    one_profile(isolated, in_days(3))
    result = metrika("token")
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
