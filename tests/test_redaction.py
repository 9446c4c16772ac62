"""No secret echoed, and JSON never garbled: redaction works on the values before they are
rendered (never on the rendered text), hides any piece of 8 characters or more of a secret this
run knows and any run shaped like a token, and cuts long values only after that. A value too
short to be a token is token_malformed, never stored, and never redacted."""

from __future__ import annotations

import json
import string

import pytest
from conftest import CLIENT_ID, TOKEN, call_metrika
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from metrika_cli.app import click_command
from metrika_cli.env import Env
from metrika_cli.text import Secrets, fingerprint, shown

# Every shape a token has had, and odd ones (all lower case, long hex, a bare 16 characters).
SHAPES = [
    TOKEN,
    "y0_AgAAAAAAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_aBcDeF",
    "AQAAAAAAbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "0123456789abcdef0123456789abcdef",
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmn",
    "lowercaseonly-token_abcdefghijkl",
    "sixteen-chars-ok",
]


def pieces(secret: str) -> set[str]:
    return {secret[i : i + 8] for i in range(len(secret) - 7)}


def leaked(secret: str, text: str) -> list[str]:
    return sorted(piece for piece in pieces(secret) if piece in text)


@pytest.fixture
def executed(monkeypatch):
    calls: list[list[str]] = []
    monkeypatch.setattr(Env, "exec", lambda self, file, argv, environ: calls.append(argv) or 0)
    return calls


# ---- the redaction itself --------------------------------------------------------------


@pytest.mark.parametrize("secret", SHAPES)
@pytest.mark.parametrize(
    "wrap",
    [
        "{}",
        "OAuth {}",
        '"{}"',
        "'{}'",
        "YM_TOKEN={}",
        "https://oauth.yandex.ru/verification_code#access_token={}&expires_in=3600",
        "Authorization: Bearer {}.",
        "x{}x",
    ],
)
def test_a_known_secret_inside_any_text_is_hidden(secret, wrap):
    secrets = Secrets()
    secrets.add(secret)
    text = wrap.format(secret)
    assert leaked(secret, secrets.redact(text)) == []
    assert fingerprint(secret) in secrets.redact(text)


@pytest.mark.parametrize("secret", SHAPES)
def test_any_piece_of_8_characters_of_a_known_secret_is_hidden_wherever_it_is_cut(secret):
    secrets = Secrets()
    secrets.add(secret)
    for start in range(len(secret) - 8):
        for end in range(start + 8, len(secret) + 1, 5):
            assert leaked(secret, secrets.redact(f"got {secret[start:end]}: no")) == [], (start, end)


@pytest.mark.parametrize("run", [SHAPES[1], SHAPES[2], "y0_abcdefghijklmnop", "z" * 32, "Z-_9" * 9])
def test_a_token_shaped_run_is_hidden_even_when_nobody_knows_it(run):
    assert run not in Secrets().redact(f"--login {run!r} is not a login")


@pytest.mark.parametrize(
    "kept",
    [CLIENT_ID, "sha256:6b86b273", "metrika:read", "/home/vasya/.config/metrika-cli/config.toml", "short-lower-15c"],
)
def test_a_client_id_fingerprint_scope_path_or_short_word_is_kept(kept):
    assert Secrets().redact(f"app {kept}.") == f"app {kept}."


@pytest.mark.parametrize("value", ["1", "ok", "e", "schema", "OAuth", "Bearer", "abcdefghijklmno"])
def test_a_value_too_short_to_be_a_token_is_never_a_secret(value):
    secrets = Secrets()
    secrets.add(value)
    assert len(secrets) == 0
    assert secrets.redact('{"schema": 1, "ok": true, "error": "e"}') == '{"schema": 1, "ok": true, "error": "e"}'


def test_long_values_are_cut_only_after_redaction():
    lower = "abcdefghijklmnopqrstuvwxyz0123456789abcdefghij"  # no capitals: looked like no token
    assert lower[:20] not in shown(lower, 40) and lower[:20] not in shown(f"x {lower}", 20)


# ---- whole commands ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "ok", "e", "schema", "true", "null", "OAuth", "Bearer"])
def test_a_short_env_token_is_token_malformed_and_the_json_parses(fake, metrika, value):
    for args in (("whoami", "--json"), ("check-access", "--json")):
        result = metrika(*args, env={"METRIKA_TOKEN": value})
        document = json.loads(result.stdout)
        assert result.code == 4, (args, result.output)
        assert document["schema"] == 1 and document["diagnosis"] == "token_malformed"
        assert "sha256" not in result.stdout.replace(fingerprint(value), "")
    result = metrika("whoami", env={"METRIKA_TOKEN": value})
    assert result.code == 4  # and the messages are not garbled: no "e" or "1" in them is replaced
    assert result.stderr.startswith("token_malformed: The value from METRIKA_TOKEN cannot be a token: it ")
    assert "What to do:\n  1. Set METRIKA_TOKEN to the token alone" in result.stderr


@pytest.mark.parametrize("pasted", ["OAuth", "Bearer", "OAuth Bearer", "bearer   oauth", "y0_short", "abc123"])
@pytest.mark.parametrize("verify", [(), ("--no-verify",)])
def test_a_bare_prefix_or_a_short_value_is_never_stored(fake, metrika, isolated, pasted, verify):
    result = metrika("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID, *verify, input=pasted)
    assert result.code == 2 and "cannot be a token" in result.stderr, result.output
    assert not (isolated / "credentials.toml").exists() and fake.requests == []


@pytest.mark.parametrize("secret", SHAPES)
@pytest.mark.parametrize(
    "args",
    [
        ("exec", "--env", "YM_TOKEN={}", "--", "tool"),
        ("check-access", "--login", "OAuth {}"),
        ("check-access", "--json", "--login", '"{}"'),
        ("whoami", "--profile", "https://oauth.yandex.ru/verification_code#access_token={}&expires_in=1"),
        ("auth-url", "--client-id", CLIENT_ID, "--login-hint", "OAuth {}"),
        ("whoami", "--json", "'{}'"),
    ],
)
def test_a_token_inside_an_argument_is_never_echoed(fake, executed, metrika, secret, args):
    fake.add_token(secret)
    result = metrika(*(arg.format(secret) for arg in args), env={"METRIKA_TOKEN": secret})
    assert result.code != 0 and leaked(secret, result.output) == [], result.output
    assert executed == []
    if "--json" in args:
        json.loads(result.stdout)


def test_the_login_line_names_the_app_the_token_was_issued_to(fake, metrika):
    other_app = "0f9e8d7c6b5a49382716051423324150"
    fake.accounts[TOKEN].client_id = other_app
    result = metrika("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID, input=TOKEN)
    assert result.code == 0, result.output
    assert f"with app {other_app}" in result.stderr and f"with app {CLIENT_ID}" not in result.stderr
    assert f"not to your ClientID {CLIENT_ID}" in result.stderr


# ---- the property: any command, any argument --------------------------------------------


def argument_slots() -> list[tuple[str, ...]]:
    """Every command with the hostile value (`{}`) in each of its arguments and options, with and
    without --json where the command has it, and before the command as a global option."""
    slots: list[tuple[str, ...]] = [("{}",), ("--profile", "{}", "whoami", "--json")]
    for name, command in sorted(click_command().commands.items()):
        with_json = [(), ("--json",)] if any("--json" in param.opts for param in command.params) else [()]
        for param in command.params:
            if getattr(param, "is_flag", False) or param.name == "help":
                continue
            head = (param.opts[0],) if param.param_type_name == "option" else ()
            tail = ("--", "tool") if name == "exec" and head else ()
            slots += [(name, *extra, *head, "{}", *tail) for extra in with_json]
    return slots


SLOTS = argument_slots()
WRAPS = ["{}", "OAuth {}", '"{}"', "YM_TOKEN={}", "#access_token={}&expires_in=1", "Bearer {}'"]
noise = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    slot=st.sampled_from(SLOTS),
    secret=st.one_of(st.sampled_from(SHAPES), st.text(string.ascii_lowercase + string.digits + "_-", min_size=16)),
    wrap=st.sampled_from(WRAPS),
    cut=st.tuples(st.integers(0, 60), st.integers(8, 80)),
    before=noise,
    after=noise,
    with_input=st.booleans(),
)
@example(
    slot=("whoami", "--json", "{}"), secret=SHAPES[3], wrap="{}", cut=(0, 80), before="", after="", with_input=False
)
def test_no_piece_of_a_known_secret_in_any_output_and_json_always_parses(
    fake, executed, slot, secret, wrap, cut, before, after, with_input
):
    start = min(cut[0], len(secret) - 8)
    hostile = before + wrap.format(secret[start : start + cut[1]]) + after
    args = [arg.replace("{}", hostile) if arg == "{}" else arg for arg in slot]
    result = call_metrika(*args, input=hostile if with_input else "", env={"METRIKA_TOKEN": secret})
    printed_by_design = result.code == 0 and args[0] == "token"  # the one command that prints it
    assert leaked(secret, result.stderr + ("" if printed_by_design else result.stdout)) == [], (args, result)
    if "--json" in args[: args.index("--") if "--" in args else None] and result.stdout:
        assert isinstance(json.loads(result.stdout), dict), (args, result)
    assert "Traceback" not in result.output and "Unexpected error" not in result.output, (args, result)


def test_a_token_in_a_refused_base_url_is_hidden_before_the_url_is_cut(metrika):
    lower = "zyxwvutsrqponmlk9876543210zyxwvutsrqponm"  # nobody knows it; no capitals
    url = "ftp://api-metrika.yandex.net/" + "p/" * 80 + lower  # the token straddles character 200
    result = metrika("whoami", env={"METRIKA_API_URL": url, "METRIKA_TOKEN": TOKEN})
    assert result.code == 2 and "METRIKA_API_URL" in result.stderr
    assert lower[:8] not in result.output
