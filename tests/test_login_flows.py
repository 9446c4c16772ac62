"""`metrika login`'s flows end to end against the fake: the code flow with PKCE (pasted in-process
with a stand-in browser; in a real pty in test_terminal.py), the loopback Redirect URI with a
stand-in browser following the fake's redirect, the device flow without a terminal, and the bad
input of each: a clear message, the right exit code, nothing stored changes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pexpect
import pytest
from conftest import CLIENT_ID, TOKEN, Result, closed_port, keyring_service, process_environment
from keyring_backends import FILE_VARIABLE, FileKeyring

from metrika_cli import flows
from metrika_cli.env import Env
from metrika_cli.errors import Interrupted
from metrika_cli.main import main

SECRET = "0123456789abcdef0123456789abcdef"
URL_PATTERN = re.compile(r"http://127\.0\.0\.1:\d+/authorize\?\S+")


def profile(directory: Path, name: str = "default") -> dict:
    path = directory / "config.toml"
    return tomllib.loads(path.read_text())["profiles"][name] if path.exists() else {}


def stored(directory: Path) -> dict[str, object]:
    """Everything a login could change: the files and the keyring's entries."""
    files = {p.name: p.read_bytes() for p in directory.glob("*.toml")} if directory.exists() else {}
    return {**files, "keyring": FileKeyring.entries() if os.environ.get(FILE_VARIABLE) else {}}


def authorize_url(text: str) -> str:
    found = URL_PATTERN.findall(text)
    assert found, text
    return found[-1]


def browser_to_code_page(url: str) -> str:
    """A stand-in browser: consents at the fake's /authorize and lands on the page that shows the
    code; returns that page's address."""
    response = httpx.get(url, follow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


class Person:
    """The person at a terminal: answers each question with the next answer (a callable gets
    what metrika printed so far). Env.ask is replaced, so no real terminal is needed here."""

    def __init__(self, answers: list[str | Callable[[str], str] | BaseException]) -> None:
        self.answers = list(answers)
        self.questions: list[str] = []

    def ask(self, env: Env, question: str, hidden: bool = False) -> str:
        self.questions.append(question)
        if not self.answers:
            raise AssertionError(f"unexpected question: {question}")
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer(env.stderr.getvalue()) if callable(answer) else answer


def the_page(text: str) -> str:
    return browser_to_code_page(authorize_url(text))


def the_code(text: str) -> str:
    return parse_qs(urlsplit(the_page(text)).query)["code"][0]


def at_terminal(monkeypatch, person: Person, *args: str, env: dict[str, str] | None = None) -> Result:
    """`metrika ARGS` in-process with a person at the terminal (stdin and stderr are terminals)."""
    environ = {**os.environ, "NO_COLOR": "1", **(env or {})}
    streams = Env.for_test(environ, stdin_tty=True, stderr_tty=True)
    monkeypatch.setattr(Env, "ask", lambda self, question, hidden=False: person.ask(self, question, hidden))
    with process_environment(environ):
        code = main(list(args), env=streams)
    return Result(code, streams.stdout.getvalue(), streams.stderr.getvalue())


LOGIN = ("login", "--client-id", CLIENT_ID, "--no-browser")


# ---- the code flow, pasted ------------------------------------------------------------------


@pytest.mark.parametrize("paste", [the_page, the_code], ids=["address", "code"])
def test_the_code_flow_exchanges_the_pasted_code_with_pkce_and_keeps_the_refresh_token(
    fake, monkeypatch, isolated, keyring_file, paste
):
    result = at_terminal(monkeypatch, Person([paste]), *LOGIN)
    assert result.code == 0, result.stderr
    query = parse_qs(urlsplit(authorize_url(result.stderr)).query)
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert query["device_name"] == [f"metrika on {socket.gethostname()} (default)"]
    grant = fake.codes[next(iter(fake.codes))]
    assert grant.device_id == query["device_id"][0] and grant.challenge == query["code_challenge"][0]
    form = parse_qs(fake.requests_to("/token")[0].body.decode())
    assert set(form) == {"grant_type", "code", "client_id", "code_verifier"}  # no secret
    token = next(iter(fake.issued))
    assert FileKeyring.entries() == {
        f"{keyring_service()}/default": token,
        f"{keyring_service()}/default#refresh": fake.issued[token].refresh_token,
    }
    saved = profile(isolated)
    assert saved["renewable"] is True and saved["device_id"] == grant.device_id
    assert saved["expires_at"] > saved["obtained_at"] and saved["login"] == "vasya"
    assert "Logged in as vasya" in result.stderr and "Valid until" in result.stderr
    for secret in (token, fake.issued[token].refresh_token, form["code_verifier"][0], form["code"][0]):
        assert secret not in result.output


def test_each_login_has_a_fresh_verifier_and_state_but_the_same_device_id(fake, monkeypatch, keyring_file):
    for _ in range(2):
        assert at_terminal(monkeypatch, Person([the_code]), *LOGIN).code == 0
    first, second = list(fake.codes.values())
    assert first.challenge != second.challenge and first.device_id == second.device_id
    states = [parse_qs(urlsplit(r.path).query)["state"][0] for r in fake.requests_to("/authorize")]
    assert states[0] != states[1]


def test_a_pasted_token_is_still_taken_at_the_code_prompt(fake, monkeypatch, isolated, keyring_file):
    result = at_terminal(monkeypatch, Person([TOKEN]), *LOGIN)
    assert result.code == 0, result.stderr
    assert FileKeyring.entries() == {f"{keyring_service()}/default": TOKEN}
    assert "renewable" not in profile(isolated) and fake.requests_to("/token") == []


def test_an_expired_code_is_said_and_asked_again(fake, monkeypatch, isolated, keyring_file):
    def old_code(text: str) -> str:
        code = the_code(text)
        fake.advance(601)
        return code

    person = Person(["", old_code, the_code])  # an empty answer asks again, too
    result = at_terminal(monkeypatch, person, *LOGIN)
    assert result.code == 0, result.stderr
    assert "expired" in result.stderr and "Open the address again" in result.stderr
    assert len(person.questions) == 3 and profile(isolated)["renewable"] is True


def test_a_used_code_is_said_and_asked_again_then_ctrl_d_stores_nothing(fake, monkeypatch, isolated, keyring_file):
    before = stored(isolated)
    codes: list[str] = []

    def remember(text: str) -> str:
        codes.append(the_code(text))
        fake.codes[codes[0]].used = True
        return codes[0]

    person = Person([remember, Interrupted("Interrupted; nothing was stored.")])
    result = at_terminal(monkeypatch, person, *LOGIN)
    assert result.code == 130
    assert "was used already" in result.stderr and stored(isolated) == before


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), Interrupted("Interrupted; nothing was stored.")])
def test_ctrl_c_or_ctrl_d_at_the_code_prompt_exits_130_and_stores_nothing(
    fake, monkeypatch, isolated, keyring_file, interrupt
):
    keyring_file.write_text(json.dumps({f"{keyring_service()}/default": TOKEN}))
    before = stored(isolated)
    result = at_terminal(monkeypatch, Person([interrupt]), *LOGIN)
    assert result.code == 130 and "nothing was stored" in result.stderr.lower()
    assert stored(isolated) == before and fake.requests_to("/token") == []


def test_an_app_that_wants_its_secret_offers_the_token_flow_at_once(fake, monkeypatch, isolated, keyring_file):
    fake.app(CLIENT_ID, require_secret=True)
    person = Person([the_code, "", TOKEN])  # Enter: yes, the token flow
    result = at_terminal(monkeypatch, person, *LOGIN)
    assert result.code == 0, result.stderr
    assert "invalid_client" in result.stderr and "response_type=token" in result.stderr
    assert FileKeyring.entries() == {f"{keyring_service()}/default": TOKEN}


def test_refusing_the_token_flow_says_both_ways_forward_and_stores_nothing(fake, monkeypatch, isolated, keyring_file):
    fake.app(CLIENT_ID, require_secret=True)
    before = stored(isolated)
    result = at_terminal(monkeypatch, Person([the_code, "n"]), *LOGIN)
    assert result.code == 2
    assert "--flow token" in result.stderr and "METRIKA_CLIENT_SECRET" in result.stderr
    assert f"https://oauth.yandex.ru/client/{CLIENT_ID}" in result.stderr
    assert stored(isolated) == before


def test_the_apps_secret_goes_with_the_code_when_known_and_never_into_the_trace(
    fake, monkeypatch, isolated, keyring_file
):
    fake.app(CLIENT_ID, require_secret=True)
    env = {"METRIKA_CLIENT_SECRET": SECRET, "METRIKA_DEBUG": "1"}
    result = at_terminal(monkeypatch, Person([the_code]), *LOGIN, env=env)
    assert result.code == 0, result.stderr
    assert parse_qs(fake.requests_to("/token")[0].body.decode())["client_secret"] == [SECRET]
    assert "client_secret=[redacted]" in result.stderr and SECRET not in result.output
    assert SECRET not in (isolated / "config.toml").read_text()


@pytest.mark.parametrize(
    "fault, words, code",
    [
        ({"mode": "cut"}, "Network error talking to Yandex OAuth", 6),
        ({"mode": "status", "status": 503}, "not answering properly", 6),
        ({"mode": "html", "status": 200}, "does not understand", 1),
    ],
)
def test_the_network_failing_at_token_is_said_and_stores_nothing(
    fake, monkeypatch, isolated, keyring_file, fault, words, code
):
    keyring_file.write_text(json.dumps({f"{keyring_service()}/default": TOKEN}))
    before = stored(isolated)
    fake.fail("/token", **fault)
    result = at_terminal(monkeypatch, Person([the_code]), *LOGIN)
    assert result.code == code and words in result.stderr
    assert "Traceback" not in result.stderr and stored(isolated) == before


def test_a_denied_consent_pasted_back_is_said(fake, monkeypatch, isolated, keyring_file):
    fake.refuse_consent = "access_denied"
    result = at_terminal(monkeypatch, Person([the_page]), *LOGIN)
    assert result.code == 2 and "denied" in result.stderr and stored(isolated)["keyring"] == {}


def test_without_a_terminal_the_paste_flows_point_at_the_device_flow(fake, metrika, isolated):
    result = metrika(*LOGIN)
    assert result.code == 2 and "--flow device" in result.stderr and fake.requests == []


# ---- the loopback Redirect URI --------------------------------------------------------------


def free_port() -> int:
    return closed_port()


@contextlib.contextmanager
def metrika_process(*args: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "metrika_cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)


def read_until_url(process: subprocess.Popen[str]) -> tuple[str, list[str]]:
    """stderr's lines up to the authorize URL (no terminal: the URL is printed, nothing opens)."""
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if URL_PATTERN.search(line):
            return authorize_url(line), lines
    raise AssertionError("".join(lines))


@pytest.mark.parametrize("lang, page", [("en", "metrika has the code"), ("ru", "metrika получила код")])
def test_the_loopback_flow_catches_the_code_with_no_paste_and_no_terminal(fake, isolated, keyring_file, lang, page):
    redirect = f"http://127.0.0.1:{free_port()}/callback"
    fake.app(CLIENT_ID, redirect_uris=[redirect])
    args = ("login", "--client-id", CLIENT_ID, "--redirect-uri", redirect)
    with metrika_process(*args, env={"METRIKA_LANG": lang}) as process:
        url, _lines = read_until_url(process)
        assert parse_qs(urlsplit(url).query)["redirect_uri"] == [redirect]
        idle = socket.create_connection(("127.0.0.1", urlsplit(redirect).port))  # a browser's preconnection
        landing = httpx.get(url, follow_redirects=True, timeout=10)  # the browser, sent back to metrika
        idle.close()
        _out, err = process.communicate(timeout=30)
    assert landing.status_code == 200 and page in landing.text
    assert str(landing.url).startswith(redirect + "?code=")
    assert process.returncode == 0, err
    token = next(iter(fake.issued))
    assert FileKeyring.entries()[f"{keyring_service()}/default"] == token
    assert profile(isolated)["renewable"] is True


def test_a_callback_with_a_forged_state_stores_nothing_and_is_said(fake, isolated, keyring_file):
    redirect = f"http://127.0.0.1:{free_port()}/cb"
    fake.app(CLIENT_ID, redirect_uris=[redirect])
    with metrika_process("login", "--client-id", CLIENT_ID, "--redirect-uri", redirect) as process:
        read_until_url(process)
        assert httpx.get(redirect + "/other", timeout=10).status_code == 404  # not the callback: ignored
        forged = httpx.get(redirect, params={"code": "Ab3dEf7hJk9mNp2q", "state": "forged"}, timeout=10)
        _out, err = process.communicate(timeout=30)
    assert forged.status_code == 400 and "nothing was stored" in forged.text
    assert process.returncode == 2 and "state" in err
    assert stored(isolated) == {"keyring": {}} and fake.requests_to("/token") == []


def test_a_busy_port_is_exit_2_before_anything_opens(fake, metrika, isolated):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = metrika("login", "--client-id", CLIENT_ID, "--redirect-uri", f"http://127.0.0.1:{port}/cb")
    assert result.code == 2 and f"Port {port}" in result.stderr and "busy" in result.stderr
    assert "/authorize" not in result.stderr and fake.requests == []


@pytest.mark.parametrize(
    "uri",
    ["https://127.0.0.1:8765/cb", "http://192.168.1.5:8765/cb", "http://example.com:8765/cb", "http://127.0.0.1/cb"],
)
def test_a_redirect_uri_that_is_not_loopback_with_a_port_is_exit_2(fake, metrika, isolated, uri):
    result = metrika("login", "--client-id", CLIENT_ID, "--redirect-uri", uri)
    assert result.code == 2 and "loopback" in result.stderr and fake.requests == []


@pytest.mark.parametrize("flow", ["token", "device"])
def test_a_redirect_uri_goes_with_the_code_flow_only(fake, metrika, isolated, flow):
    result = metrika("login", "--flow", flow, "--client-id", CLIENT_ID, "--redirect-uri", "http://127.0.0.1:8765/cb")
    assert result.code == 2 and "--flow code" in result.stderr and fake.requests == []


def test_an_unknown_flow_is_a_usage_error(fake, metrika, isolated):
    result = metrika("login", "--flow", "implicit", "--client-id", CLIENT_ID)
    assert result.code == 2 and "implicit" in result.stderr and fake.requests == []


def test_the_loopback_flow_gives_up_when_the_browser_never_comes_back(fake, metrika, isolated, monkeypatch):
    monkeypatch.setattr(flows, "LOOPBACK_TIMEOUT", 0.3)
    redirect = f"http://127.0.0.1:{free_port()}/cb"
    result = metrika("login", "--client-id", CLIENT_ID, "--redirect-uri", redirect)
    assert result.code == 2 and "did not come back" in result.stderr and "0.3 s" in result.stderr
    assert stored(isolated) == {"keyring": {}}


# ---- the device flow -----------------------------------------------------------------------------


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The device flow's waits, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(flows, "sleep", waited.append)
    return waited


DEVICE = ("login", "--flow", "device", "--client-id", CLIENT_ID)


def test_the_device_flow_works_without_a_terminal_and_honours_slow_down(fake, metrika, isolated, keyring_file, waits):
    fake.script_device("slow_down")
    fake.device_approve_after = 3
    result = metrika(*DEVICE, env={"METRIKA_CLIENT_SECRET": SECRET})
    assert result.code == 0, result.stderr
    assert result.stdout == ""  # messages, the code to type included, go to stderr
    grant = next(iter(fake.device_codes.values()))
    assert "https://ya.ru/device" in result.stderr and grant.user_code in result.stderr
    assert waits == [5, 10, 10]
    assert grant.device_name == f"metrika on {socket.gethostname()} (default)"
    token = next(iter(fake.issued))
    assert FileKeyring.entries() == {
        f"{keyring_service()}/default": token,
        f"{keyring_service()}/default#refresh": fake.issued[token].refresh_token,
    }
    saved = profile(isolated)
    assert saved["renewable"] is True and saved["device_id"] == grant.device_id and "expires_at" in saved
    assert SECRET not in result.output and SECRET not in (isolated / "config.toml").read_text()


@pytest.mark.parametrize(
    "script, words",
    [
        (("access_denied",), "refused"),
        (("authorization_pending", "expired_token"), "expired"),
    ],
)
def test_a_refused_or_expired_device_code_is_said_plainly(fake, metrika, isolated, keyring_file, waits, script, words):
    fake.script_device(*script)
    result = metrika(*DEVICE, env={"METRIKA_CLIENT_SECRET": SECRET})
    assert result.code == 2 and words in result.stderr and "--flow device" in result.stderr
    assert stored(isolated) == {"keyring": {}}


def test_the_device_code_expires_on_our_side_too(fake, metrika, isolated, waits):
    fake.device_lifetime = 12
    result = metrika(*DEVICE, env={"METRIKA_CLIENT_SECRET": SECRET})
    assert result.code == 2 and "expired" in result.stderr and waits == [5, 5, 5]


def test_the_device_flow_without_the_apps_secret_is_exit_2_naming_the_variable(fake, metrika, isolated):
    result = metrika(*DEVICE)
    assert result.code == 2
    assert "METRIKA_CLIENT_SECRET" in result.stderr and f"oauth.yandex.ru/client/{CLIENT_ID}" in result.stderr
    assert fake.requests == []


def test_a_wrong_secret_is_said_without_showing_it(fake, metrika, isolated, waits):
    wrong = "f" * 32
    result = metrika(*DEVICE, env={"METRIKA_CLIENT_SECRET": wrong, "METRIKA_DEBUG": "1"})
    assert result.code == 2 and "refused the app's secret" in result.stderr
    assert wrong not in result.output


def test_ctrl_c_while_waiting_for_the_device_stores_nothing(fake, metrika, isolated, keyring_file, monkeypatch):
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(flows, "sleep", interrupt)
    result = metrika(*DEVICE, env={"METRIKA_CLIENT_SECRET": SECRET})
    assert result.code == 130 and stored(isolated) == {"keyring": {}}


def test_the_device_flow_asks_for_the_secret_at_a_terminal_and_keeps_it_with_consent(
    fake, monkeypatch, isolated, keyring_file, waits
):
    fake.device_approve_after = 1
    result = at_terminal(monkeypatch, Person([SECRET, "y"]), *DEVICE)
    assert result.code == 0, result.stderr
    assert FileKeyring.entries()[f"{keyring_service()}/client-secret:{CLIENT_ID}"] == SECRET
    assert SECRET not in result.output


# ---- in a real terminal --------------------------------------------------------------------------


def spawn(*args: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "metrika_cli", *args],
        env={**os.environ, "NO_COLOR": "1"},
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 400),
    )


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus if child.exitstatus is not None else 128 + child.signalstatus


def test_the_code_address_pasted_in_a_real_terminal_is_hidden_and_exchanged(fake, isolated, keyring_file):
    child = spawn(*LOGIN)
    child.logfile_read = transcript = io.StringIO()
    child.expect("Paste the code the page shows")
    address = the_page(transcript.getvalue())
    child.sendline(address)
    child.expect("Logged in as vasya")
    assert finish(child) == 0
    code = parse_qs(urlsplit(address).query)["code"][0]
    token = next(iter(fake.issued))
    for secret in (code, token, fake.issued[token].refresh_token):
        assert secret not in transcript.getvalue()
    assert FileKeyring.entries()[f"{keyring_service()}/default"] == token


@pytest.mark.parametrize("key", ["ctrl-d", "ctrl-c"])
def test_ctrl_d_or_ctrl_c_at_the_code_prompt_of_a_real_terminal_stores_nothing(fake, isolated, keyring_file, key):
    child = spawn(*LOGIN)
    child.expect("Paste the code")
    child.sendeof() if key == "ctrl-d" else child.sendintr()
    assert finish(child) == 130
    assert stored(isolated) == {"keyring": {}} and fake.requests_to("/token") == []


def test_the_apps_secret_typed_in_a_real_terminal_is_hidden_and_kept_on_request(fake, isolated, keyring_file):
    fake.device_interval = 1
    child = spawn(*DEVICE)
    child.logfile_read = transcript = io.StringIO()
    child.expect("App's secret")
    child.sendline(SECRET)
    child.expect(r"Keep it in the keyring.*\[Y/n\]")
    child.sendline("y")
    child.expect("type the code")
    fake.approve_device()
    child.expect("Logged in as vasya")
    assert finish(child) == 0
    assert SECRET not in transcript.getvalue()
    assert FileKeyring.entries()[f"{keyring_service()}/client-secret:{CLIENT_ID}"] == SECRET


def test_a_device_code_that_stays_pending_ends_on_the_clock_whatever_the_interval(fake, metrika, isolated):
    fake.device_interval, fake.device_lifetime = 0, 1  # polls as fast as it may: the clock still ends it
    result = metrika(*DEVICE, env={"METRIKA_CLIENT_SECRET": SECRET})
    assert result.code == 2 and "expired" in result.stderr


CTRL_D = Interrupted("Interrupted; nothing was stored.")


@pytest.mark.parametrize(
    "args, answers, fake_setup",
    [
        (LOGIN, [the_code, CTRL_D], "require_secret"),  # at "continue with the token flow?"
        (LOGIN, [the_code, "", CTRL_D], "require_secret"),  # at the token flow's paste prompt
        (DEVICE, [CTRL_D], ""),  # at the app's secret
        (DEVICE, ["", "", CTRL_D], ""),  # empty answers ask again; then Ctrl-D
        (DEVICE, [SECRET, CTRL_D], ""),  # at "keep it in the keyring?"
        (DEVICE, [SECRET, KeyboardInterrupt()], ""),
    ],
)
def test_ctrl_d_or_ctrl_c_at_each_question_stores_nothing(
    fake, monkeypatch, isolated, keyring_file, waits, args, answers, fake_setup
):
    if fake_setup:
        fake.app(CLIENT_ID, require_secret=True)
    keyring_file.write_text(json.dumps({f"{keyring_service()}/default": TOKEN}))
    before = stored(isolated)
    result = at_terminal(monkeypatch, Person(answers), *args)
    assert result.code == 130, result.stderr
    assert stored(isolated) == before and "Traceback" not in result.stderr


def test_ctrl_c_while_waiting_for_the_browser_stores_nothing_and_frees_the_port(fake, isolated, keyring_file):
    port = free_port()
    redirect = f"http://127.0.0.1:{port}/cb"
    with metrika_process("login", "--client-id", CLIENT_ID, "--redirect-uri", redirect) as process:
        read_until_url(process)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 130 and "nothing was stored" in err.lower()
    assert stored(isolated) == {"keyring": {}}
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


def test_three_empty_pastes_at_the_code_prompt_end_with_exit_2_and_nothing_stored(
    fake, monkeypatch, isolated, keyring_file
):
    result = at_terminal(monkeypatch, Person(["", " ", "\t"]), *LOGIN)
    assert result.code == 2 and result.stderr.count("Nothing was pasted (the prompt") == 3
    assert stored(isolated) == {"keyring": {}} and fake.requests_to("/token") == []
