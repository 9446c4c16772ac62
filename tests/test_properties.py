"""Property tests of what people paste: whatever the input, the parser either recovers a clean
token or refuses with BadInput; it never crashes and never lets whitespace or odd characters in."""

from __future__ import annotations

import itertools
import string

from conftest import CLIENT_ID, TOKEN
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from metrika_cli.errors import BadInput
from metrika_cli.oauth import parse_pasted_token, validate_client_id

TOKEN_ALPHABET = string.ascii_letters + string.digits + "_-"
tokens = st.text(alphabet=TOKEN_ALPHABET, min_size=20, max_size=80)
client_ids = st.text(alphabet="0123456789abcdefABCDEF", min_size=32, max_size=32)
spaces = st.text(alphabet=" \t\r\n", max_size=4)
quotes = st.sampled_from(["", '"', "'", "`"])
prefixes = st.sampled_from(["", "OAuth ", "Bearer ", "oauth ", "BEARER ", "Authorization: OAuth "])
odd_characters = st.sampled_from([" ", "\t", "\n", "\x00", "\x1b", "\x7f", "é", "ё", "\u00a0", "\u200b", "\u3000", "²"])
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def accepted(text: str, client_id: str | None = None):
    """The parse result, or None when refused; any other exception fails the test."""
    try:
        return parse_pasted_token(text, client_id)
    except BadInput:
        return None


def clean(token: str) -> bool:
    return bool(token) and token.isascii() and not any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in token)


@FAST
@given(st.text(max_size=200), st.one_of(st.none(), st.just(CLIENT_ID)))
@example("access_token=abc&expires_in=\u00b2", None)
@example("#access_token=" + TOKEN + "&expires_in=\u0661\u0662", None)
@example("https://x/#access_token=%20" + TOKEN, None)
@example("https://x/#access_token=" + TOKEN + "%00", None)
@example('Bearer ""', None)
def test_any_text_is_either_a_clean_token_or_bad_input(text, client_id):
    pasted = accepted(text, client_id)
    if pasted is not None:
        assert clean(pasted.token)
        assert pasted.expires_in is None or (isinstance(pasted.expires_in, int) and pasted.expires_in >= 0)


@FAST
@given(tokens, st.integers(0, len(TOKEN_ALPHABET)), odd_characters)
def test_a_token_with_whitespace_control_or_non_ascii_inside_is_refused(token, where, odd):
    position = 1 + where % (len(token) - 1)
    assert accepted(token[:position] + odd + token[position:]) is None


@FAST
@given(tokens, prefixes, quotes, spaces, spaces)
def test_a_token_is_recovered_from_a_prefix_quotes_and_whitespace(token, prefix, quote, before, after):
    pasted = accepted(f"{before}{quote}{prefix}{token}{quote}{after}")
    assert pasted is not None and pasted.token == token and pasted.expires_in is None


@FAST
@given(tokens, st.integers(1, 10**9), client_ids, st.permutations(range(4)), spaces, spaces, quotes)
def test_a_token_and_its_expiry_are_recovered_from_the_browser_address(
    token, expires_in, cid, order, before, after, quote
):
    parameters = [f"access_token={token}", "token_type=bearer", f"expires_in={expires_in}", f"cid={cid}"]
    fragment = "&".join(parameters[i] for i in order)
    address = f"https://oauth.yandex.ru/verification_code#{fragment}"
    pasted = accepted(f"{before}{quote}{address}{quote}{after}")
    assert pasted is not None
    assert pasted.token == token and pasted.expires_in == expires_in


@FAST
@given(tokens, st.integers(1, 10**9))
def test_the_fragment_alone_is_enough(token, expires_in):
    pasted = accepted(f"#access_token={token}&token_type=bearer&expires_in={expires_in}")
    assert pasted is not None and (pasted.token, pasted.expires_in) == (token, expires_in)


@FAST
@given(tokens)
def test_the_client_id_itself_is_never_taken_for_a_token(token):
    assert accepted(CLIENT_ID, CLIENT_ID) is None
    assert accepted(CLIENT_ID.upper(), CLIENT_ID) is None
    assert accepted(token, CLIENT_ID) is not None


def test_every_order_of_the_fragment_parameters_is_covered():
    """The permutation strategy above draws from these 24 orders; one concrete run of all of them."""
    parameters = [f"access_token={TOKEN}", "token_type=bearer", "expires_in=31536000", f"cid={CLIENT_ID}"]
    for order in itertools.permutations(parameters):
        pasted = accepted("https://oauth.yandex.ru/verification_code#" + "&".join(order))
        assert pasted is not None and (pasted.token, pasted.expires_in) == (TOKEN, 31536000)


@FAST
@given(st.text(max_size=100))
@example("\u0661" * 32)
@example("ａ" * 32)
def test_validate_client_id_returns_32_lower_hex_or_bad_input(text):
    try:
        value = validate_client_id(text)
    except BadInput:
        return
    assert len(value) == 32 and set(value) <= set("0123456789abcdef")


@FAST
@given(client_ids, spaces, spaces)
def test_validate_client_id_accepts_any_case_with_surrounding_whitespace(cid, before, after):
    assert validate_client_id(before + cid + after) == cid.lower()


@FAST
@given(tokens)
def test_a_token_given_as_client_id_is_refused_without_being_echoed(token):
    try:
        validate_client_id(token)
    except BadInput as exc:
        assert token not in exc.message + " ".join(exc.fix)
    else:
        assert len(token) == 32 and all(ch in string.hexdigits for ch in token)
