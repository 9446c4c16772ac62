"""Options and variables out of their range are refused before anything opens, saying what is
allowed: --scope takes Metrika's rights only, METRIKA_TIMEOUT a number of seconds in (0, 600]."""

from __future__ import annotations

import json

import pytest
from conftest import CLIENT_ID, TOKEN

RIGHTS = ["metrika:read", "metrika:write", "metrika:expenses", "metrika:user_params", "metrika:offline_data"]


@pytest.mark.parametrize("scope", ["metrika:raed", "metrika:admin", "direct:api", "METRIKA:READ", "login:info", ""])
@pytest.mark.parametrize(
    "command",
    [
        ("auth-url", "--client-id", CLIENT_ID),
        ("login", "--client-id", CLIENT_ID, "--no-browser"),
        ("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID),
    ],
)
def test_a_scope_that_is_not_a_metrika_right_is_exit_2_before_anything_opens(fake, metrika, isolated, command, scope):
    result = metrika(*command, "--scope", "metrika:read", "--scope", scope, input=TOKEN)
    assert result.code == 2, result.output
    assert "is not a Metrika right; the rights are " + ", ".join(RIGHTS) in result.stderr
    assert result.stdout == "" and fake.requests == [] and not isolated.exists()


def test_a_mistyped_scope_names_the_closest_right(metrika):
    result = metrika("auth-url", "--client-id", CLIENT_ID, "--scope", "metrika:raed")
    assert result.code == 2 and "Did you mean metrika:read?" in result.stderr


@pytest.mark.parametrize("scope", RIGHTS)
def test_every_metrika_right_is_accepted(metrika, scope):
    result = metrika("auth-url", "--client-id", CLIENT_ID, "--scope", scope)
    assert result.code == 0 and f"scope={scope.replace(':', '%3A')}" in result.stdout


@pytest.mark.parametrize("value", ["0", "-1", "601", "nan", "inf", "ten"])
def test_a_timeout_out_of_range_says_what_is_allowed(fake, metrika, value):
    result = metrika("whoami", "--json", env={"METRIKA_TOKEN": TOKEN, "METRIKA_TIMEOUT": value})
    document = json.loads(result.stdout)
    assert result.code == 2 and document["diagnosis"] == "bad_input"
    assert "more than 0 and at most 600" in document["summary"] and repr(value) in document["summary"]
    assert fake.requests == []
