"""The canary: TOKEN goes through every command, in every failure mode, with METRIKA_DEBUG=1,
and no piece of it (any 8 characters) may show up anywhere but `metrika token`'s stdout and the
credential store: not on stdout or stderr, not in --json, not in debug traces, not in other
files, not in a request URL. A proxy's user:password is a canary too, in the proxy modes: no
piece of it anywhere at all."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CLIENT_ID, TOKEN, Result, call_metrika, closed_port
from keyring_backends import backend_env

import metrika_cli.api as client
from metrika_cli.env import Env

# The child prints its own command line (the token must not be in it) and whether it got the token.
EXEC_SCRIPT = 'tr "\\0" " " < /proc/$$/cmdline; echo; [ "$YANDEX_API_KEY" = "$METRIKA_TOKEN" ] && echo same'
PROXY_CREDENTIALS = "proxyuser:CanarySecret"


def pieces(secret: str) -> set[str]:
    return {secret[i : i + 8] for i in range(len(secret) - 7)}


PIECES = pieces(TOKEN) | pieces(PROXY_CREDENTIALS)
MODES = (
    "ok",
    "invalid",
    "refused",
    "timeout",
    "cut",
    "html",
    "broken_json",
    "no_keyring",
    "malformed_env",
    "http_proxy",
    "https_proxy",
    "unusable_proxy",
)
COMMANDS = (
    ("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID),
    ("login", "--with-token", "--client-id", CLIENT_ID),  # the `fail` keyring: exit 7
    ("auth-url", "--client-id", CLIENT_ID),
    ("token",),
    ("token", "--header"),
    ("whoami",),
    ("whoami", "--json"),
    ("check-access",),
    ("check-access", "101", "202", "--need", "write", "--json"),
    ("check", "303"),
    ("status",),
    ("status", "--json", "--expiring-within", "400"),
    ("status", "--offline", "--json"),
    ("switch",),
    ("switch", "default"),
    ("api", "/management/v1/counters"),
    ("api", "-i", "/management/v1/counter/999"),
    ("api", "/management/v1/counters", "--paginate", "-f", "per_page=1"),
    ("api", "-X", "POST", "/management/v1/counter/202/goals", "-f", "name=x"),
    ("api", "-X", "POST", "/management/v1/counter/101/goals", "--input", "-"),  # stdin is the token: not JSON
    ("api", f"/management/v1/counter/{TOKEN}", "-f", f"x={TOKEN}"),  # refused: the header only
    ("exec", "--env", "YANDEX_API_KEY", "--", "sh", "-c", EXEC_SCRIPT),
    ("logout",),
)

CHECK_ACCESS_EXIT = {
    "ok": 0,
    "invalid": 4,
    "refused": 6,
    "timeout": 6,
    "cut": 6,
    "html": 6,
    "broken_json": 1,
    "no_keyring": 0,
    "malformed_env": 4,
    "http_proxy": 6,
    "https_proxy": 6,
    "unusable_proxy": 2,
}
HTTPS_BASES = {"METRIKA_API_URL": "https://api-metrika.yandex.net", "METRIKA_LOGIN_URL": "https://login.yandex.ru"}


def leaks(text: str) -> list[str]:
    return sorted(piece for piece in PIECES if piece in text)


@pytest.fixture(autouse=True)
def child_processes(monkeypatch):
    """`metrika exec` runs its command as a child here (this process is pytest's), its output
    caught into the command's streams; retries of `metrika api` are quick and few."""

    def run_child(self, file, argv, environ):
        completed = subprocess.run(argv, env=environ, capture_output=True, text=True, timeout=60)
        self.stdout.write(completed.stdout)
        self.stderr.write(completed.stderr)
        return completed.returncode

    monkeypatch.setattr(Env, "exec", run_child)
    monkeypatch.setattr(client, "API", dataclasses.replace(client.API, backoff=(0.0,), tries=2))


def break_things(mode: str, fake) -> dict[str, str]:
    """Apply `mode` to the fake; the environment the commands run with."""
    env = {"METRIKA_DEBUG": "1", "METRIKA_TIMEOUT": "1"}
    if mode == "invalid":
        fake.accounts.pop(TOKEN)
    elif mode == "refused":
        url = f"http://127.0.0.1:{closed_port()}"
        env.update(METRIKA_API_URL=url, METRIKA_LOGIN_URL=url)
    elif mode == "timeout":
        fake.fail("/", "hang", seconds=5)
        env["METRIKA_TIMEOUT"] = "0.1"  # a dozen commands wait for it
    elif mode in ("cut", "html", "broken_json"):
        fake.fail("/management/", mode)
    elif mode == "no_keyring":
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    elif mode == "malformed_env":
        env["METRIKA_TOKEN"] = f"OAuth {TOKEN[:30]} {TOKEN[30:]}\n"
    elif mode == "http_proxy":  # the fake is plain http on loopback: HTTP_PROXY is the one used
        env["HTTP_PROXY"] = f"http://{PROXY_CREDENTIALS}@127.0.0.1:{closed_port()}"
    elif mode == "https_proxy":  # nothing leaves the machine: the proxy is a closed loopback port
        env.update(HTTPS_BASES, HTTPS_PROXY=f"http://{PROXY_CREDENTIALS}@127.0.0.1:{closed_port()}")
    elif mode == "unusable_proxy":
        env.update(HTTPS_BASES, HTTPS_PROXY=f"socks5://{PROXY_CREDENTIALS}@127.0.0.1:{closed_port()}")
    return env


@pytest.mark.parametrize("mode", MODES)
def test_no_piece_of_the_token_escapes_in_any_mode(fake, metrika, isolated, mode):
    assert metrika(*COMMANDS[0], input=TOKEN).code == 0  # stored in credentials.toml while all is well
    asked_before = len(fake.requests)
    env = break_things(mode, fake)
    results: dict[tuple[str, ...], Result] = {}
    for command in COMMANDS:
        results[command] = result = metrika(*command, input=TOKEN, env=env, timeout=60)
        assert "Traceback" not in result.output, (command, result.output)
        stdout = result.stdout
        if command[0] == "token" and result.code == 0:
            expected = f"Authorization: OAuth {TOKEN}\n" if "--header" in command else TOKEN + "\n"
            assert stdout == expected
            stdout = ""
        assert leaks(stdout) == [] and leaks(result.stderr) == [], (command, result.output)
        if command[0] != "logout":
            for path in isolated.rglob("*"):
                if path.is_file() and path.name != "credentials.toml":
                    assert leaks(path.read_text(errors="replace")) == [], (command, path)
    for request in fake.requests:
        assert leaks(request.path) == [], request.path
        assert leaks(request.body.decode(errors="replace")) == [], request.body
        assert leaks(str(request.headers.get("Authorization", "")).replace(TOKEN, "")) == []

    # the canary is alive: the modes really are different, and `token` really prints it
    token = results[("token",)]
    if mode == "malformed_env":
        assert token.code == 4
    else:
        assert token.code == 0
    debug_lines = [
        line for result in results.values() for line in result.stderr.splitlines() if line.startswith("metrika: >")
    ]
    if mode not in ("malformed_env", "unusable_proxy"):
        assert debug_lines and all("[redacted]" in line for line in debug_lines)
    if "proxy" in mode:  # the proxy was in play, and shown only without its user:password
        assert "***@127.0.0.1:" in results[("check-access",)].output
        assert len(fake.requests) == asked_before  # nothing went around the proxy
    assert results[("check-access",)].code == CHECK_ACCESS_EXIT[mode]
    if mode != "malformed_env":  # status checks the stored token: the environment's is not its business
        assert results[("status",)].code == CHECK_ACCESS_EXIT[mode]
    if mode == "ok":
        assert [results[c].code for c in COMMANDS] == [0, 7, 0, 0, 0, 0, 0, 0, 5, 0, *[0] * 5, 0, 5, 0, 5, 2, 2, 0, 0]
        exec_result = results[COMMANDS[-2]]
        assert exec_result.stdout.startswith("sh -c ") and exec_result.stdout.endswith("\nsame\n")
    # logout leaves nothing behind that holds the token
    assert not (isolated / "credentials.toml").exists() or leaks((isolated / "credentials.toml").read_text()) == []


def test_metrika_debug_traces_every_request_and_response_with_the_token_redacted(fake, metrika):
    result = metrika("check-access", "101", "--json", env={"METRIKA_TOKEN": TOKEN, "METRIKA_DEBUG": "1"})
    assert result.code == 0, result.stderr
    sent = [line for line in result.stderr.splitlines() if line.startswith("metrika: > ")]
    answered = [line for line in result.stderr.splitlines() if line.startswith("metrika: < ")]
    assert sorted(line.split()[3].split("?")[0] for line in sent) == [
        f"{fake.url}/info",
        f"{fake.url}/management/v1/counters",
    ]
    assert all(line.startswith("metrika: > GET ") and line.endswith("Authorization: OAuth [redacted]") for line in sent)
    assert len(answered) == 2
    for line in answered:
        assert re.fullmatch(rf"metrika: < 200 GET {re.escape(fake.url)}/\S+ \(\d+ ms, application/json[^)]*\)", line), (
            line
        )
    assert leaks(result.output) == []
    assert result.stdout.lstrip().startswith("{")  # traces stay on stderr


def test_metrika_debug_names_a_failed_request_without_the_token(metrika):
    url = f"http://127.0.0.1:{closed_port()}"
    result = metrika(
        "whoami", env={"METRIKA_TOKEN": TOKEN, "METRIKA_DEBUG": "1", "METRIKA_API_URL": url, "METRIKA_LOGIN_URL": url}
    )
    assert result.code == 6
    assert "metrika: ! Yandex ID: ConnectError" in result.stderr
    assert "metrika: ! Metrika: ConnectError" in result.stderr
    assert leaks(result.output) == []


def test_without_metrika_debug_there_are_no_traces(fake, metrika):
    result = metrika("check-access", env={"METRIKA_TOKEN": TOKEN})
    assert result.code == 0 and "metrika: >" not in result.output and "metrika: <" not in result.output


def test_exec_puts_no_piece_of_the_token_on_the_command_line_ps_shows(isolated):
    """Seen from outside, as `ps` sees it: the replaced process's argv holds no piece of the token,
    its environment holds the token itself."""
    process = subprocess.Popen(
        [sys.executable, "-m", "metrika_cli", "exec", "--env", "API_KEY", "--", "sh", "-c", "echo ready; read line"],
        env={**os.environ, "METRIKA_TOKEN": TOKEN, "METRIKA_DEBUG": "1"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode(errors="replace")
        environ = Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0")
        stdout, stderr = process.communicate("go\n", timeout=60)
    finally:
        process.kill()
        process.wait()
    assert cmdline.split("\0")[:2] == ["sh", "-c"]
    assert leaks(cmdline) == []
    assert f"API_KEY={TOKEN}".encode() in environ and f"METRIKA_TOKEN={TOKEN}".encode() in environ
    assert process.returncode == 0 and leaks(stdout + stderr) == []


# ---- the refresh token and the app's secret ---------------------------------------------

REFRESH_CANARY = "1:CanaryRefresh:RefreshTokenCanaryQwErTyUiOpAsDfGhJkLzXcVbNm"
SECRET_CANARY = "5ec7e75ec7e7c0de5ec7e75ec7e7c0de"
RENEWAL_COMMANDS = (
    ("refresh",),
    ("refresh", "--json"),
    ("refresh", "--all", "--expiring-within", "400", "--json"),
    ("whoami", "--json"),
    ("status",),
    ("logout", "--revoke"),
    ("logout", "--revoke", "--all", "--yes"),
)


@pytest.mark.parametrize("mode", MODES)
def test_no_piece_of_a_refresh_token_or_the_apps_secret_escapes_from_refresh_and_revoke(fake, metrika, isolated, mode):
    """TOKEN stored as a code login stores it (a device_id, REFRESH_CANARY beside it in
    credentials.toml), SECRET_CANARY in the environment: refresh and logout --revoke in every mode
    show no piece of them, nor of any token or refresh token the renewals get, outside the store."""
    from fake_oauth import Issued

    from metrika_cli.store import Profile, Store

    fake.app(CLIENT_ID, secret=SECRET_CANARY)
    issued = Issued(TOKEN, REFRESH_CANARY, CLIENT_ID, "metrika-default", "")
    fake.issued[TOKEN], fake.refresh_tokens[REFRESH_CANARY] = issued, issued
    profile = Profile(client_id=CLIENT_ID, login="vasya", expires_at="2099-01-01T00:00:00+00:00", device_id="d-1")
    Store(isolated).save("default", TOKEN, profile, insecure=True, refresh_token=REFRESH_CANARY)
    env = {**break_things(mode, fake), "METRIKA_CLIENT_SECRET": SECRET_CANARY}
    results = {command: metrika(*command, env=env) for command in RENEWAL_COMMANDS}
    secrets = [TOKEN, REFRESH_CANARY, SECRET_CANARY, *fake.issued, *fake.refresh_tokens]
    found = {piece for secret in secrets for piece in pieces(secret)}

    def leaked(text: str) -> list[str]:
        return sorted(piece for piece in found if piece in text)

    for command, result in results.items():
        assert "Traceback" not in result.output, (command, result.output)
        assert leaked(result.stdout) == [] and leaked(result.stderr) == [], (command, result.output)
    for path in isolated.rglob("*"):
        if path.is_file() and path.name != "credentials.toml":
            assert leaked(path.read_text(errors="replace")) == [], path
    for request in fake.requests:
        assert leaked(request.path) == [], request.path
        if request.path not in ("/token", "/revoke_token"):  # the form bodies that carry them, and only those
            assert leaked(request.body.decode(errors="replace")) == [], (request.path, request.body)
    if mode == "ok":
        assert [result.code for result in results.values()] == [0, 0, 0, 0, 0, 0, 0]
        assert len(fake.requests_to("/token")) == 3 and fake.requests_to("/revoke_token")
        traces = [line for r in results.values() for line in r.stderr.splitlines() if line.startswith("metrika: ")]
        assert any("POST" in line and "/token" in line for line in traces)  # traced, and (above) no piece leaked
        assert any("POST" in line and "/revoke_token" in line for line in traces)


# ---- the login flows' secrets: codes, verifiers, device codes, refresh tokens, the app's secret ----

APP_SECRET = "cafe0123456789abcdefcafe01234567"  # a canary: METRIKA_CLIENT_SECRET
LOGIN_MODES = (
    "code",
    "code_file_store",
    "secret_wanted",
    "token_cut",
    "token_503",
    "token_html",
    "device",
    "device_denied",
    "device_wrong_secret",
)
AFTER_LOGIN = (("whoami", "--json"), ("status", "--json"), ("check-access",), ("token",), ("switch",), ("logout",))


def login_secrets(fake) -> set[str]:
    """Everything secret the login flows handled: codes, verifiers, device codes, refresh tokens."""
    found = {APP_SECRET, *fake.codes, *fake.device_codes, *fake.refresh_tokens}
    found |= {issued.refresh_token for issued in fake.issued.values()}
    for request in fake.requests_to("/token"):
        form = dict(pair.split("=", 1) for pair in request.body.decode().split("&") if "=" in pair)
        found |= {form[key] for key in ("code", "code_verifier", "client_secret") if key in form}
    return found


def log_in(mode: str, fake, monkeypatch) -> Result:
    from test_login_flows import LOGIN, Person, at_terminal, the_code, the_page

    monkeypatch.setattr("metrika_cli.flows.sleep", lambda seconds: None)
    env = {"METRIKA_DEBUG": "1", "METRIKA_CLIENT_SECRET": APP_SECRET}
    fake.app(CLIENT_ID, secret=APP_SECRET)
    if mode.startswith("device"):
        fake.device_approve_after = 2
        if mode == "device_denied":
            fake.script_device("authorization_pending", "access_denied")
        if mode == "device_wrong_secret":
            env["METRIKA_CLIENT_SECRET"] = APP_SECRET[::-1]
        return call_metrika("login", "--flow", "device", "--client-id", CLIENT_ID, env=env)
    if mode == "secret_wanted":
        fake.app(CLIENT_ID, require_secret=True)
        del env["METRIKA_CLIENT_SECRET"]
        return at_terminal(monkeypatch, Person([the_page, "n"]), *LOGIN, env=env)
    faults = {"token_cut": {"mode": "cut"}, "token_503": {"mode": "status", "status": 503}}
    if mode in faults or mode == "token_html":
        fake.fail("/token", **faults.get(mode, {"mode": "html", "status": 200}))
    extra = ("--insecure-storage",) if mode == "code_file_store" else ()
    return at_terminal(monkeypatch, Person([the_code]), *LOGIN, *extra, env=env)


@pytest.mark.parametrize("mode", LOGIN_MODES)
def test_no_piece_of_a_code_verifier_refresh_token_or_the_apps_secret_escapes(
    fake, isolated, tmp_path, monkeypatch, mode
):
    monkeypatch.setenv("METRIKA_TEST_KEYRING_FILE", str(tmp_path / "keyring.json"))
    for name, value in backend_env("FileKeyring").items():
        monkeypatch.setenv(name, value)
    results = {("login", mode): log_in(mode, fake, monkeypatch)}
    login_code = results["login", mode].code
    expected = {"code": 0, "code_file_store": 0, "device": 0, "token_cut": 6, "token_503": 6, "token_html": 1}
    assert login_code == expected.get(mode, 2), results["login", mode].output
    for command in AFTER_LOGIN:
        results[command] = call_metrika(*command, env={"METRIKA_DEBUG": "1", "METRIKA_CLIENT_SECRET": APP_SECRET})
    secrets = login_secrets(fake)
    assert APP_SECRET in secrets and (login_code != 0 or fake.issued)
    secret_pieces = set().union(*(pieces(secret) for secret in secrets))
    tokens = set().union(*(pieces(token) for token in fake.issued), set())
    for command, result in results.items():
        assert "Traceback" not in result.output, (command, result.output)
        assert not [p for p in secret_pieces if p in result.output], (command, result.output)
        stdout = "" if command == ("token",) else result.stdout
        assert not [p for p in tokens if p in stdout + result.stderr], (command, result.output)
    for path in isolated.rglob("*"):
        if path.is_file() and path.name != "credentials.toml":
            assert not [p for p in secret_pieces | tokens if p in path.read_text(errors="replace")], path
    for request in fake.requests:
        assert not [p for p in secret_pieces if p in request.path], request.path
    if login_code == 0:  # the canaries were alive: the refresh token was stored, and logout took it away
        assert results["logout",].code == 0
        for store in (tmp_path / "keyring.json", isolated / "credentials.toml"):
            assert not store.exists() or not [p for p in secret_pieces if p in store.read_text()], store
