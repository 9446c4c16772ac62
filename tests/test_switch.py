"""`metrika switch` and which profile a command uses: --profile > METRIKA_PROFILE > switched > default."""

from __future__ import annotations

import json
import tomllib

import pytest
from conftest import OTHER_TOKEN, TOKEN
from test_completions import bash_complete
from test_status import store_profiles

ACME_TOKEN = "y0__xAcmeTokenAbCdEfGh0123456789_QrStUvWxYz-abcdefghijklmn"
BETA_TOKEN = "y0__xBetaTokenAbCdEfGh0123456789_QrStUvWxYz-abcdefghijklmn"


@pytest.fixture
def three(isolated):
    store_profiles(
        isolated,
        {
            "default": {"token": TOKEN, "login": "vasya"},
            "acme": {"token": ACME_TOKEN, "login": "acme-ads"},
            "beta": {"token": BETA_TOKEN, "login": "beta-shop"},
        },
    )
    return isolated


def test_switch_alone_lists_the_profiles_and_marks_the_active_one(three, metrika):
    result = metrika("switch")
    assert result.code == 0
    assert result.stdout.splitlines() == ["  acme     acme-ads", "  beta     beta-shop", "* default  vasya"]


def test_switch_records_the_active_profile_in_config_toml(three, metrika):
    result = metrika("switch", "acme")
    assert result.code == 0 and "acme is now the active one" in result.stderr
    assert tomllib.loads((three / "config.toml").read_text())["active_profile"] == "acme"
    assert metrika("switch").stdout.splitlines()[0] == "* acme     acme-ads"
    assert (three / "config.toml").stat().st_mode & 0o777 == 0o600


def test_switch_to_an_unknown_profile_is_bad_usage_and_lists_the_profiles(three, metrika):
    result = metrika("switch", "gamma")
    assert result.code == 2
    assert "No profile named gamma; the profiles are: acme, beta, default." in result.stderr
    assert "metrika login --profile gamma" in result.stderr
    assert "active_profile" not in (three / "config.toml").read_text()
    assert metrika("switch", "bad name").code == 2


def test_switch_with_nothing_stored(metrika):
    assert metrika("switch").code == 0
    result = metrika("switch", "acme")
    assert result.code == 2 and "none is stored yet" in result.stderr


def test_switch_warns_when_metrika_profile_overrides_it(three, metrika):
    result = metrika("switch", "acme", env={"METRIKA_PROFILE": "beta"})
    assert result.code == 0 and "METRIKA_PROFILE is set to beta; it takes precedence" in result.stderr


def profile_used(metrika, *args: str, env: dict[str, str] | None = None) -> str:
    return json.loads(metrika(*args, "whoami", "--json", env=env).stdout)["profile"]


def test_precedence_in_the_app_option_then_environment_then_switched_then_default(three, fake, metrika):
    assert profile_used(metrika) == "default"
    assert metrika("switch", "acme").code == 0
    assert profile_used(metrika) == "acme"
    assert profile_used(metrika, env={"METRIKA_PROFILE": "beta"}) == "beta"
    assert profile_used(metrika, "--profile", "default", env={"METRIKA_PROFILE": "beta"}) == "default"
    after = json.loads(metrika("whoami", "--json", "--profile", "beta").stdout)["profile"]
    assert after == "beta"


def test_precedence_on_the_lean_path_of_metrika_token(three, metrika):
    assert metrika("token").stdout == TOKEN + "\n"
    assert metrika("switch", "acme").code == 0
    assert metrika("token").stdout == ACME_TOKEN + "\n"
    assert metrika("token", env={"METRIKA_PROFILE": "beta"}).stdout == BETA_TOKEN + "\n"
    assert metrika("--profile", "default", "token", env={"METRIKA_PROFILE": "beta"}).stdout == TOKEN + "\n"
    assert metrika("token", "--profile", "default", env={"METRIKA_PROFILE": "beta"}).stdout == TOKEN + "\n"


def test_logout_of_the_switched_profile_goes_back_to_the_default(three, metrika):
    assert metrika("switch", "acme").code == 0
    assert metrika("logout", "--profile", "acme").code == 0
    assert "active_profile" not in (three / "config.toml").read_text()
    assert metrika("token").stdout == TOKEN + "\n"


def test_a_corrupt_config_is_reported_not_hidden_by_the_profile_lookup(isolated, metrika):
    isolated.mkdir(mode=0o700, parents=True)
    (isolated / "config.toml").write_text("active_profile = [\n")
    (isolated / "config.toml").chmod(0o600)
    result = metrika("token")
    assert result.code == 1 and "config.toml is not valid TOML" in result.stderr
    usage = metrika("whoami", "--json", "--no-such-option")
    assert usage.code == 2 and json.loads(usage.stdout)["profile"] == "default"


def test_profile_names_complete_after_profile_and_switch(three):
    assert bash_complete("whoami", "--profile", "") == ["acme", "beta", "default"]
    assert bash_complete("--profile", "a") == ["acme"]
    assert bash_complete("switch", "b") == ["beta"]
    assert bash_complete("status", "--profile", "de") == ["default"]


def test_completion_never_fails_on_a_corrupt_config(isolated):
    isolated.mkdir(mode=0o700, parents=True)
    (isolated / "config.toml").write_text("[profiles\n")
    (isolated / "config.toml").chmod(0o600)
    assert bash_complete("switch", "") == []


def test_the_environment_token_still_wins_over_any_profile(three, metrika):
    assert metrika("token", env={"METRIKA_TOKEN": OTHER_TOKEN}).stdout == OTHER_TOKEN + "\n"
