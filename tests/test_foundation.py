"""The token life-cycle foundation: the fake's OAuth, oauth_post, the PKCE and device helpers,
refresh tokens and app secrets in the store, and where the app's secret comes from."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import tomllib
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from conftest import CLIENT_ID, OTHER_TOKEN, TOKEN, keyring_service
from fake_oauth import DEVICE_URL, VERIFICATION_PATH
from fake_yandex import NO_TLS
from keyring_backends import FileKeyring

from metrika_cli import oauth
from metrika_cli.api import oauth_post
from metrika_cli.app_secret import app_secret, known_app_secret
from metrika_cli.env import Env
from metrika_cli.errors import BadInput, StoreUnavailable
from metrika_cli.store import Profile

SECRET = "0123456789abcdef0123456789abcdef"
REFRESH = "1:AbCdEfGh12345678:RefreshTokenCanaryQwErTyUiOpAsDfGhJkLzXcVb"


def authorize(client: httpx.Client, **params: str) -> httpx.Response:
    return client.get("/authorize", params={"response_type": "code", "client_id": CLIENT_ID, **params})


def code_from(response: httpx.Response) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    query = parse_qs(location.query)
    return query["code"][0], query


@pytest.fixture
def client(fake):
    with httpx.Client(base_url=fake.url, verify=NO_TLS, timeout=5) as http:
        yield http


def exchange(client: httpx.Client, code: str, verifier: str, **extra: str) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID, "code_verifier": verifier}
    return client.post("/token", data={**form, **extra})


# ---- the fake ------------------------------------------------------------------------


def test_code_flow_with_pkce_issues_a_token_the_other_services_know(fake, client):
    verifier, challenge = oauth.pkce_pair()
    response = authorize(client, code_challenge=challenge, code_challenge_method="S256", state="st", device_id="d-1")
    code, query = code_from(response)
    assert response.headers["Location"].startswith(fake.url + VERIFICATION_PATH)
    assert query["state"] == ["st"] and len(code) == 16 and code.isalnum()
    answer = exchange(client, code, verifier)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 31_536_000 and body["refresh_token"]
    info = client.get("/info", headers={"Authorization": f"OAuth {body['access_token']}"})
    assert info.json()["client_id"] == CLIENT_ID and info.json()["login"] == "vasya"
    assert exchange(client, code, verifier).json()["error"] == "invalid_grant"  # single use


def test_a_wrong_verifier_an_old_code_and_a_required_secret_are_refused(fake, client):
    verifier, challenge = oauth.pkce_pair()
    code, _ = code_from(authorize(client, code_challenge=challenge))
    assert exchange(client, code, verifier + "x").json() == {
        "error": "invalid_grant",
        "error_description": "code_verifier not matched",
    }
    code, _ = code_from(authorize(client, code_challenge=challenge))
    fake.advance(601)
    assert exchange(client, code, verifier).json()["error"] == "invalid_grant"
    fake.app(CLIENT_ID, require_secret=True)
    code, _ = code_from(authorize(client, code_challenge=challenge))
    assert exchange(client, code, verifier).json()["error"] == "invalid_client"
    code, _ = code_from(authorize(client, code_challenge=challenge))
    assert exchange(client, code, verifier, client_secret=SECRET).status_code == 200


def test_authorize_redirects_only_to_a_registered_uri(fake, client):
    fake.app(CLIENT_ID, redirect_uris=["http://127.0.0.1:8765/cb"])
    response = authorize(client, redirect_uri="http://127.0.0.1:8765/cb", state="s1")
    assert response.headers["Location"].startswith("http://127.0.0.1:8765/cb?code=")
    assert authorize(client, redirect_uri="http://127.0.0.1:9999/cb").status_code == 400
    fake.refuse_consent = "access_denied"
    location = authorize(client, state="s2").headers["Location"]
    assert parse_qs(urlsplit(location).query) == {"error": ["access_denied"], "state": ["s2"]}


def test_refresh_needs_the_secret_and_replaces_the_refresh_token(fake, client):
    issued = fake.issue(CLIENT_ID)
    form = {"grant_type": "refresh_token", "refresh_token": issued.refresh_token, "client_id": CLIENT_ID}
    assert client.post("/token", data=form).json()["error"] == "invalid_client"
    assert client.post("/token", data={**form, "client_secret": "f" * 32}).json()["error"] == "invalid_client"
    renewed = client.post("/token", data={**form, "client_secret": SECRET}).json()
    assert renewed["access_token"] in fake.accounts and renewed["refresh_token"] != issued.refresh_token
    assert client.post("/token", data={**form, "client_secret": SECRET}).json()["error"] == "invalid_grant"


def test_the_device_flow_is_pending_until_approved_and_can_be_scripted(fake, client):
    fake.app(CLIENT_ID)
    started = client.post("/device/code", data={"client_id": CLIENT_ID, "device_id": "d-1"}).json()
    assert started["verification_url"] == DEVICE_URL and started["interval"] == 5 and started["expires_in"] == 300
    poll = {"grant_type": "device_code", "code": started["device_code"], "client_id": CLIENT_ID}
    assert client.post("/token", data=poll).json()["error"] == "invalid_client"
    poll["client_secret"] = SECRET
    assert client.post("/token", data=poll).json()["error"] == "authorization_pending"
    fake.script_device("slow_down")
    assert client.post("/token", data=poll).json()["error"] == "slow_down"
    fake.approve_device(started["user_code"])
    assert client.post("/token", data=poll).json()["access_token"] in fake.accounts
    denied = client.post("/device/code", data={"client_id": CLIENT_ID}).json()
    fake.script_device("access_denied")
    assert client.post("/token", data={**poll, "code": denied["device_code"]}).json()["error"] == "access_denied"
    late = client.post("/device/code", data={"client_id": CLIENT_ID}).json()
    fake.advance(300)
    assert client.post("/token", data={**poll, "code": late["device_code"]}).json()["error"] == "expired_token"


def test_revoke_needs_the_secret_and_a_device_id(fake, client):
    fake.app(CLIENT_ID)
    named, unnamed = fake.issue(CLIENT_ID, device_id="metrika-1"), fake.issue(CLIENT_ID)
    form = {"access_token": named.access_token, "client_id": CLIENT_ID}
    assert client.post("/revoke_token", data=form).json()["error"] == "invalid_client"
    refused = client.post("/revoke_token", data={**form, "access_token": unnamed.access_token, "client_secret": SECRET})
    assert refused.status_code == 400 and refused.json()["error"] == "unsupported_token_type"
    assert client.post("/revoke_token", data={**form, "client_secret": SECRET}).json() == {"status": "ok"}
    assert named.access_token not in fake.accounts and unnamed.access_token in fake.accounts


# ---- oauth.py --------------------------------------------------------------------------


def test_pkce_pairs_are_fresh_s256_and_of_the_right_alphabet():
    (v1, c1), (v2, c2) = oauth.pkce_pair(), oauth.pkce_pair()
    assert v1 != v2 and c1 != c2 and 43 <= len(v1) <= 128
    assert set(v1) <= set(oauth.VERIFIER_ALPHABET)
    digest = base64.urlsafe_b64encode(hashlib.sha256(v1.encode()).digest()).rstrip(b"=").decode()
    assert c1 == digest and "=" not in c1


def test_device_id_is_stable_per_machine_and_profile_and_the_name_says_both():
    one = oauth.device_id("host-a", "default")
    assert one == oauth.device_id("host-a", "default") != oauth.device_id("host-a", "work")
    assert one != oauth.device_id("host-b", "default") and 6 <= len(one) <= 50 and one.isascii()
    assert oauth.device_name("host-a", "work") == "metrika on host-a (work)"
    assert len(oauth.device_name("h" * 200, "p")) == 100


def test_the_code_flow_url_carries_the_challenge_device_and_state():
    url = oauth.build_authorize_url(
        "https://oauth.yandex.ru",
        CLIENT_ID,
        ["metrika:read"],
        response_type="code",
        code_challenge="abc",
        device_id="metrika-1",
        device_name="metrika on h (default)",
        state="xyz",
        redirect_uri=None,
    )
    query = parse_qs(urlsplit(url).query)
    assert query == {
        "response_type": ["code"],
        "client_id": [CLIENT_ID],
        "code_challenge": ["abc"],
        "device_id": ["metrika-1"],
        "device_name": ["metrika on h (default)"],
        "state": ["xyz"],
        "code_challenge_method": ["S256"],
        "scope": ["metrika:read"],
    }


@pytest.mark.parametrize(
    "pasted",
    [
        "Ab3dEf7hJk9mNp2q",
        "  'Ab3dEf7hJk9mNp2q'\n",
        "https://oauth.yandex.ru/verification_code?code=Ab3dEf7hJk9mNp2q",
        "https://oauth.yandex.ru/verification_code?code=Ab3dEf7hJk9mNp2q&state=x",
    ],
)
def test_a_pasted_code_or_code_address_is_a_code(pasted):
    assert oauth.parse_pasted(pasted) == oauth.PastedCode("Ab3dEf7hJk9mNp2q")


@pytest.mark.parametrize(
    "token",
    [
        TOKEN,
        "y0_AgAAAAAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMnO",
        "AQAAAAAAbCdEfGhIjKlMnOpQrStUvWxYz0123456",
        "0123456789abcdef0123456789abcdef",
        "y0_agaaaaxlowercaseonly",
        "abcdefghijklmnopqrst",
    ],
)
def test_a_pasted_token_or_token_address_is_still_a_token(token):
    assert oauth.parse_pasted(token) == oauth.PastedToken(token)
    address = f"https://oauth.yandex.ru/verification_code#access_token={token}&expires_in=100"
    assert oauth.parse_pasted(address) == oauth.PastedToken(token, 100)


def test_a_pasted_error_or_bad_code_is_refused():
    with pytest.raises(BadInput, match="denied"):
        oauth.parse_pasted("https://oauth.yandex.ru/verification_code?error=access_denied")
    with pytest.raises(BadInput, match="no code has"):
        oauth.parse_pasted("https://oauth.yandex.ru/verification_code?code=ab%20cd")
    with pytest.raises(BadInput, match="confirmation code"):  # the token flow still refuses codes
        oauth.parse_pasted_token("https://oauth.yandex.ru/verification_code?code=Ab3dEf7hJk9mNp2q")


# ---- api.oauth_post -------------------------------------------------------------------


def test_oauth_post_parses_errors_registers_secrets_and_redacts_the_trace(fake):
    env = Env.for_test({"METRIKA_OAUTH_URL": fake.url, "METRIKA_DEBUG": "1"})
    fake.app(CLIENT_ID)
    form = {"grant_type": "refresh_token", "refresh_token": REFRESH, "client_id": CLIENT_ID, "client_secret": SECRET}
    reply = asyncio.run(oauth_post(env, "/token", form))
    assert reply.status == 400 and reply.error_type == "invalid_grant"
    issued = fake.issue(CLIENT_ID)
    good = asyncio.run(oauth_post(env, "/token", {**form, "refresh_token": issued.refresh_token}))
    assert good.ok and good.data["refresh_token"] in env.secrets and good.data["access_token"] in env.secrets
    trace = env.stderr.getvalue()
    assert "POST " + fake.url + "/token" in trace and "grant_type=refresh_token" in trace
    for secret in (SECRET, REFRESH, issued.refresh_token):
        assert secret not in trace and secret in env.secrets
    assert fake.requests_to("/token")[0].headers.get("Authorization") is None


def test_oauth_post_reports_a_network_failure_without_raising():
    env = Env.for_test({"METRIKA_OAUTH_URL": "http://127.0.0.1:9"})
    reply = asyncio.run(oauth_post(env, "/token", {"code": "x"}))
    assert reply.status is None and reply.network == "refused"


# ---- store ---------------------------------------------------------------------------


def store_env(**extra: str) -> Env:
    import os

    return Env.for_test({**os.environ, **extra})


def test_the_refresh_token_goes_beside_the_token_in_the_keyring(keyring_file):
    store = store_env().store
    saved = store.save("work", TOKEN, Profile(client_id=CLIENT_ID, device_id="metrika-1"), False, refresh_token=REFRESH)
    assert saved.renewable
    assert FileKeyring.entries() == {f"{keyring_service()}/work": TOKEN, f"{keyring_service()}/work#refresh": REFRESH}
    assert store.refresh_token("work") == REFRESH
    profile = store.profile("work")
    assert profile.renewable and profile.device_id == "metrika-1"
    config = (store.config_path).read_text()
    assert REFRESH not in config and TOKEN not in config
    store.save("work", OTHER_TOKEN, Profile(client_id=CLIENT_ID), False)  # pasted: the old one goes
    assert FileKeyring.entries() == {f"{keyring_service()}/work": OTHER_TOKEN}
    assert store.refresh_token("work") is None and not store.profile("work").renewable
    store.save("work", TOKEN, Profile(), False, refresh_token=REFRESH)
    assert store.forget(["work"]) == ["work"] and FileKeyring.entries() == {}


def test_the_refresh_token_goes_beside_the_token_in_the_file_store(isolated):
    store = store_env().store
    store.save("work", TOKEN, Profile(client_id=CLIENT_ID), True, refresh_token=REFRESH)
    credentials = tomllib.loads(store.credentials_path.read_text())
    assert credentials["profiles"]["work"] == {"token": TOKEN, "refresh_token": REFRESH}
    assert store.refresh_token("work") == REFRESH
    assert "renewable = true" in store.config_path.read_text()


def test_a_keyring_failing_at_the_refresh_token_puts_the_old_token_back(keyring_file, monkeypatch):
    store = store_env().store
    store.save("work", TOKEN, Profile(), False)
    real_set = FileKeyring.set_password

    def refuse_refresh(self, service, username, password):
        if username.endswith("#refresh"):
            raise RuntimeError("the keyring broke")
        real_set(self, service, username, password)

    monkeypatch.setattr(FileKeyring, "set_password", refuse_refresh)
    with pytest.raises(StoreUnavailable):
        store.save("work", OTHER_TOKEN, Profile(), False, refresh_token=REFRESH)
    assert FileKeyring.entries() == {f"{keyring_service()}/work": TOKEN}
    assert not store.profile("work").renewable


def test_an_apps_secret_is_kept_per_client_id_never_in_config(keyring_file):
    store = store_env().store
    assert store.app_secret(CLIENT_ID) is None
    store.keep_app_secret(CLIENT_ID, SECRET)
    assert FileKeyring.entries() == {f"{keyring_service()}/client-secret:{CLIENT_ID}": SECRET}
    assert store.app_secret(CLIENT_ID) == SECRET and not store.config_path.exists()


def test_an_apps_secret_goes_to_the_file_store_only_on_purpose(isolated):
    store = store_env().store
    with pytest.raises(StoreUnavailable):
        store.keep_app_secret(CLIENT_ID, SECRET)
    store.keep_app_secret(CLIENT_ID, SECRET, insecure=True)
    assert store.app_secret(CLIENT_ID) == SECRET


# ---- app_secret ----------------------------------------------------------------------


def test_the_secret_comes_from_the_environment_first_and_is_registered(keyring_file):
    env = store_env(METRIKA_CLIENT_SECRET=SECRET)
    env.store.keep_app_secret(CLIENT_ID, "f" * 32)
    assert app_secret(env, CLIENT_ID, ask=False) == SECRET and SECRET in env.secrets
    env = store_env()
    assert known_app_secret(env, CLIENT_ID) == "f" * 32 and "f" * 32 in env.secrets


def test_a_missing_secret_is_exit_2_naming_the_variable_and_the_apps_page(isolated):
    with pytest.raises(BadInput) as caught:
        app_secret(store_env(), CLIENT_ID, ask=True)
    text = caught.value.message + " ".join(caught.value.fix)
    assert "METRIKA_CLIENT_SECRET" in text and oauth.app_page_url(CLIENT_ID) in text
    assert int(caught.value.exit_code) == 2


def test_at_a_terminal_the_secret_is_asked_and_kept_with_consent(keyring_file, monkeypatch):
    env = store_env()
    env.stdin_tty = env.stderr_tty = True
    answers = iter([SECRET, "y"])
    monkeypatch.setattr(Env, "ask", lambda self, question, hidden=False: next(answers))
    assert app_secret(env, CLIENT_ID, ask=True) == SECRET
    assert FileKeyring.entries() == {f"{keyring_service()}/client-secret:{CLIENT_ID}": SECRET}
    assert SECRET not in env.stderr.getvalue()


def test_when_the_refresh_token_cannot_be_put_back_the_token_stays_new_so_the_mismatch_shows(keyring_file, monkeypatch):
    from metrika_cli import store as store_module
    from metrika_cli.errors import ConfigError
    from metrika_cli.text import fingerprint

    store = store_env().store
    store.save("work", TOKEN, Profile(), False, refresh_token=REFRESH)
    real_set, real_write = FileKeyring.set_password, store_module.write_toml

    def refuse_putting_back(self, service, username, password):
        if password == REFRESH:
            raise RuntimeError("the keyring broke")
        real_set(self, service, username, password)

    def disk_full(path, data):
        if path.name == "config.toml":
            raise ConfigError("disk full")
        real_write(path, data)

    monkeypatch.setattr(FileKeyring, "set_password", refuse_putting_back)
    monkeypatch.setattr(store_module, "write_toml", disk_full)
    with pytest.raises(ConfigError):
        store.save("work", OTHER_TOKEN, Profile(), False, refresh_token="new-refresh-token-0123456789")
    # never the old token (which config.toml describes) beside a refresh token that is not its own
    assert FileKeyring.entries()[f"{keyring_service()}/work"] == OTHER_TOKEN
    assert store.profile("work").fingerprint == fingerprint(TOKEN)
