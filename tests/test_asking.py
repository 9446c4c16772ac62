"""What metrika asks before it destroys something, in a real pseudo-terminal (pexpect): replacing
another account's token, forgetting every profile; and an empty Enter at the token prompt."""

from __future__ import annotations

from pathlib import Path

from conftest import CLIENT_ID, TOKEN
from test_terminal import finish, spawn

BOBS = "AQAAAAAbobsTokenAbCdEfGhIjKlMnOpQrStUvW"  # the account client0003's token, another shape
INSECURE = ("--client-id", CLIENT_ID, "--insecure-storage")


def stored_as_client0003(fake, metrika) -> None:
    fake.add_token(BOBS, login="client0003", client_id=CLIENT_ID)
    result = metrika("login", "--with-token", "--profile", "u0003", *INSECURE, input=BOBS)
    assert result.code == 0, result.output


def login_over_client0003() -> object:
    child = spawn("login", "--profile", "u0003", "--no-browser", *INSECURE)
    child.expect("Paste the token")
    child.sendline(TOKEN)  # vasya's
    child.expect(r"Profile u0003 holds the token of client0003 \(sha256:[0-9a-f]{8}\)\. ")
    child.expect(r"Replace it with the token of vasya\? \[y/N\] ")
    return child


def test_replacing_another_accounts_token_at_a_terminal_asks_and_enter_keeps_it(fake, metrika, isolated: Path):
    stored_as_client0003(fake, metrika)
    child = login_over_client0003()
    child.sendline("")
    child.expect("Kept the token of client0003 in profile u0003; nothing was stored.")
    assert finish(child) == 1
    assert metrika("token", "--profile", "u0003").stdout == BOBS + "\n"


def test_replacing_another_accounts_token_at_a_terminal_goes_ahead_on_yes(fake, metrika, isolated: Path):
    stored_as_client0003(fake, metrika)
    child = login_over_client0003()
    child.sendline("y")
    child.expect("Logged in as vasya")
    assert finish(child) == 0
    assert metrika("token", "--profile", "u0003").stdout == TOKEN + "\n"


def test_without_a_terminal_the_token_is_replaced_and_whose_it_was_is_said(fake, metrika, isolated: Path):
    stored_as_client0003(fake, metrika)
    result = metrika("login", "--with-token", "--profile", "u0003", *INSECURE, input=TOKEN)
    assert result.code == 0
    assert "Replacing the token of client0003 (sha256:" in result.stderr and "in profile u0003" in result.stderr
    assert metrika("token", "--profile", "u0003").stdout == TOKEN + "\n"


def test_logging_in_again_as_the_same_account_asks_nothing(fake, metrika, isolated: Path):
    assert metrika("login", "--with-token", *INSECURE, input=TOKEN).code == 0
    child = spawn("login", "--no-browser", *INSECURE)
    child.expect("Paste the token")
    child.sendline(TOKEN)
    child.expect("Logged in as vasya")
    assert finish(child) == 0


def two_profiles(metrika) -> None:
    for profile in ("default", "work"):
        assert metrika("login", "--with-token", "--no-verify", "--profile", profile, *INSECURE, input=TOKEN).code == 0


def test_logout_all_at_a_terminal_asks_and_enter_forgets_nothing(metrika, isolated: Path):
    two_profiles(metrika)
    child = spawn("logout", "--all")
    child.expect(r"Forget the tokens and metadata of all 2 profiles \(default, work\)\? \[y/N\] ")
    child.sendline("")
    child.expect("Nothing was forgotten.")
    assert finish(child) == 1
    assert metrika("token", "--profile", "work").stdout == TOKEN + "\n"


def test_logout_all_at_a_terminal_forgets_every_profile_on_yes(metrika, isolated: Path):
    two_profiles(metrika)
    child = spawn("logout", "--all")
    child.expect(r"\[y/N\] ")
    child.sendline("y")
    child.expect("Forgot the token of profile work.")
    assert finish(child) == 0
    assert metrika("token", "--profile", "work").code == 3


def test_logout_all_yes_asks_nothing_at_a_terminal(metrika, isolated: Path):
    two_profiles(metrika)
    child = spawn("logout", "--all", "--yes")
    child.expect("Forgot the token of profile work.")
    assert finish(child) == 0
    assert "[y/N]" not in (child.before or "")


def test_logout_all_without_a_terminal_needs_yes(metrika, isolated: Path):
    two_profiles(metrika)
    config = (isolated / "config.toml").read_text()
    result = metrika("logout", "--all")
    assert result.code == 2
    assert "--yes" in result.stderr and "`metrika logout --all --yes`" in result.stderr
    assert (isolated / "config.toml").read_text() == config
    assert metrika("logout", "--all", "--yes").code == 0
    assert metrika("token", "--profile", "work").code == 3


def test_an_empty_enter_at_the_token_prompt_asks_again(fake, isolated: Path):
    child = spawn("login", "--no-browser", *INSECURE)
    for _try in range(2):
        child.expect("Paste the token")
        child.sendline("")
        child.expect("Nothing was pasted")
    child.expect("Paste the token")
    child.sendline(TOKEN)
    child.expect("Logged in as vasya")
    assert finish(child) == 0


def test_three_empty_answers_at_the_token_prompt_exit_2_and_store_nothing(fake, isolated: Path):
    child = spawn("login", "--no-browser", *INSECURE)
    for _try in range(3):
        child.expect("Paste the token")
        child.sendline("  ")
    child.expect("Nothing was pasted; nothing was stored.")
    assert finish(child) == 2
    assert not (isolated / "config.toml").exists() and not (isolated / "credentials.toml").exists()
