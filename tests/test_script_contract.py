"""What scripts rely on, per command: data on stdout only, no colour unless a person watches,
nothing prompts or opens a browser without a terminal, one JSON object, the exit codes of docs/exit-codes.md."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest
from conftest import CLIENT_ID, TOKEN

ANSI = "\x1b["
INSECURE = ("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID)


@pytest.fixture
def logged_in(fake, metrika):
    """TOKEN stored for profile default (plain-text file: the tests run without a keyring)."""
    assert metrika(*INSECURE, input=TOKEN).code == 0
    return fake


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """BROWSER points at a script that leaves a marker file; returns the marker's path."""
    marker = tmp_path / "browser-opened"
    script = tmp_path / "fake-browser"
    script.write_text(f"#!/bin/sh\necho \"$1\" > '{marker}'\n")
    script.chmod(0o755)
    monkeypatch.setenv("BROWSER", str(script))
    return marker


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def spawn(*args: str, env: dict[str, str] | None = None) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "metrika_cli", *args],
        encoding="utf-8",
        timeout=30,
        env={**os.environ, "TERM": "xterm-256color", **(env or {})},
        dimensions=(40, 200),
    )


def finish(child: pexpect.spawn) -> tuple[int, str]:
    child.expect(pexpect.EOF)
    child.close()
    code = child.exitstatus if child.exitstatus is not None else 128 + child.signalstatus
    return code, child.before


# ---- data on stdout, messages on stderr ------------------------------------------------


def test_login_writes_nothing_on_stdout_and_says_who_on_stderr(fake, metrika):
    result = metrika(*INSECURE, input=TOKEN)
    assert (result.code, result.stdout) == (0, "")
    assert "Logged in as vasya" in result.stderr


def test_auth_url_prints_the_url_alone_on_stdout(fake, metrika):
    result = metrika("auth-url", "--client-id", CLIENT_ID)
    assert result.code == 0 and result.stderr == ""
    assert result.stdout.count("\n") == 1 and result.stdout.startswith(fake.url)
    assert f"client_id={CLIENT_ID}" in result.stdout


def test_token_prints_the_token_alone_on_stdout(logged_in, metrika):
    result = metrika("token")
    assert (result.code, result.stdout, result.stderr) == (0, TOKEN + "\n", "")


def test_whoami_prints_its_rows_on_stdout_and_never_the_token(logged_in, metrika):
    result = metrika("whoami")
    assert result.code == 0
    assert "vasya" in result.stdout and CLIENT_ID in result.stdout
    assert TOKEN not in result.output


def test_check_access_prints_checks_and_verdict_on_stdout(logged_in, metrika):
    result = metrika("check-access", "101")
    assert result.code == 0 and result.stderr == ""
    assert "ok:" in result.stdout and "passed" in result.stdout


def test_logout_writes_nothing_on_stdout(logged_in, metrika):
    result = metrika("logout")
    assert (result.code, result.stdout) == (0, "")
    assert "Forgot the token of profile default" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("token",),
        ("whoami",),
        ("auth-url",),
        ("logout", "--profile", "a b"),
        ("login", "--with-token", "--client-id", CLIENT_ID),
    ],
)
def test_failures_leave_stdout_empty_and_explain_on_stderr(fake, metrika, args):
    result = metrika(*args, input="")
    assert result.code in (2, 3)
    assert result.stdout == "" and result.stderr.strip()


def test_check_access_failure_is_its_report_on_stdout(fake, metrika):
    """check-access's checks and verdict are its data, so a failing verdict goes to stdout too."""
    result = metrika("check-access", "101")
    assert result.code == 3
    assert "no_token:" in result.stdout and "failed" in result.stdout


# ---- colour ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        (*INSECURE,),
        ("auth-url", "--client-id", CLIENT_ID),
        ("token",),
        ("whoami",),
        ("check-access", "101"),
        ("check-access", "999"),
        ("whoami", "--profile", "nobody"),
        ("logout",),
        ("logout",),
    ],
)
def test_no_colour_when_output_is_not_a_terminal(fake, metrika, args):
    result = metrika(*args, input=TOKEN, env={"TERM": "xterm-256color", "FORCE_COLOR": ""})
    assert ANSI not in result.output


def test_a_terminal_does_get_colour_without_no_color(logged_in):
    code, transcript = finish(spawn("check-access", "101"))
    assert code == 0 and ANSI in transcript


def test_metrika_api_on_a_terminal_prints_indented_coloured_json(logged_in):
    code, transcript = finish(spawn("api", "/management/v1/counter/101"))
    assert code == 0 and ANSI in transcript
    assert '\n  "counter": {' in re.sub(r"\x1b\[[0-9;]*m", "", transcript).replace("\r\n", "\n")


def test_metrika_api_pages_to_a_file_show_a_progress_bar_on_the_terminal(logged_in, tmp_path):
    logged_in.accounts[TOKEN].counters += [{"id": 1000 + n} for n in range(20)]
    out = tmp_path / "pages.jsonl"
    child = pexpect.spawn(
        "sh",
        ["-c", f'"$0" -m metrika_cli api /management/v1/counters --paginate -f per_page=2 > "{out}"', sys.executable],
        encoding="utf-8",
        timeout=30,
        env={**os.environ, "TERM": "xterm-256color"},
        dimensions=(40, 200),
    )
    code, transcript = finish(child)
    assert code == 0 and "pages" in transcript and "/12" in transcript
    lines = out.read_text().splitlines()
    assert len(lines) == 12 and ANSI not in out.read_text()
    assert [json.loads(line)["counters"][0]["id"] for line in lines][:3] == [101, 303, 1001]


@pytest.mark.parametrize(
    "args",
    [
        ("login", "--with-token"),
        ("auth-url",),
        ("token", "--profile", "nobody"),
        ("whoami", "--profile", "nobody"),
        ("check-access", "101"),
        ("check-access", "999"),
        ("whoami",),
        ("api", "/management/v1/counter/101"),
        ("api", "/management/v1/counter/999"),
        ("logout",),
    ],
)
def test_no_color_removes_colour_even_in_a_terminal(logged_in, args):
    code, transcript = finish(spawn(*args, env={"NO_COLOR": "1"}))
    assert code in (0, 2, 3, 5)
    assert transcript.strip() and ANSI not in transcript


# ---- no prompt, no browser -------------------------------------------------------------


def test_login_without_a_terminal_exits_2_at_once_while_stdin_stays_open(fake, browser):
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "metrika_cli", "login", "--client-id", CLIENT_ID],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        code = process.wait(timeout=10)
        stdout, stderr = process.stdout.read(), process.stderr.read()  # type: ignore[union-attr]
    finally:
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()  # type: ignore[union-attr]
    assert code == 2 and time.monotonic() - started < 10
    assert stdout == "" and "--with-token" in stderr
    assert not browser.exists()


def test_login_with_ci_set_in_a_terminal_with_a_display_neither_prompts_nor_opens_a_browser(fake, browser):
    code, transcript = finish(spawn("login", "--client-id", CLIENT_ID, env={"CI": "1", "DISPLAY": ":0"}))
    assert code == 2 and "CI is set" in transcript
    assert "Paste the" not in transcript
    assert not browser.exists()


def test_login_without_a_client_id_and_with_ci_set_does_not_ask_for_one(fake, browser):
    code, transcript = finish(spawn("login", env={"CI": "1", "DISPLAY": ":0"}))
    assert code == 2 and "ClientID of your app" not in transcript
    assert not browser.exists()


def test_the_browser_marker_does_appear_when_a_person_logs_in_with_a_display(fake, browser):
    """The control for the tests above: the same BROWSER script does run when a browser may open."""
    child = spawn("login", "--client-id", CLIENT_ID, env={"DISPLAY": ":0"})
    child.expect("Paste the code")
    deadline = time.monotonic() + 10
    while not browser.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child.sendintr()
    code, _transcript = finish(child)
    assert code == 130
    assert "response_type=code" in browser.read_text()


# ---- one JSON object -------------------------------------------------------------------


def one_json_object(stdout: str) -> dict:
    document = json.loads(stdout)  # fails on empty output, text around it, or two documents
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("command", ["whoami", "check-access"])
def test_json_on_success_is_one_object(logged_in, metrika, command):
    result = metrika(command, "--json")
    document = one_json_object(result.stdout)
    assert (result.code, document["exit_code"], document["ok"], document["schema"]) == (0, 0, True, 1)


@pytest.mark.parametrize("command", ["whoami", "check-access"])
def test_json_without_a_token_is_one_object_with_exit_3(fake, metrika, command):
    result = metrika(command, "--json")
    document = one_json_object(result.stdout)
    assert (result.code, document["diagnosis"], document["exit_code"]) == (3, "no_token", 3)


@pytest.mark.parametrize("counter", ["abc", "0", "-5"])
def test_json_for_a_bad_counter_id_is_one_object_with_exit_2(logged_in, metrika, counter):
    result = metrika("check-access", "--json", "--", counter)
    document = one_json_object(result.stdout)
    assert (result.code, document["diagnosis"]) == (2, "bad_input")


@pytest.mark.parametrize(
    "args",
    [
        ("whoami", "--json", "--bogus"),
        ("check-access", "--json", "--bogus"),
        ("check-access", "--json", "--need"),
        ("whoami", "--json", "extra"),
        ("whoami", "--json", "--profile", "no spaces allowed"),
    ],
)
def test_json_for_bad_usage_is_one_object_with_exit_2(fake, metrika, args):
    result = metrika(*args)
    document = one_json_object(result.stdout)
    assert (result.code, document["diagnosis"], document["exit_code"]) == (2, "bad_input", 2)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("token", "--json"), "No such option '--json'."),
        (("token", "--header", "--json"), "No such option '--json'."),
        (("token", "--header", "--bogus"), "No such option '--bogus'."),
        (("--version", "--json"), "No such option '--json'."),
        (("exec", "--json", "--", "true"), "No such option '--json'."),
        (("exec", "--bogus", "--", "echo", "--json"), "No such option '--bogus'."),
        (("logout", "--json"), "No such option '--json'."),
    ],
)
def test_an_option_the_command_does_not_take_is_a_usage_error_even_when_it_is_json(metrika, args, words):
    result = metrika(*args, env={"METRIKA_TOKEN": TOKEN})  # main(): the lean path too
    assert (result.code, result.stdout) == (2, "")
    assert f"error: {words}" in result.stderr and "Usage: metrika" in result.stderr
    assert TOKEN not in result.output


@pytest.mark.parametrize("command", ["whoami", "check-access"])
def test_json_when_the_network_fails_is_one_object_with_exit_6(logged_in, metrika, command):
    url = closed_port_url()
    env = {"METRIKA_API_URL": url, "METRIKA_LOGIN_URL": url}
    result = metrika(command, "--json", env=env)
    document = one_json_object(result.stdout)
    assert (result.code, document["diagnosis"]) == (6, "network_error")
    assert TOKEN not in result.output


def test_json_for_a_counter_without_access_is_one_object_with_exit_5(logged_in, metrika):
    result = metrika("check-access", "999", "--json")
    document = one_json_object(result.stdout)
    assert (result.code, document["diagnosis"]) == (5, "no_counter_access")


# ---- exit codes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, env, stdin, code",
    [
        (("token",), {}, "", 3),
        (("token", "--header"), {"METRIKA_TOKEN": "OAuth " + TOKEN}, "", 4),
        (("check-access",), {"METRIKA_TOKEN": "y0__unknownTokenNobodyIssued0123456789"}, "", 4),
        (("check-access", "999"), {"METRIKA_TOKEN": TOKEN}, "", 5),
        (("check-access",), {"METRIKA_TOKEN": TOKEN, "METRIKA_API_URL": "closed"}, "", 6),
        (("whoami", "--profile", "a b"), {}, "", 2),
        (("check-access", "--need", "admin"), {"METRIKA_TOKEN": TOKEN}, "", 2),
        (("login", "--with-token", "--client-id", CLIENT_ID), {}, TOKEN, 7),
        (("logout",), {}, "", 0),
        (("no-such-command",), {}, "", 2),
    ],
)
def test_exit_codes_are_the_documented_ones(fake, metrika, args, env, stdin, code):
    env = {name: closed_port_url() if value == "closed" else value for name, value in env.items()}
    result = metrika(*args, input=stdin, env=env)
    assert result.code == code, result.stderr
    assert "Traceback" not in result.stderr


def test_bare_metrika_prints_its_help_on_stdout_and_exits_0(metrika):
    result = metrika()
    assert (result.code, result.stderr) == (0, "")
    assert "Usage: metrika [OPTIONS] COMMAND [ARGS]..." in result.stdout
    assert "check-access" in result.stdout and "completion" in result.stdout
    assert result.stdout == metrika("--help").stdout


def test_an_option_without_a_command_is_still_a_usage_error(metrika):
    result = metrika("--profile", "work")
    assert (result.code, result.stdout) == (2, "")
    assert "error: Missing command." in result.stderr
