"""A token the code or device flow obtained that is then not stored (it failed verification, the
user kept the old token) exists only in metrika's hands: it is revoked at Yandex, best effort,
in one line; when it cannot be, the user is told where it may still be listed. End to end
against the fake's OAuth, which records what it revoked."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import CLIENT_ID, TOKEN
from fake_yandex import Account
from test_login_flows import DEVICE, LOGIN, SECRET, Person, at_terminal, stored, the_code, waits

from metrika_cli.text import fingerprint

__all__ = ["waits"]  # a fixture, used by name
DATA_ACCESS = "https://id.yandex.ru/personal/data-access"
WITH_SECRET = {"METRIKA_CLIENT_SECRET": SECRET}


@pytest.fixture
def issued(fake, monkeypatch) -> list[str]:
    """Every access token the fake issues this test (revoking removes it from fake.issued)."""
    tokens: list[str] = []
    real = fake.issue

    def issue(*args, **kwargs):
        made = real(*args, **kwargs)
        tokens.append(made.access_token)
        return made

    monkeypatch.setattr(fake, "issue", issue)
    return tokens


def test_a_code_flow_token_that_fails_verification_is_revoked(fake, issued, monkeypatch, isolated, keyring_file):
    fake.consent = Account(metrika=False)  # the app has no Metrika rights: scope_missing
    result = at_terminal(monkeypatch, Person([the_code]), *LOGIN, env=WITH_SECRET)
    assert result.code == 5 and "Nothing was stored." in result.stderr
    (token,) = issued
    assert fake.revoked == [token]
    assert f"The new token {fingerprint(token)} was not stored, so metrika revoked it at Yandex." in result.stderr
    assert stored(isolated) == {"keyring": {}} and token not in result.output


def test_a_device_flow_token_that_fails_verification_is_revoked_without_a_terminal(
    fake, issued, metrika, isolated, keyring_file, waits
):
    fake.consent = Account(metrika=False)
    fake.device_approve_after = 1
    result = metrika(*DEVICE, env=WITH_SECRET)
    assert result.code == 5, result.stderr
    assert fake.revoked == issued and "revoked it at Yandex" in result.stderr
    assert stored(isolated) == {"keyring": {}}


def test_without_the_apps_secret_it_says_where_the_token_may_still_be_listed(
    fake, issued, monkeypatch, isolated, keyring_file
):
    fake.consent = Account(metrika=False)
    result = at_terminal(monkeypatch, Person([the_code]), *LOGIN)
    assert result.code == 5
    (token,) = issued
    assert fake.revoked == [] and fake.requests_to("/revoke_token") == []
    assert f"The new token {fingerprint(token)} was not stored" in result.stderr
    assert "METRIKA_CLIENT_SECRET" in result.stderr and DATA_ACCESS in result.stderr


@pytest.mark.parametrize(
    "fault, words",
    [({"mode": "status", "status": 503}, "HTTP 503"), ({"mode": "cut"}, "network error")],
)
def test_a_failed_revocation_says_so_and_where_the_token_may_still_be_listed(
    fake, issued, monkeypatch, isolated, keyring_file, fault, words
):
    fake.consent = Account(metrika=False)
    fake.fail("/revoke_token", **fault)
    result = at_terminal(monkeypatch, Person([the_code]), *LOGIN, env=WITH_SECRET)
    assert result.code == 5
    assert fake.revoked == [] and fake.requests_to("/revoke_token")
    assert "revoking it at Yandex failed" in result.stderr and words in result.stderr
    assert DATA_ACCESS in result.stderr and "Traceback" not in result.stderr


def test_a_token_kept_out_by_the_user_is_revoked_too(fake, issued, monkeypatch, metrika, isolated, keyring_file):
    """The profile holds vasya's token; the new one is petya's, and the user keeps vasya's."""
    assert metrika("login", "--with-token", "--client-id", CLIENT_ID, input=TOKEN).code == 0
    before = stored(isolated)
    fake.consent = Account(login="petya", uid="42")
    result = at_terminal(monkeypatch, Person([the_code, "n"]), *LOGIN, env=WITH_SECRET)
    assert result.code == 1 and "Kept the token of vasya" in result.stderr
    assert fake.revoked == issued and stored(isolated) == before


def test_a_stored_token_is_never_revoked(fake, issued, metrika, monkeypatch, isolated, keyring_file):
    """Verification passes: nothing is revoked; a pasted token (no device_id) never is."""
    assert at_terminal(monkeypatch, Person([the_code]), *LOGIN, env=WITH_SECRET).code == 0
    fake.consent = Account(metrika=False)
    fake.add_token("y0__pasted" + "x" * 40, metrika=False)
    pasted = at_terminal(monkeypatch, Person(["y0__pasted" + "x" * 40]), *LOGIN, env=WITH_SECRET)
    assert pasted.code == 5 and "revoke" not in pasted.stderr.lower()
    assert fake.revoked == [] and fake.requests_to("/revoke_token") == []


def test_a_token_a_profile_holds_is_never_revoked_even_when_yandex_hands_it_out_again(
    fake, issued, monkeypatch, isolated, keyring_file
):
    assert at_terminal(monkeypatch, Person([the_code]), *LOGIN, env=WITH_SECRET).code == 0
    (held,) = issued

    def the_same_again(*args, **kwargs):
        fake.accounts[held] = dataclasses.replace(fake.accounts[held], metrika=False)  # fails verification now
        return fake.issued[held]

    monkeypatch.setattr(fake, "issue", the_same_again)
    before = stored(isolated)
    result = at_terminal(monkeypatch, Person([the_code]), *LOGIN, env=WITH_SECRET)
    assert result.code == 5 and stored(isolated) == before
    assert fake.revoked == [] and fake.requests_to("/revoke_token") == []
