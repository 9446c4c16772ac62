"""The authorize URL and what people paste: unit tests of metrika_cli.oauth."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import CLIENT_ID, TOKEN

from metrika_cli.errors import BadInput
from metrika_cli.oauth import build_authorize_url, parse_pasted_token, token_problem, validate_client_id

ADDRESS = f"https://oauth.yandex.ru/verification_code#access_token={TOKEN}&token_type=bearer&expires_in=31536000"


def test_authorize_url_asks_for_a_token_from_the_given_app():
    url = build_authorize_url("https://oauth.yandex.ru", CLIENT_ID)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "oauth.yandex.ru", "/authorize")
    assert parse_qs(parts.query) == {"response_type": ["token"], "client_id": [CLIENT_ID]}


def test_authorize_url_carries_the_optional_parameters():
    url = build_authorize_url(
        "https://oauth.yandex.ru/",
        CLIENT_ID.upper(),
        ["metrika:read", "metrika:write"],
        login_hint="vasya@yandex.ru",
        force_confirm=True,
    )
    query = parse_qs(urlsplit(url).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["scope"] == ["metrika:read metrika:write"]
    assert query["login_hint"] == ["vasya@yandex.ru"]
    assert query["force_confirm"] == ["yes"]
    assert "%20" in url and "+" not in url


@pytest.mark.parametrize("value", ["", "abc", CLIENT_ID + "0", "g" * 32, TOKEN])
def test_a_client_id_that_is_not_32_hex_is_refused_without_echoing_it(value):
    with pytest.raises(BadInput) as caught:
        validate_client_id(value)
    assert "32 hexadecimal" in caught.value.message
    assert not value or value not in caught.value.message


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("abc1234", ["This one has 7 characters."]),
        ("a", ["This one has 1 character."]),
        ("g" * 32, ["32 characters in it are not hexadecimal digits."]),
        (CLIENT_ID[:31] + "x", ["1 character in it is not a hexadecimal digit."]),
        (CLIENT_ID[:20] + " " + CLIENT_ID[20:], ["This one has 33 characters.", "1 character in it is not"]),
    ],
)
def test_a_wrong_client_id_is_told_in_counts_of_characters(value, words):
    with pytest.raises(BadInput) as caught:
        validate_client_id(value)
    message = caught.value.message
    assert message.startswith("That is not a ClientID: a ClientID is 32 hexadecimal characters (0-9, a-f).")
    for word in words:
        assert word in message
    if len(value.strip()) == 32:
        assert "This one has" not in message  # the length is right: only the characters are named


def test_a_token_given_as_a_client_id_is_described_not_echoed():
    with pytest.raises(BadInput) as caught:
        validate_client_id(TOKEN)
    message = caught.value.message
    assert f"This one has {len(TOKEN)} characters." in message
    assert TOKEN not in message and TOKEN[:8] not in message


@pytest.mark.parametrize(
    "pasted",
    [
        TOKEN,
        f"  {TOKEN}\n",
        f"OAuth {TOKEN}",
        f"bearer {TOKEN}",
        f"Authorization: OAuth {TOKEN}",
        f'"{TOKEN}"',
        f"'OAuth {TOKEN}'",
        f"«{TOKEN}»",
        f"https://oauth.yandex.ru/verification_code#access_token={TOKEN}&token_type=bearer",
        f"#access_token={TOKEN}",
        f"access_token={TOKEN}&token_type=bearer",
    ],
)
def test_every_accepted_wrapping_gives_the_bare_token(pasted):
    assert parse_pasted_token(pasted, CLIENT_ID).token == TOKEN


def test_the_whole_address_keeps_expires_in():
    pasted = parse_pasted_token(ADDRESS)
    assert (pasted.token, pasted.expires_in) == (TOKEN, 31536000)


def test_fragment_parameters_may_come_in_any_order_with_cid():
    pasted = parse_pasted_token(
        f"https://oauth.yandex.ru/verification_code#expires_in=60&cid=abcd&access_token={TOKEN}"
    )
    assert (pasted.token, pasted.expires_in) == (TOKEN, 60)


@pytest.mark.parametrize(
    "pasted, words",
    [
        ("", "empty"),
        ("   \n ", "empty"),
        (CLIENT_ID, "ClientID"),
        ("https://oauth.yandex.ru/verification_code#error=access_denied", "denied"),
        ("https://oauth.yandex.ru/verification_code#error=unauthorized_client", "unauthorized_client"),
        ("https://oauth.yandex.ru/verification_code?code=1234567", "confirmation code"),
        ("https://oauth.yandex.ru/verification_code", "no token"),
        ("y0__abc def", "whitespace"),
        ("y0__abcdéf", "non-ASCII"),
        ("y0__abc\x07def", "control"),
        ('y0__ab"cdef', "quotes"),
        ("y0__ab;cdef", "characters"),
    ],
)
def test_what_cannot_be_a_token_is_refused_with_a_reason(pasted, words):
    with pytest.raises(BadInput) as caught:
        parse_pasted_token(pasted, CLIENT_ID)
    assert words in caught.value.message
    assert caught.value.exit_code == 2


def test_a_refusal_never_echoes_the_pasted_value():
    secret = "y0__" + "S" * 40 + " tail"
    with pytest.raises(BadInput) as caught:
        parse_pasted_token(secret)
    assert "S" * 8 not in caught.value.message + "".join(caught.value.fix)


@pytest.mark.parametrize(
    "value, problem",
    [
        (TOKEN, None),
        ("AQAAAAAA" + "x" * 31, None),
        ("0123456789abcdef0123456789abcdef", None),
        (f"OAuth {TOKEN}", "prefix"),
        (f"{TOKEN}\n", "whitespace"),
        (CLIENT_ID, "client_id"),
        (f"https://x/#access_token={TOKEN}", "address"),
        ("", "empty"),
    ],
)
def test_token_problem_flags_only_what_cannot_be_a_token(value, problem):
    assert token_problem(value, CLIENT_ID) == problem


@pytest.mark.parametrize("expires", ["²", "1" * 40, "-5", "soon"])
def test_an_expires_in_that_is_no_number_of_seconds_is_dropped_not_fatal(expires):
    pasted = parse_pasted_token(f"https://oauth.yandex.ru/verification_code#access_token={TOKEN}&expires_in={expires}")
    assert (pasted.token, pasted.expires_in) == (TOKEN, None)
