"""`metrika login`, `token`, `auth-url`, `logout`, profiles and token sources, end to end against the fake."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import CLIENT_ID, OTHER_CLIENT_ID, OTHER_TOKEN, TOKEN

INSECURE = ("login", "--with-token", "--insecure-storage")


def config(directory: Path) -> dict:
    path = directory / "config.toml"
    return tomllib.loads(path.read_text()) if path.exists() else {}


def stored_files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.glob("*.toml")} if directory.exists() else {}


def test_login_with_token_verifies_stores_and_says_who(fake, metrika, isolated):
    result = metrika(*INSECURE, "--client-id", CLIENT_ID, input=TOKEN + "\n")
    assert result.code == 0, result.stderr
    assert "Logged in as vasya" in result.stderr and CLIENT_ID in result.stderr
    assert result.stdout == ""
    profile = config(isolated)["profiles"]["default"]
    assert profile["login"] == "vasya" and profile["uid"] == "1000034426"
    assert profile["client_id"] == CLIENT_ID and profile["storage"] == "file"
    assert {r.path.split("?")[0] for r in fake.requests} == {"/info", "/management/v1/counters"}
    assert metrika("token").stdout == TOKEN + "\n"


def test_login_without_client_id_takes_the_app_from_yandex_id(fake, metrika, isolated):
    fake.add_token(OTHER_TOKEN, login="petya", client_id=OTHER_CLIENT_ID)
    assert metrika(*INSECURE, input=OTHER_TOKEN).code == 0
    assert config(isolated)["profiles"]["default"]["client_id"] == OTHER_CLIENT_ID


def test_the_whole_browser_address_is_accepted_and_its_expiry_kept(fake, metrika, isolated):
    address = f"https://oauth.yandex.ru/verification_code#access_token={TOKEN}&token_type=bearer&expires_in=86400"
    result = metrika(*INSECURE, "--client-id", CLIENT_ID, input=address)
    assert result.code == 0, result.stderr
    profile = config(isolated)["profiles"]["default"]
    obtained = profile["obtained_at"]
    assert profile["expires_at"] > obtained and "Valid until" in result.stderr


@pytest.mark.parametrize(
    "pasted, words",
    [
        ("", "empty"),
        (CLIENT_ID, "ClientID"),
        ("https://oauth.yandex.ru/verification_code#error=access_denied", "denied"),
        ("https://oauth.yandex.ru/verification_code?code=7654321", "confirmation code"),
        (f"{TOKEN[:10]} {TOKEN[10:]}", "whitespace"),
        (TOKEN + "ё", "non-ASCII"),
    ],
)
def test_refused_input_exits_2_and_stores_nothing(fake, metrika, isolated, pasted, words):
    result = metrika(*INSECURE, "--client-id", CLIENT_ID, input=pasted)
    assert result.code == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert stored_files(isolated) == {}
    assert fake.requests == []


def test_a_client_id_that_is_not_32_hex_exits_2(fake, metrika, isolated):
    result = metrika(*INSECURE, "--client-id", "not-a-client-id", input=TOKEN)
    assert result.code == 2 and "32 hexadecimal" in result.stderr
    assert stored_files(isolated) == {}


@pytest.mark.parametrize("where", ["--client-id", "METRIKA_CLIENT_ID"])
def test_a_client_id_typo_given_without_a_prompt_says_how_many_characters_and_exits_2(fake, metrika, isolated, where):
    args, env = ((where, "abc1234"), {}) if where == "--client-id" else ((), {where: "abc1234"})
    result = metrika(*INSECURE, *args, input=TOKEN, env=env)
    assert result.code == 2
    assert "This one has 7 characters." in result.stderr and "ClientID of your app" not in result.stderr
    assert stored_files(isolated) == {} and fake.requests == []


@pytest.mark.parametrize(
    "make_bad, code, diagnosis",
    [
        (lambda fake: None, 4, "token_invalid"),
        (lambda fake: fake.add_token(OTHER_TOKEN, metrika=False), 5, "scope_missing"),
    ],
)
def test_a_bad_token_never_replaces_a_good_one(fake, metrika, isolated, make_bad, code, diagnosis):
    assert metrika(*INSECURE, "--client-id", CLIENT_ID, input=TOKEN).code == 0
    before = stored_files(isolated)
    make_bad(fake)
    result = metrika(*INSECURE, "--client-id", CLIENT_ID, input=OTHER_TOKEN)
    assert result.code == code
    assert diagnosis in result.stderr and "Nothing was stored" in result.stderr
    assert stored_files(isolated) == before
    assert metrika("token").stdout == TOKEN + "\n"


def test_a_token_from_another_app_with_metrika_rights_is_stored_with_a_warning(fake, metrika, isolated):
    fake.add_token(OTHER_TOKEN, client_id=OTHER_CLIENT_ID)
    result = metrika(*INSECURE, "--client-id", CLIENT_ID, input=OTHER_TOKEN)
    assert result.code == 0
    assert "warning" in result.stderr and OTHER_CLIENT_ID in result.stderr
    assert config(isolated)["profiles"]["default"]["client_id"] == CLIENT_ID


def test_no_verify_stores_without_asking_yandex(fake, metrika, isolated):
    result = metrika(*INSECURE, "--no-verify", "--client-id", CLIENT_ID, input=OTHER_TOKEN)
    assert result.code == 0
    assert fake.requests == []
    assert metrika("token").stdout == OTHER_TOKEN + "\n"


@pytest.mark.parametrize("client_id", [CLIENT_ID, None])
def test_no_verify_says_the_token_is_stored_unverified_and_how_to_check_it(fake, metrika, client_id):
    app = ("--client-id", client_id) if client_id else ()
    result = metrika(*INSECURE, "--no-verify", "--profile", "work", *app, input=OTHER_TOKEN)
    assert result.code == 0, result.output
    of_app = f" of app {client_id}" if client_id else ""
    assert (
        f"{of_app} is in profile work now, not verified: check it with `metrika whoami --profile work`."
        in result.stderr
    )
    assert (
        "Logged in" not in result.stderr
        and "unknown" not in result.stderr
        and "unverified account" not in result.stderr
    )


def test_no_verify_in_russian(fake, metrika):
    result = metrika(*INSECURE, "--no-verify", "--client-id", CLIENT_ID, input=OTHER_TOKEN, env={"METRIKA_LANG": "ru"})
    assert result.code == 0, result.stderr
    assert f"приложения {CLIENT_ID} теперь в профиле default, но не проверен: проверьте его командой" in result.stderr
    assert "`metrika whoami --profile default`" in result.stderr


def test_login_without_a_terminal_and_without_with_token_exits_2_at_once(fake, metrika, isolated):
    started = time.monotonic()
    result = metrika("login", "--client-id", CLIENT_ID)
    assert result.code == 2 and "--with-token" in result.stderr
    assert time.monotonic() - started < 20
    assert stored_files(isolated) == {}


def test_without_a_keyring_a_script_must_opt_in_to_plain_text(fake, metrika, isolated):
    result = metrika("login", "--with-token", "--client-id", CLIENT_ID, input=TOKEN)
    assert result.code == 7
    for option in ("--insecure-storage", "METRIKA_TOKEN", "keyring"):
        assert option in result.stderr
    assert stored_files(isolated) == {}


def test_token_header_prints_the_authorization_header(fake, metrika):
    metrika(*INSECURE, "--client-id", CLIENT_ID, input=TOKEN)
    assert metrika("token", "--header").stdout == f"Authorization: OAuth {TOKEN}\n"


def test_token_without_one_exits_3_with_a_one_line_hint(metrika):
    result = metrika("token")
    assert (result.code, result.stdout) == (3, "")
    assert "metrika login" in result.stderr


def test_token_sources_environment_first_then_file_then_store(fake, metrika, tmp_path):
    metrika(*INSECURE, "--client-id", CLIENT_ID, input=TOKEN)
    token_file = tmp_path / "token.txt"
    token_file.write_text("from-file-token-0123\n")  # 16 characters or more: a shorter one cannot be a token
    assert metrika("token", env={"METRIKA_TOKEN_FILE": str(token_file)}).stdout == "from-file-token-0123\n"
    both = metrika("token", env={"METRIKA_TOKEN": "from-env-token-0123", "METRIKA_TOKEN_FILE": str(token_file)})
    assert both.stdout == "from-env-token-0123\n"
    assert "METRIKA_TOKEN" in both.stderr and "instead of the token stored" in both.stderr
    assert TOKEN not in both.stderr


def test_profiles_keep_separate_tokens(fake, metrika):
    fake.add_token(OTHER_TOKEN, login="client-a")
    assert metrika(*INSECURE, "--client-id", CLIENT_ID, input=TOKEN).code == 0
    assert metrika(*INSECURE, "--profile", "work", "--client-id", CLIENT_ID, input=OTHER_TOKEN).code == 0
    assert metrika("token").stdout == TOKEN + "\n"
    assert metrika("token", "--profile", "work").stdout == OTHER_TOKEN + "\n"
    assert metrika("token", env={"METRIKA_PROFILE": "work"}).stdout == OTHER_TOKEN + "\n"


def test_logout_forgets_the_token_and_says_how_to_revoke_it(fake, metrika, isolated):
    metrika(*INSECURE, "--client-id", CLIENT_ID, input=TOKEN)
    result = metrika("logout")
    assert result.code == 0 and "id.yandex.ru/personal/data-access" in result.stderr
    assert metrika("token").code == 3
    assert "default" not in config(isolated).get("profiles", {})
    assert TOKEN not in (isolated / "credentials.toml").read_text()


def test_logout_all_forgets_every_profile(fake, metrika):
    metrika(*INSECURE, "--client-id", CLIENT_ID, input=TOKEN)
    metrika(*INSECURE, "--profile", "work", "--client-id", CLIENT_ID, input=TOKEN)
    assert metrika("logout", "--all", "--yes").code == 0
    assert metrika("token").code == 3 and metrika("token", "--profile", "work").code == 3


def test_auth_url_prints_the_url_alone(fake, metrika):
    result = metrika("auth-url", "--client-id", CLIENT_ID, "--scope", "metrika:read", "--force-confirm")
    assert result.code == 0
    url = result.stdout.strip()
    assert result.stdout.count("\n") == 1 and url.startswith(fake.url + "/authorize?")
    query = parse_qs(urlsplit(url).query)
    assert query["client_id"] == [CLIENT_ID] and query["scope"] == ["metrika:read"]


def test_auth_url_without_any_client_id_exits_2(metrika):
    result = metrika("auth-url")
    assert result.code == 2 and "--client-id" in result.stderr


def test_an_invalid_profile_name_exits_2(metrika):
    result = metrika("whoami", "--profile", "../etc")
    assert result.code == 2 and "profile" in result.stderr
