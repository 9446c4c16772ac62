"""`metrika whoami` end to end against the loopback fake: who, which app, where kept, when it expires."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import CLIENT_ID, OTHER_CLIENT_ID, OTHER_TOKEN, TOKEN

INSECURE = ("login", "--with-token", "--insecure-storage")
WHOAMI_KEYS = {
    "schema",
    "ok",
    "diagnosis",
    "exit_code",
    "profile",
    "token",
    "identity",
    "summary",
    "fix",
    "client_id_matches",
    "expires_at",
    "days_left",
    "counters",
}
UNKNOWN_TOKEN = "y0__xRevokedTokenNotKnownAnywhere0123456789_abcdefghijklmn"


def pasted_address(token: str = TOKEN, expires_in: int = 864000) -> str:
    return f"https://oauth.yandex.ru/verification_code#access_token={token}&token_type=bearer&expires_in={expires_in}"


def fingerprint_of(metrika, env=None) -> str:
    return json.loads(metrika("whoami", "--json", env=env).stdout)["token"]["fingerprint"]


def test_whoami_after_login_shows_login_uid_app_source_fingerprint_expiry_and_counters(fake, metrika, isolated):
    login = metrika(*INSECURE, "--client-id", CLIENT_ID, input=pasted_address())
    assert login.code == 0, login.output
    result = metrika("whoami")
    assert result.code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert lines["login"] == "vasya (uid 1000034426)"
    assert lines["app"] == f"{CLIENT_ID} (your ClientID)"
    fp = fingerprint_of(metrika)
    assert lines["token"] == f"{fp}, file: {isolated / 'credentials.toml'}"
    expected_date = (datetime.now(UTC) + timedelta(seconds=864000)).date().isoformat()
    assert lines["expires"] in (f"{expected_date}, in 9 days", f"{expected_date}, in 10 days")
    assert lines["counters"] == "1 edit, 1 own, 1 view"
    assert f"expires on {expected_date}, in" in result.stderr and "metrika login --profile default" in result.stderr
    assert TOKEN not in result.output


def test_whoami_json_has_the_documented_keys_and_values(fake, metrika):
    assert metrika(*INSECURE, "--client-id", CLIENT_ID, input=pasted_address()).code == 0
    result = metrika("whoami", "--json")
    assert result.code == 0
    document = json.loads(result.stdout)
    assert set(document) >= WHOAMI_KEYS
    assert document["ok"] is True and document["diagnosis"] == "ok" and document["exit_code"] == 0
    assert document["token"]["source"] == "file" and document["token"]["fingerprint"].startswith("sha256:")
    assert document["identity"] == {"login": "vasya", "uid": "1000034426", "client_id": CLIENT_ID}
    assert document["client_id_matches"] is True
    expires = datetime.fromisoformat(document["expires_at"].replace("Z", "+00:00"))
    assert expires.utcoffset() == timedelta(0)
    assert abs((expires - datetime.now(UTC)) - timedelta(seconds=864000)) < timedelta(minutes=2)
    assert document["days_left"] in (9, 10)
    assert document["counters"] == {"total": 3, "by_permission": {"own": 1, "view": 1, "edit": 1}}
    assert TOKEN not in result.output


def test_a_long_lived_token_gets_no_expiry_warning(fake, metrika):
    assert metrika(*INSECURE, "--client-id", CLIENT_ID, input=pasted_address(expires_in=31536000)).code == 0
    result = metrika("whoami")
    assert result.code == 0
    assert "in 364 days" in result.stdout or "in 365 days" in result.stdout
    assert "expire" not in result.stderr


def test_a_bare_token_login_records_no_expiry(fake, metrika):
    assert metrika(*INSECURE, "--client-id", CLIENT_ID, input=TOKEN).code == 0
    result = metrika("whoami")
    assert "unknown (not recorded at login)" in result.stdout
    document = json.loads(metrika("whoami", "--json").stdout)
    assert document["expires_at"] is None and document["days_left"] is None


def test_whoami_with_an_environment_token_says_its_source_and_that_no_client_id_is_known(fake, metrika):
    result = metrika("whoami", env={"METRIKA_TOKEN": TOKEN})
    assert result.code == 0, result.output
    assert "env:METRIKA_TOKEN" in result.stdout and "(your ClientID)" not in result.stdout
    document = json.loads(metrika("whoami", "--json", env={"METRIKA_TOKEN": TOKEN}).stdout)
    assert document["token"]["source"] == "env:METRIKA_TOKEN"
    assert document["client_id_matches"] is None and document["expires_at"] is None


def test_whoami_says_when_the_token_is_not_from_your_app(fake, metrika):
    fake.add_token(OTHER_TOKEN, login="vasya", client_id=OTHER_CLIENT_ID)
    env = {"METRIKA_TOKEN": OTHER_TOKEN, "METRIKA_CLIENT_ID": CLIENT_ID}
    result = metrika("whoami", env=env)
    assert result.code == 0
    assert f"{OTHER_CLIENT_ID} (not your ClientID {CLIENT_ID})" in result.stdout
    assert "warning:" in result.stderr
    assert json.loads(metrika("whoami", "--json", env=env).stdout)["client_id_matches"] is False


def test_whoami_counts_every_counter_of_a_big_account_by_permission_in_pages(fake, metrika):
    permissions = ["own", "edit", "view", "analyst", "view"]
    fake.add_token(
        OTHER_TOKEN,
        login="agency",
        client_id=CLIENT_ID,
        counters=[{"id": 10_000 + i, "permission": permissions[i % 5]} for i in range(2500)],
    )
    document = json.loads(metrika("whoami", "--json", env={"METRIKA_TOKEN": OTHER_TOKEN}).stdout)
    assert document["counters"] == {
        "total": 2500,
        "by_permission": {"own": 500, "edit": 500, "view": 1000, "analyst": 500},
    }
    assert len(fake.requests_to("/management/v1/counters")) == 3  # 1000 a page, never one per counter
    human = metrika("whoami", env={"METRIKA_TOKEN": OTHER_TOKEN})
    assert "500 analyst, 500 edit, 500 own, 1000 view" in human.stdout


def no_token(fake):
    return {}


def token_invalid(fake):
    return {"METRIKA_TOKEN": UNKNOWN_TOKEN}


def header_rejected(fake):
    fake.strip_metrika_auth = True
    return {"METRIKA_TOKEN": TOKEN}


def wrong_app(fake):
    fake.add_token(OTHER_TOKEN, client_id=OTHER_CLIENT_ID, metrika=False)
    return {"METRIKA_TOKEN": OTHER_TOKEN, "METRIKA_CLIENT_ID": CLIENT_ID}


def scope_missing(fake):
    fake.add_token(OTHER_TOKEN, client_id=CLIENT_ID, metrika=False)
    return {"METRIKA_TOKEN": OTHER_TOKEN}


def rate_limited(fake):
    fake.fail("/management/", "status", status=429, error_type="quota_requests_by_uid")
    return {"METRIKA_TOKEN": TOKEN}


def service_unavailable(fake):
    fake.fail("/info", "html", status=502)
    return {"METRIKA_TOKEN": TOKEN}


@pytest.mark.parametrize(
    "scenario",
    [no_token, token_invalid, header_rejected, wrong_app, scope_missing, rate_limited, service_unavailable],
    ids=lambda s: s.__name__,
)
def test_on_failure_whoami_gives_the_same_diagnosis_and_exit_code_as_check_access(fake, metrika, scenario):
    env = scenario(fake)
    check = metrika("check-access", "--json", env=env)
    who = metrika("whoami", "--json", env=env)
    expected = scenario.__name__
    assert check.code == who.code != 0
    checked, told = json.loads(check.stdout), json.loads(who.stdout)
    assert checked["diagnosis"] == told["diagnosis"] == expected
    assert (told["summary"], told["fix"]) == (checked["summary"], checked["fix"])
    assert told["ok"] is False and told["exit_code"] == who.code
    human = metrika("whoami", env=env)
    assert human.code == who.code
    assert f"{expected}: {checked['summary']}" in human.output
    assert "What to do:" in human.output
    for output in (check.output, who.output, human.output):
        assert TOKEN not in output and OTHER_TOKEN not in output and UNKNOWN_TOKEN not in output
