"""A keyring that hangs, is locked, refuses, or is missing: a clear message, exit 7, no hang,
and nothing already stored is lost."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import tomli_w
from conftest import CLIENT_ID, OTHER_TOKEN, TOKEN
from keyring_backends import backend_env

from metrika_cli.env import KEYRING_TIMEOUT

LOGIN = ("login", "--with-token", "--client-id", CLIENT_ID)
FAIL = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
NULL = {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
BROKEN = {
    "hanging": backend_env("HangingKeyring"),
    "locked": backend_env("LockedKeyring"),
    "refusing": backend_env("RefusingKeyring"),
    "fail": FAIL,
    "null": NULL,
}
# The Env's keyring_timeout where the keyring hangs: each such test waits it out (the 5 s default
# is the same code). Where it answers at once, 1 s, for a slow start on a busy machine.
HANGING_LIMIT = 0.5


def limit_for(backend: str) -> float:
    return HANGING_LIMIT if backend == "hanging" else 1.0


WORDS = {
    "hanging": f"did not answer within {HANGING_LIMIT:g} s",  # the Env's keyring_timeout in these tests
    "locked": "locked",
    "refusing": "refused the item",
    "fail": "No OS keyring",
    "null": "No OS keyring",
}


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.toml"))}


def assert_store_options_spelled_out(stderr: str) -> None:
    for words in ("--insecure-storage", "METRIKA_TOKEN", "keyring"):
        assert words in stderr, stderr


@pytest.fixture
def stored_in_file(fake, metrika, isolated):
    """vasya's TOKEN stored in plain text (as `--insecure-storage` does), config metadata beside it."""
    fake.add_token(OTHER_TOKEN, login="petya", client_id=CLIENT_ID)
    result = metrika(*LOGIN, "--insecure-storage", input=TOKEN)
    assert result.code == 0, result.stderr
    before = snapshot(isolated)
    assert set(before) == {"config.toml", "credentials.toml"}
    return before


@pytest.mark.parametrize("backend", list(BROKEN))
def test_a_failing_keyring_at_login_exits_7_and_loses_nothing(stored_in_file, metrika, isolated, backend):
    started = time.monotonic()
    limit = HANGING_LIMIT if backend == "hanging" else KEYRING_TIMEOUT  # the hanging one is waited for: briefly
    result = metrika(*LOGIN, input=OTHER_TOKEN, env=BROKEN[backend], timeout=30, keyring_timeout=limit)
    elapsed = time.monotonic() - started
    assert result.code == 7, result.stderr
    assert WORDS[backend] in result.stderr
    assert_store_options_spelled_out(result.stderr)
    assert "Traceback" not in result.stderr
    if backend == "hanging":  # waited for the keyring for the time limit, then gave up
        assert limit <= elapsed < 15, elapsed
    else:
        assert elapsed < KEYRING_TIMEOUT, elapsed
    assert snapshot(isolated) == stored_in_file
    assert metrika("token").stdout == TOKEN + "\n"


def keyring_profile(directory: Path) -> None:
    """A profile whose token is recorded as kept in the keyring."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    (directory / "config.toml").write_text(
        tomli_w.dumps(
            {
                "profiles": {
                    "default": {"client_id": CLIENT_ID, "login": "vasya", "uid": "1000034426", "storage": "keyring"}
                }
            }
        )
    )


@pytest.mark.parametrize(
    "backend, command",
    [
        ("hanging", ("token",)),
        ("hanging", ("check-access", "--json")),
        ("locked", ("token",)),
        ("locked", ("token", "--header")),
        ("locked", ("whoami",)),
        ("locked", ("check-access",)),
        ("locked", ("check-access", "--json")),
    ],
)
def test_reading_from_a_broken_keyring_exits_7_without_hanging(fake, metrika, isolated, backend, command):
    keyring_profile(isolated)
    before = snapshot(isolated)
    started = time.monotonic()
    # a short limit: the point is not hanging
    result = metrika(*command, env=BROKEN[backend], timeout=30, keyring_timeout=limit_for(backend))
    assert result.code == 7, result.output
    assert time.monotonic() - started < 15
    assert WORDS[backend] in result.output
    assert "Traceback" not in result.output
    assert snapshot(isolated) == before
    assert fake.requests == []
    if "--json" in command:
        document = json.loads(result.stdout)
        assert document["diagnosis"] == "store_unavailable" and document["exit_code"] == 7


@pytest.mark.parametrize("backend", ["fail", "null"])
def test_without_a_keyring_a_non_interactive_login_names_every_way_out(fake, metrika, isolated, backend):
    result = metrika(*LOGIN, input=TOKEN, env=BROKEN[backend])
    assert result.code == 7
    assert "No OS keyring" in result.stderr
    assert_store_options_spelled_out(result.stderr)
    assert "METRIKA_TOKEN_FILE" in result.stderr
    assert snapshot(isolated) == {}


def test_logout_with_a_hanging_keyring_exits_7_and_keeps_the_metadata(fake, metrika, isolated):
    keyring_profile(isolated)
    before = snapshot(isolated)
    started = time.monotonic()
    result = metrika("logout", env=BROKEN["hanging"], timeout=30, keyring_timeout=HANGING_LIMIT)
    assert result.code == 7 and time.monotonic() - started < 15
    assert "Traceback" not in result.stderr
    assert snapshot(isolated) == before


def test_insecure_storage_needs_no_keyring_at_all(fake, metrika, isolated):
    """The way out that the message names does work with a hanging keyring: nothing touches it."""
    started = time.monotonic()
    result = metrika(*LOGIN, "--insecure-storage", input=TOKEN, env=BROKEN["hanging"], timeout=30)
    assert result.code == 0, result.stderr
    assert time.monotonic() - started < KEYRING_TIMEOUT


# ---- the same words on the new paths: the recorded class loaded directly, many profiles at once


def recorded_profiles(directory: Path, backend: str, names: tuple[str, ...] = ("default",)) -> None:
    """Profiles whose token is in the keyring, the backend class recorded at login."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    table = {"client_id": CLIENT_ID, "login": "vasya", "storage": "keyring", "keyring_backend": backend}
    (directory / "config.toml").write_text(tomli_w.dumps({"profiles": dict.fromkeys(names, table)}))


@pytest.mark.parametrize("backend", ["hanging", "locked"])
@pytest.mark.parametrize("command", [("token",), ("status", "--offline", "--json")])
def test_a_broken_recorded_backend_is_explained_as_before(fake, metrika, isolated, monkeypatch, backend, command):
    recorded_profiles(isolated, BROKEN[backend]["PYTHON_KEYRING_BACKEND"], ("default", "work"))
    monkeypatch.setenv("PYTHONPATH", BROKEN[backend]["PYTHONPATH"])
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")  # nothing named: the recorded class is loaded
    before = snapshot(isolated)
    started = time.monotonic()
    result = metrika(*command, timeout=30, keyring_timeout=limit_for(backend))
    assert result.code == 7, result.output
    assert time.monotonic() - started < 1 + 5  # one time limit for every profile
    assert WORDS[backend] in result.output
    assert "Traceback" not in result.output and snapshot(isolated) == before
    if command[-1] == "--json":
        items = json.loads(result.stdout)["profiles"]
        assert [item["diagnosis"] for item in items] == ["store_unavailable"] * 2


@pytest.mark.parametrize("backend", ["hanging", "locked", "fail"])
def test_status_reading_every_profile_at_once_explains_a_broken_keyring_as_token_does(fake, metrika, isolated, backend):
    recorded_profiles(isolated, "keyring.backends.SecretService.Keyring", ("a", "b", "c"))
    many = metrika("status", "--offline", "--json", env=BROKEN[backend], keyring_timeout=limit_for(backend))
    items = json.loads(many.stdout)["profiles"]
    assert many.code == 7 and [item["profile"] for item in items] == ["a", "b", "c"]
    for item in items:  # each as `metrika token` of that profile explains it
        single = metrika("token", "--profile", item["profile"], env=BROKEN[backend], keyring_timeout=limit_for(backend))
        assert single.code == 7
        assert item["summary"] in single.stderr and all(fix in single.stderr for fix in item["fix"])


@pytest.mark.parametrize("backend", ["BytesKeyring", "IntKeyring"])
def test_an_entry_that_is_not_text_is_named_for_its_own_profile_when_read_many_at_once(
    fake, metrika, isolated, backend
):
    recorded_profiles(isolated, f"keyring_backends.{backend}", ("alpha", "beta"))
    result = metrika("status", "--offline", "--json", env=backend_env(backend))
    assert result.code == 7, result.output
    items = {item["profile"]: item for item in json.loads(result.stdout)["profiles"]}
    for name in ("alpha", "beta"):
        assert f"something other than text for profile {name}." in items[name]["summary"]
    assert "Traceback" not in result.output
