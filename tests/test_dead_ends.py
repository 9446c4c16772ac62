"""No dead ends: every way out of a prompt, every odd stdout, every odd input or config ends in a
clear message and the right exit code — never a traceback, a hang, or a terminal left without echo."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pexpect
import pytest
import tomli_w
from conftest import CLIENT_ID, TOKEN
from keyring_backends import backend_env

from metrika_cli.text import fingerprint

METRIKA = [sys.executable, "-m", "metrika_cli"]
LOGIN = ("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID)


def spawn(*args: str) -> pexpect.spawn:
    return pexpect.spawn(METRIKA[0], [*METRIKA[1:], *args], env=dict(os.environ), encoding="utf-8", timeout=30)


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus if child.exitstatus is not None else 128 + child.signalstatus


def stored_nothing(directory: Path) -> bool:
    return not (directory / "config.toml").exists() and not (directory / "credentials.toml").exists()


# ---- prompts ---------------------------------------------------------------------------


def test_ctrl_d_at_the_client_id_prompt_exits_130_and_an_empty_answer_asks_again(fake, isolated):
    child = spawn("login", "--no-browser")
    child.expect("ClientID of your app: ")
    child.sendline("")
    child.expect("ClientID of your app: ")  # Enter alone: asked again
    child.sendline("   ")
    child.expect("ClientID of your app: ")
    child.sendeof()
    child.expect("Interrupted; nothing was stored.")
    assert finish(child) == 130
    assert stored_nothing(isolated)


def test_ctrl_d_at_the_hidden_token_prompt_exits_130(fake, isolated):
    child = spawn("login", "--flow", "token", "--client-id", CLIENT_ID, "--no-browser", "--insecure-storage")
    child.expect("Paste the token")
    child.sendeof()
    child.expect("Interrupted; nothing was stored.")
    assert finish(child) == 130
    assert stored_nothing(isolated)


def test_ctrl_d_at_the_plain_text_question_exits_130(fake, isolated):
    child = spawn("login", "--client-id", CLIENT_ID, "--no-browser")
    child.expect("Paste the code")
    child.sendline(TOKEN)  # the code prompt takes a token too
    child.expect(r"plain text.*\[y/N\]")
    child.sendeof()
    child.expect("Interrupted; nothing was stored.")
    assert finish(child) == 130
    assert stored_nothing(isolated)
    assert fake.requests == []  # asked before anything was sent


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def test_sigterm_at_the_hidden_prompt_gives_the_terminal_its_echo_back(fake, isolated):
    script = '"$0" -m metrika_cli login --client-id "$1" --no-browser; echo "rc=$?"; stty -a'
    child = pexpect.spawn(
        "sh", ["-c", script, sys.executable, CLIENT_ID], env=dict(os.environ), encoding="utf-8", timeout=30
    )
    child.expect("Paste the code")
    time.sleep(0.2)  # getpass has turned echo off by the time the prompt shows; let it settle
    (metrika,) = children_of(child.pid)
    os.kill(metrika, 15)
    child.expect(r"rc=(\d+)")
    code = int(child.match.group(1))
    child.expect(pexpect.EOF)
    settings = child.before
    assert code == 130, settings
    assert re.search(r"(?<![-\w])echo(?![\w])", settings), settings  # `echo`, not `-echo`
    assert "-echo " not in settings
    assert stored_nothing(isolated)


# ---- standard output closed or full ----------------------------------------------------


def with_closed_stdout(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`metrika ARGS` writing into a pipe whose reader is already gone (`| head` that has finished)."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(
            [*METRIKA, *args],
            stdin=subprocess.DEVNULL,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=60,
        )
    finally:
        os.close(writer)


@pytest.mark.parametrize(
    "args",
    [("--help",), ("check-access", "101", "--json"), ("token",), ("--version",)],
)
def test_a_closed_stdout_ends_quietly_with_141(fake, args):
    completed = with_closed_stdout(*args, env={"METRIKA_TOKEN": TOKEN})
    assert (completed.returncode, completed.stderr) == (141, "")


def test_a_real_pipe_into_head_ends_quietly(fake):
    env = {**os.environ, "METRIKA_TOKEN": TOKEN}
    metrika = " ".join(METRIKA)
    script = (
        f'{metrika} --help | head -c 200; echo; echo "rc=${{PIPESTATUS[0]}}"; '
        f'{metrika} check-access 101 202 303 --json | head -c 10; echo; echo "rc=${{PIPESTATUS[0]}}"'
    )
    completed = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert completed.stderr == ""
    assert "Usage: metrika" in completed.stdout and '{\n  "schem\n' in completed.stdout
    codes = re.findall(r"rc=(\d+)", completed.stdout)
    assert len(codes) == 2 and set(codes) <= {"0", "141"}, completed.stdout  # 0 when it was all written in time


@pytest.mark.parametrize("args", [("--help",), ("token",), ("check-access", "101", "--json")])
def test_a_full_stdout_is_a_clear_message_and_exit_1(fake, args):
    with open("/dev/full", "w") as full:
        completed = subprocess.run(
            [*METRIKA, *args],
            stdin=subprocess.DEVNULL,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "METRIKA_TOKEN": TOKEN},
            timeout=60,
        )
    assert completed.returncode == 1, completed.stderr
    assert completed.stderr == "error: Cannot write the output: no space left on the device.\n"


# ---- a config of the wrong shape -------------------------------------------------------

BAD_CONFIGS = {
    "expires_at": ('[profiles.default]\nstorage = "file"\nexpires_at = 123\n', "profiles.default.expires_at"),
    "scopes": ('[profiles.default]\nscopes = ["metrika:read", 1]\n', "profiles.default.scopes"),
    "profiles": ('profiles = "x"\n', "profiles must be a table"),
    "profile": ('[profiles]\ndefault = "x"\n', "default must be a table"),
    "nested": ("a = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_a_config_of_the_wrong_shape_names_the_file_and_key(fake, metrika, isolated, case):
    text, words = BAD_CONFIGS[case]
    isolated.mkdir(mode=0o700)
    (isolated / "config.toml").write_text(text)
    (isolated / "config.toml").chmod(0o600)
    for args in (("token",), ("whoami", "--json"), ("check-access",), ("login", "--with-token"), ("logout", "--all")):
        result = metrika(*args, input=TOKEN, env={"METRIKA_CLIENT_ID": CLIENT_ID})
        assert result.code == 1, (args, result.output)
        assert str(isolated / "config.toml") in result.output and words in result.output, result.output
        assert "Traceback" not in result.output
    assert (isolated / "config.toml").read_text() == text
    assert fake.requests == []
    # `metrika logout` of the broken profile is the way out where only that profile is broken
    logout = metrika("logout")
    if case in ("profiles", "nested"):
        assert logout.code == 1 and (isolated / "config.toml").read_text() == text
    else:
        assert logout.code == 0, logout.output
        assert metrika(*LOGIN, input=TOKEN).code == 0 and metrika("token").stdout == TOKEN + "\n"


# ---- a keyring that answers nonsense ---------------------------------------------------


@pytest.mark.parametrize("backend", ["BytesKeyring", "IntKeyring"])
def test_a_keyring_answering_something_other_than_text_exits_7(fake, metrika, isolated, backend):
    isolated.mkdir(mode=0o700)
    profile = {"client_id": CLIENT_ID, "storage": "keyring", "fingerprint": fingerprint(TOKEN)}
    (isolated / "config.toml").write_text(tomli_w.dumps({"profiles": {"default": profile}}))
    (isolated / "config.toml").chmod(0o600)
    for args in (("token",), ("whoami",), ("check-access", "--json")):
        result = metrika(*args, env=backend_env(backend))
        assert result.code == 7, (args, result.output)
        assert "other than text" in result.output and "Traceback" not in result.output
        assert "BytesToken" not in result.output
    assert fake.requests == []


# ---- odd input -------------------------------------------------------------------------


@pytest.mark.parametrize("counter", ["²", "9" * 5000, "١٠٠", "٣", "0", "1e3", "0x10", "12345678901234567890123"])
def test_a_counter_id_that_is_not_a_plain_positive_number_exits_2(fake, metrika, counter):
    for args in (("check-access", counter), ("check-access", "101", counter, "--json")):
        started = time.monotonic()
        result = metrika(*args, env={"METRIKA_TOKEN": TOKEN})
        assert time.monotonic() - started < 1
        assert result.code == 2, result.output
        assert "positive whole number" in result.output and "Traceback" not in result.output
        assert len(result.output) < 2000  # the 5,000 digits are not echoed back
    assert fake.requests == []


def test_with_token_input_over_64_kib_exits_2_and_stores_nothing(fake, metrika, isolated):
    for pasted in (TOKEN + "\n" + "x" * 70_000, "y" * (64 * 1024 + 1)):
        result = metrika("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID, input=pasted)
        assert result.code == 2, result.output
        assert "over 64 KiB" in result.stderr and "nothing was stored" in result.stderr
        assert stored_nothing(isolated)
    assert fake.requests == []


@pytest.mark.parametrize("ending", ["", "\n", "\r\n"])
def test_a_token_file_with_a_utf8_bom_is_accepted(fake, metrika, tmp_path, ending):
    path = tmp_path / "token.txt"
    path.write_bytes(b"\xef\xbb\xbf" + TOKEN.encode() + ending.encode())
    assert metrika("token", env={"METRIKA_TOKEN_FILE": str(path)}).stdout == TOKEN + "\n"
    result = metrika("check-access", "101", "--json", env={"METRIKA_TOKEN_FILE": str(path)})
    assert result.code == 0 and json.loads(result.stdout)["token"]["source"] == "env:METRIKA_TOKEN_FILE"
    with path.open(encoding="utf-8") as handle:  # `metrika login --with-token < token.txt`
        login = metrika("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID, input=handle.read())
    assert login.code == 0, login.output
    assert metrika("token").stdout == TOKEN + "\n"


def test_a_fifo_as_the_token_file_exits_2_at_once(metrika, tmp_path):
    fifo = tmp_path / "token.fifo"
    os.mkfifo(fifo)
    writers: list[float] = []

    def unblock() -> None:  # should metrika wait for a writer, this one comes after 5 s (no hung test)
        time.sleep(5)
        writers.append(time.monotonic())
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass  # nobody reading: metrika did not wait

    threading.Thread(target=unblock, daemon=True).start()
    started = time.monotonic()
    result = metrika("token", env={"METRIKA_TOKEN_FILE": str(fifo)})
    assert time.monotonic() - started < 4, "metrika waited for a writer"  # who comes after 5 s
    assert result.code == 2 and "not a regular file" in result.stderr, result.output
    assert stat.S_ISFIFO(fifo.stat().st_mode)


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/urandom", "/proc/self"])
def test_a_device_or_folder_as_the_token_file_exits_2_at_once(metrika, path):
    started = time.monotonic()
    result = metrika("check-access", "--json", env={"METRIKA_TOKEN_FILE": path})
    assert time.monotonic() - started < 4  # not reading an endless device, nor waiting on one
    assert result.code == 2, result.output
    assert json.loads(result.stdout)["diagnosis"] == "bad_input"
