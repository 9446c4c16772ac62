"""Profiles by name: every command a fix names carries the profile it is about, an unknown
profile is named with the closest stored ones, hand-edited names are shown escaped, and a
broken `active_profile` is a config error, never silently the default profile."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import TOKEN
from test_diagnose import TABLE
from test_status import store_profiles

from metrika_cli.diagnose import diagnose
from metrika_cli.env import Env
from metrika_cli.errors import Diagnosis, Interrupted
from metrika_cli.output import report_failure
from metrika_cli.text import PROFILE_COMMANDS, shown_name, with_profile

NAMED = "u0001"
# Every `metrika COMMAND …` quoted in a message, e.g. `metrika login --force-confirm`.
QUOTED_COMMAND = re.compile(r"`([^`]*\bmetrika ([a-z-]+)[^`]*)`")
ODD_TOKENS = ["AQAAAAABCDEFghijklmnopQRSTUVwxyz012345", "0123456789abcdef0123456789abcdef", "y0_agaaaaaabbbbbb"]


def commands_in(text: str) -> list[str]:
    """The quoted metrika commands that act on a profile (not `switch`, not `completion`)."""
    return [match.group(1) for match in QUOTED_COMMAND.finditer(text) if match.group(2) in PROFILE_COMMANDS]


def assert_carries(text: str, profile: str) -> list[str]:
    """Each command names `--profile PROFILE` for a named profile, and no --profile for default."""
    commands = commands_in(text)
    for command in commands:
        if profile == "default":
            assert "--profile" not in command, (command, text)
        else:
            assert f"--profile {profile}" in command, (command, text)
    return commands


# ---- item 1: a table over every diagnosis × {default, a named profile} ---------------------


def verdict_text(profile: str) -> dict[Diagnosis, str]:
    """Everything each row of test_diagnose's table says (summary, fix, warnings), for `profile`."""
    said: dict[Diagnosis, str] = {}
    for row in TABLE:
        evidence = dataclasses.replace(row.values[0], profile=profile)
        verdict = diagnose(evidence)
        said[verdict.code] = said.get(verdict.code, "") + "\n".join([verdict.summary, *verdict.fix, *verdict.warnings])
    return said


def error_text(metrika, isolated: Path, profile: str) -> dict[Diagnosis, str]:
    """The diagnoses that are failures rather than verdicts, each from a real command (human and JSON)."""
    option = [] if profile == "default" else ["--profile", profile]
    said: dict[Diagnosis, str] = {}
    refused = "https://oauth.yandex.ru/verification_code#error=access_denied"
    said[Diagnosis.BAD_INPUT] = metrika("login", "--with-token", *option, input=refused).output
    # the test keyring is `fail`: nowhere to store the token
    said[Diagnosis.STORE_UNAVAILABLE] = metrika("login", "--with-token", "--no-verify", *option, input=TOKEN).output
    store_profiles(isolated, {profile: {"token": TOKEN, "login": 42}})
    broken = metrika("whoami", *option)
    as_json = metrika("whoami", "--json", *option)
    assert broken.code == 1 and json.loads(as_json.stdout)["diagnosis"] == "internal_error"
    said[Diagnosis.INTERNAL_ERROR] = broken.output + "\n".join(json.loads(as_json.stdout)["fix"])
    env = Env.for_test({"METRIKA_CONFIG_DIR": str(isolated), "METRIKA_LANG": "en"})
    report_failure(env, Interrupted("Interrupted; nothing was stored."), profile, False, "default")
    said[Diagnosis.INTERRUPTED] = env.stderr.getvalue()  # type: ignore[attr-defined]
    return said


@pytest.mark.parametrize("profile", ["default", NAMED])
def test_every_command_a_fix_names_carries_the_profile_for_every_diagnosis(metrika, isolated, profile):
    said = {**verdict_text(profile), **error_text(metrika, isolated, profile)}
    assert set(said) == set(Diagnosis), "every diagnosis has a case"
    named = [command for code in Diagnosis for command in assert_carries(said[code], profile)]
    # the table is not vacuous: these fixes name commands
    for code in (Diagnosis.NO_TOKEN, Diagnosis.TOKEN_INVALID, Diagnosis.WRONG_APP, Diagnosis.STORE_UNAVAILABLE):
        assert commands_in(said[code]), code
    assert len(named) >= 10


def test_whoami_of_a_broken_named_profile_says_to_log_in_to_that_profile(fake, metrika, isolated):
    store_profiles(isolated, {"default": {"token": TOKEN, "login": "vasya"}, "expired": {"token": "y0__" + "x" * 50}})
    result = metrika("whoami", "--profile", "expired")
    assert result.code == 4
    assert "`metrika login --profile expired`" in result.output
    document = json.loads(metrika("whoami", "--profile", "expired", "--json").stdout)
    assert any("`metrika login --profile expired`" in step for step in document["fix"])
    assert all("`metrika login`" not in step for step in document["fix"])


def test_check_access_of_a_named_profile_names_it_in_the_force_confirm_command(fake, metrika, isolated):
    store_profiles(isolated, {"u0001": {"token": TOKEN, "login": "vasya"}})
    result = metrika("check-access", "--profile", "u0001", "400")
    assert result.code == 5
    assert "`metrika login --profile u0001 --force-confirm`" in result.output


def test_the_profile_metrika_would_pick_anyway_needs_no_profile_option(fake, metrika, isolated):
    store_profiles(isolated, {"acme": {"token": TOKEN, "login": "vasya"}}, active="acme")
    result = metrika("check-access", "400")
    assert "`metrika login --force-confirm`" in result.output
    # ... but `default`, while acme is the active one, does
    result = metrika("check-access", "--profile", "default", "400", env={"METRIKA_TOKEN": TOKEN})
    assert "`metrika login --profile default --force-confirm`" in result.output


def test_an_error_message_names_the_profile_on_the_lean_path_too(metrika, isolated):
    store_profiles(isolated, {"default": {"token": TOKEN}, "u0002": {"login": "petya"}})
    result = metrika("token", "--profile", "u0002")
    assert result.code == 3 and "`metrika login --profile u0002`" in result.stderr


def test_status_points_at_each_failing_profile_up_to_ten_then_counts(fake, metrika, isolated):
    profiles = {f"c{number:02}": {"token": f"y0__broken{number:02}" + "x" * 40} for number in range(13)}
    store_profiles(isolated, {"default": {"token": TOKEN, "login": "vasya"}, **profiles}, active="c00")
    result = metrika("status")
    assert result.code == 4, result.output
    lines = result.stderr.splitlines()
    start = lines.index("Why, and what to do:")
    pointers = lines[start + 1 : start + 12]
    assert pointers[0] == "  metrika whoami"  # c00 is the active one
    assert pointers[1:10] == [f"  metrika whoami --profile c{number:02}" for number in range(1, 10)]
    assert pointers[10] == "  and 3 more"


def test_with_profile_leaves_commands_that_name_a_profile_and_other_text_alone():
    text = "Run `metrika login --profile NAME`, `metrika switch`, `metrika check-access`; then metrika login."
    assert with_profile(text, "x", "default") == (
        "Run `metrika login --profile NAME`, `metrika switch`, `metrika check-access --profile x`; then metrika login."
    )
    assert with_profile(text, "default", "default") == text
    piped = "`printf '%s' \"$TOKEN\" | metrika login --with-token`"
    assert (
        with_profile(piped, "a b", "default") == "`printf '%s' \"$TOKEN\" | metrika login --profile 'a b' --with-token`"
    )


# ---- item 4: profiles by name ----------------------------------------------------------------


FORTY = {f"acme-{kind}{number}": {"token": TOKEN, "login": "vasya"} for kind in ("shop", "blog") for number in (1, 2)}


@pytest.mark.parametrize("command", [("whoami",), ("check-access",), ("token",), ("whoami", "--json")])
def test_a_mistyped_profile_is_named_unknown_with_the_closest_names(metrika, isolated, command):
    store_profiles(isolated, {**FORTY, "default": {"token": TOKEN}})
    result = metrika(*command, "--profile", "acme-shp1")
    assert result.code == 3
    assert "No profile named acme-shp1" in result.output
    assert "acme-shop1" in result.output


def test_status_and_logout_name_a_mistyped_profile_with_the_closest_names(metrika, isolated):
    store_profiles(isolated, FORTY)
    status = metrika("status", "--offline", "--profile", "acme-blg2", "--json")
    (item,) = json.loads(status.stdout)["profiles"]
    assert item["diagnosis"] == "no_token" and "acme-blog2" in item["fix"][0]
    logout = metrika("logout", "--profile", "acme-blg2")
    assert "Did you mean acme-blog2" in logout.stderr


def test_a_fresh_install_is_plain_no_token(metrika):
    result = metrika("whoami")
    assert result.code == 3 and "No token" in result.output and "No profile named" not in result.output


def test_switch_to_a_mistyped_profile_suggests_the_closest_names(metrika, isolated):
    many = {f"client{number:04}": {"token": TOKEN} for number in range(40)}
    store_profiles(isolated, many)
    result = metrika("switch", "client0o12")
    assert result.code == 2
    assert "client0012" in result.stderr and "client0039" not in result.stderr


def test_switch_lists_ten_profiles_then_says_how_many_more(metrika, isolated):
    many = {f"client{number:04}": {"token": TOKEN, "login": f"user{number}"} for number in range(40)}
    store_profiles(isolated, many, active="client0030")
    result = metrika("switch")
    lines = result.stdout.splitlines()
    assert len(lines) == 10
    assert "* client0030  user30" in lines  # the one in use is always listed
    assert "and 30 more" in result.stderr


HOSTILE_NAMES = ["evil\nname", "red\x1b[31mname", "tab\tname", "bidi\u202ename"]


def test_hand_edited_profile_names_are_shown_escaped_by_switch_and_status(metrika, isolated):
    soon = (datetime.now(UTC) + timedelta(days=5)).isoformat(timespec="seconds")  # named in status's warning
    hostile = {name: {"token": TOKEN, "expires_at": soon} for name in HOSTILE_NAMES}
    store_profiles(isolated, hostile | {"plain": {"token": TOKEN}, "gone\x1b]0;x\x07": {"login": "kolya"}})
    listing = metrika("switch")
    status = metrika("status", "--offline")
    assert "expire within 14 days" in status.stderr
    assert "metrika whoami --profile 'gone\\x1b]0;x\\x07'" in status.stderr  # the one that fails: pointed at
    for output in (listing.output, status.output):
        for raw in [*HOSTILE_NAMES, "gone\x1b]0;x\x07"]:
            assert raw not in output
            assert shown_name(raw) in output
        assert "\x1b" not in output and "\t" not in output and "\u202e" not in output
    assert len(listing.stdout.splitlines()) == 6


def test_completion_offers_no_hand_edited_name_that_profile_would_refuse(metrika, isolated, monkeypatch):
    store_profiles(isolated, {name: {"token": TOKEN} for name in HOSTILE_NAMES} | {"plain": {"token": TOKEN}})
    monkeypatch.setenv("_METRIKA_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "metrika whoami --profile ")
    monkeypatch.setenv("COMP_CWORD", "3")
    result = metrika()
    assert result.stdout.split() == ["plain"]


@pytest.mark.parametrize(
    ("value", "words"),
    [("42", "active_profile = 42 is not a profile name"), ('"acme-shp"', 'active_profile = "acme-shp", but no')],
)
@pytest.mark.parametrize("command", [("token",), ("whoami",), ("status", "--offline"), ("login", "--with-token")])
def test_a_broken_active_profile_is_a_config_error_naming_file_and_value(
    fake, metrika, isolated, value, words, command
):
    store_profiles(isolated, {"default": {"token": TOKEN, "login": "vasya"}, "acme-shop": {"token": TOKEN}})
    config = isolated / "config.toml"
    config.write_text(f"active_profile = {value}\n" + config.read_text())
    result = metrika(*command, input=TOKEN)
    assert result.code == 1, result.output
    assert str(config) in result.stderr and words in result.stderr
    assert TOKEN not in result.stdout  # never the default profile's token instead
    if "acme" in value:
        assert "Did you mean acme-shop?" in result.stderr


@pytest.mark.parametrize("command", [("status",), ("refresh",), ("whoami",), ("check-access",)])
def test_a_usage_error_under_a_broken_active_profile_is_still_one_json_usage_error(metrika, isolated, command):
    """The usage error comes first (exit 2, one JSON object): reading the profile's name for the
    document must not turn it into the config error, printed as text."""
    store_profiles(isolated, {"default": {"token": TOKEN}})
    config = isolated / "config.toml"
    config.write_text('active_profile = "b@d"\n' + config.read_text())
    result = metrika(*command, "--json", "--bogus")
    assert result.code == 2, result.output
    document = json.loads(result.stdout)
    assert document["diagnosis"] == "bad_input" and "--bogus" in document["summary"]


def test_a_broken_active_profile_leaves_the_ways_out_open(metrika, isolated):
    store_profiles(isolated, {"default": {"token": TOKEN}, "acme": {"token": TOKEN}})
    config = isolated / "config.toml"
    config.write_text("active_profile = 42\n" + config.read_text())
    listing = metrika("switch")
    assert listing.code == 0 and "acme" in listing.stdout and "active_profile = 42" in listing.stderr
    assert metrika("token", "--profile", "acme").stdout == TOKEN + "\n"
    assert metrika("token", env={"METRIKA_TOKEN": ODD_TOKENS[0]}).stdout == ODD_TOKENS[0] + "\n"
    assert metrika("switch", "acme").code == 0
    assert metrika("token").stdout == TOKEN + "\n"


def test_a_hand_edited_name_in_a_config_error_is_shown_escaped(metrika, isolated):
    store_profiles(isolated, {"evil\nname\x1b[2J": {"token": TOKEN, "login": 42}})
    result = metrika("status", "--offline")
    assert result.code == 1
    assert "profiles.evil\\nname\\x1b[2J.login has a value of the wrong type" in result.stderr
