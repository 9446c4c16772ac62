"""Interactive login in a real pseudo-terminal (pexpect)."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pexpect
from conftest import CLIENT_ID, TOKEN


def spawn(*args: str) -> pexpect.spawn:
    env = dict(os.environ)
    return pexpect.spawn(
        sys.executable, ["-m", "metrika_cli", *args], env=env, encoding="utf-8", timeout=30, dimensions=(40, 200)
    )


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus if child.exitstatus is not None else 128 + child.signalstatus


def test_the_pasted_token_is_not_echoed(fake, real_keyring):
    child = spawn("login", "--flow", "token", "--client-id", CLIENT_ID, "--no-browser")
    child.expect("response_type=token")
    child.expect("Paste the token")
    child.sendline(TOKEN)
    child.expect("Logged in as vasya")
    transcript = child.before + child.after
    assert finish(child) == 0
    assert TOKEN not in transcript and TOKEN[:16] not in transcript


def test_without_a_client_id_the_prompt_first_explains_how_to_register_the_app(fake, isolated: Path):
    child = spawn("login", "--no-browser")
    child.expect("oauth.yandex.ru/client/new")
    child.expect("verification_code")
    child.expect("ClientID of your app: ")
    for _try in range(3):
        child.sendline("not-hex")
        child.expect("32 hexadecimal")
    assert finish(child) == 2
    assert not (isolated / "config.toml").exists()


def test_a_client_id_typo_at_the_prompt_is_explained_and_asked_again(fake, real_keyring, isolated: Path):
    child = spawn("login", "--no-browser")
    child.logfile_read = transcript = io.StringIO()
    child.expect("ClientID of your app: ")
    child.sendline("abc1234")
    child.expect(r"This one has 7 characters\.")
    child.expect("ClientID of your app: ")
    child.sendline("")  # an empty answer asks again, and is not one of the three tries
    child.expect("ClientID of your app: ")
    child.sendline("z" * 32)
    child.expect(r"32 characters in it are not hexadecimal digits\.")
    child.expect("ClientID of your app: ")
    child.sendline(CLIENT_ID.upper())
    child.expect("response_type=code")
    child.expect("Paste the code")
    child.sendline(TOKEN)
    child.expect("Logged in as vasya")
    assert finish(child) == 0
    assert transcript.getvalue().count("First, register an app") == 1
    assert f'client_id = "{CLIENT_ID}"' in (isolated / "config.toml").read_text()


def test_three_client_id_typos_at_the_prompt_exit_2_with_the_guide_shown_once(fake, isolated: Path):
    child = spawn("login", "--no-browser")
    child.logfile_read = transcript = io.StringIO()
    for answer in ("abc1234", "0" * 31, "g" * 32):
        child.expect("ClientID of your app: ")
        child.sendline(answer)
    child.expect(r"32 characters in it are not hexadecimal digits\.")
    assert finish(child) == 2
    text = transcript.getvalue()
    assert text.count("First, register an app") == 1 and text.count("ClientID of your app: ") == 3
    assert "This one has 7 characters." in text and "This one has 31 characters." in text
    assert "Traceback" not in text
    assert not (isolated / "config.toml").exists()


def test_ctrl_c_at_the_token_prompt_exits_130_and_stores_nothing(fake, isolated: Path):
    child = spawn("login", "--flow", "token", "--client-id", CLIENT_ID, "--no-browser", "--insecure-storage")
    child.expect("Paste the token")
    child.sendintr()
    assert finish(child) == 130
    assert not (isolated / "config.toml").exists() and not (isolated / "credentials.toml").exists()


def login_until_plain_text_question() -> pexpect.spawn:
    """An interactive login without a keyring, stopped at the plain-text question."""
    child = spawn("login", "--client-id", CLIENT_ID, "--no-browser")
    child.expect("Paste the code")
    child.sendline(TOKEN)  # the code prompt takes a token too
    child.expect(r"plain text.*\[y/N\]")
    return child


def test_without_a_keyring_a_person_is_asked_before_plain_text(fake, isolated: Path):
    child = login_until_plain_text_question()
    child.sendline("y")
    child.expect("Logged in as vasya")
    assert finish(child) == 0
    assert (isolated / "credentials.toml").stat().st_mode & 0o777 == 0o600


def test_refusing_plain_text_exits_7_and_stores_nothing(fake, isolated: Path):
    child = login_until_plain_text_question()
    child.sendline("n")
    assert finish(child) == 7
    assert not (isolated / "credentials.toml").exists()
