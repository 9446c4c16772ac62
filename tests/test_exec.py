"""`metrika exec`: the token in a command's environment, never on its command line, and the
command's signals and exit status its own (the process is replaced, not forked)."""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import subprocess
import sys
from unittest.mock import ANY

import pytest
from conftest import CLIENT_ID, TOKEN, parsed_by_the_app, run_metrika

import metrika_cli.main as entry
from metrika_cli.env import Env
from metrika_cli.main import lean_exec_args, lean_token_args

PIECES = {TOKEN[i : i + 8] for i in range(len(TOKEN) - 7)}
TOKEN_SHA = hashlib.sha256(TOKEN.encode()).hexdigest()


@pytest.fixture
def executed(monkeypatch):
    """Env.exec recorded instead of replacing the test's process; each call answers 0."""
    calls: list[tuple[str, list[str], dict[str, str]]] = []

    def record(self, file, argv, environ):
        calls.append((file, list(argv), dict(environ)))
        return 0

    monkeypatch.setattr(Env, "exec", record)
    return calls


@pytest.fixture(params=["lean", "app"])
def path(request, monkeypatch):
    """Each in-process test runs through the lean path and through the Typer app."""
    if request.param == "app":
        monkeypatch.setattr(entry, "lean_exec_args", lambda args: None)
    return request.param


# ---- in-process: what is handed to exec ----------------------------------------------------


def test_the_token_is_in_the_environment_and_never_in_argv(executed, metrika, path):
    result = metrika("exec", "--env", "YANDEX_API_KEY", "--", "tool", "--flag", "x", env={"METRIKA_TOKEN": TOKEN})
    assert (result.code, result.stdout, result.stderr) == (0, "", "")
    [(file, argv, environ)] = executed
    assert (file, argv) == ("tool", ["tool", "--flag", "x"])
    assert environ["METRIKA_TOKEN"] == environ["YANDEX_API_KEY"] == TOKEN
    assert not any(piece in arg for arg in argv for piece in PIECES)


def test_several_env_names_and_the_rest_of_the_environment_pass_through(executed, metrika, path):
    env = {"METRIKA_TOKEN": TOKEN, "KEEP_ME": "yes"}
    result = metrika("exec", "--env", "A", "--env=B_2", "--", "tool", env=env)
    assert result.code == 0
    [(_file, _argv, environ)] = executed
    assert environ["A"] == environ["B_2"] == environ["METRIKA_TOKEN"] == TOKEN
    assert environ["KEEP_ME"] == "yes" and environ["PATH"] == os.environ["PATH"]


def test_the_stored_token_of_the_profile_is_used(executed, fake, metrika, path):
    login = ("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID, "--profile", "work")
    assert metrika(*login, input=TOKEN).code == 0
    assert metrika("--profile", "work", "exec", "--", "tool").code == 0
    assert metrika("exec", "--profile", "work", "tool", "arg").code == 0
    assert [call[2]["METRIKA_TOKEN"] for call in executed] == [TOKEN, TOKEN]
    assert executed[1][1] == ["tool", "arg"]


def test_options_after_the_command_belong_to_the_command(executed, metrika, path):
    assert metrika("exec", "ls", "--env", "X", "--profile", "p", env={"METRIKA_TOKEN": TOKEN}).code == 0
    [(_file, argv, environ)] = executed
    assert argv == ["ls", "--env", "X", "--profile", "p"] and "X" not in environ


@pytest.mark.parametrize("name", ["1ABC", "A-B", "", "A B", "A=B", "ТОКЕН"])
def test_an_env_name_that_is_not_a_variable_name_is_bad_input(executed, metrika, path, name):
    result = metrika("exec", "--env", name, "--", "tool", env={"METRIKA_TOKEN": TOKEN})
    assert result.code == 2 and "--env takes an environment variable name" in result.stderr
    assert executed == []


def test_no_token_is_exit_3_and_nothing_runs(executed, metrika, path):
    result = metrika("exec", "--", "tool")
    assert result.code == 3 and executed == []
    assert result.stderr.startswith("error: No token for profile default")


def test_a_malformed_token_is_exit_4_and_nothing_runs(executed, metrika, path):
    result = metrika("exec", "--", "tool", env={"METRIKA_TOKEN": f"OAuth {TOKEN}"})
    assert result.code == 4 and executed == [] and TOKEN not in result.output


def test_without_a_command_it_is_bad_usage(executed, metrika):
    for args in (("exec",), ("exec", "--"), ("exec", "--env", "X")):
        assert metrika(*args, env={"METRIKA_TOKEN": TOKEN}).code == 2, args
    assert executed == []


@pytest.mark.parametrize(
    "args, parsed",
    [
        (["exec", "--", "ls", "-l"], (None, [], ["ls", "-l"])),
        (["exec", "ls", "-l"], (None, [], ["ls", "-l"])),
        (["--profile", "a", "exec", "--env", "X", "--", "ls"], ("a", ["X"], ["ls"])),
        (["exec", "--profile=b", "--env=X", "--env", "Y", "ls"], ("b", ["X", "Y"], ["ls"])),
        (["exec", "--", "--help"], (None, [], ["--help"])),
        (["exec", "--help"], None),
        (["exec", "-h", "--", "ls"], None),
        (["exec", "--bogus", "--", "ls"], None),
        (["--env", "X", "exec", "--", "ls"], None),
        (["exec", "--"], None),
        (["exec"], None),
        (["token"], None),
        (["api", "exec"], None),
    ],
)
def test_the_lean_path_takes_only_plain_calls(args, parsed):
    assert lean_exec_args(args) == parsed


def click_reads(args: list[str]) -> tuple[str, str | None, dict] | None:
    """(command, profile, the command's parameters) as the app would read `args`; None for an error."""
    read = parsed_by_the_app(args)
    if read is None:
        return None
    name, options, params = read
    return name, params.get("profile") or options.get("profile"), params


def test_the_lean_path_reads_every_call_it_takes_as_the_app_would():
    """Any option the lean path does not know (`token --json`) goes to the app, which refuses it."""
    words = ["token", "exec", "--header", "--profile", "--profile=p", "p", "--json", "--", "--env", "--env=E", "-h"]
    taken = 0
    for size in range(1, 5):
        for args in map(list, itertools.product(words, repeat=size)):
            token, run = lean_token_args(args), lean_exec_args(args)
            if token:
                assert click_reads(args) == ("token", token[0], {"profile": ANY, "header": token[1]}), args
            elif run:
                profile, names, command = run
                read = click_reads(args)
                assert read is not None and read[:2] == ("exec", profile), args
                assert (list(read[2]["env_names"] or []), list(read[2]["command"])) == (names, command), args
            taken += bool(token or run)
    assert taken > 500


# ---- a real process ----------------------------------------------------------------------


def test_the_command_replaces_metrika_and_gets_the_token_in_its_environment_only():
    script = 'echo "pid $$"; tr "\\0" " " < /proc/$$/cmdline; echo; printf %s "$METRIKA_TOKEN" | sha256sum'
    process = subprocess.Popen(
        [sys.executable, "-m", "metrika_cli", "exec", "--", "sh", "-c", script],
        env={**os.environ, "METRIKA_TOKEN": TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    pid_line, cmdline, digest = stdout.splitlines()
    assert pid_line == f"pid {process.pid}"  # replaced, not forked
    assert cmdline.startswith("sh -c ")
    assert digest.split()[0] == TOKEN_SHA
    assert not any(piece in stdout + stderr for piece in PIECES)


def test_the_exit_status_is_the_command_s():
    result = run_metrika("exec", "--", "sh", "-c", "exit 42", env={"METRIKA_TOKEN": TOKEN})
    assert result.code == 42 and result.output == ""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_a_command_killed_by_a_signal_kills_metrika_with_it(sig):
    result = run_metrika("exec", "--", "sh", "-c", f"kill -{sig.name[3:]} $$", env={"METRIKA_TOKEN": TOKEN})
    assert result.code == -sig


def test_a_missing_command_is_127_as_in_a_shell():
    result = run_metrika("exec", "--", "no-such-command-anywhere", env={"METRIKA_TOKEN": TOKEN})
    assert result.code == 127
    assert result.stderr == "error: no-such-command-anywhere: command not found\n" and result.stdout == ""


def test_a_command_that_is_not_executable_is_126(tmp_path):
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\necho hi\n")
    for target in (script, tmp_path):
        result = run_metrika("exec", "--", str(target), env={"METRIKA_TOKEN": TOKEN})
        assert result.code == 126, target
        assert result.stderr.startswith(f"error: {target}: ") and "permission denied" in result.stderr


def test_without_a_token_the_command_never_runs(tmp_path):
    marker = tmp_path / "ran"
    result = run_metrika("exec", "--", "touch", str(marker))
    assert result.code == 3 and not marker.exists()


def test_help_goes_through_the_app():
    result = run_metrika("exec", "--help")
    assert result.code == 0 and "Usage: metrika exec" in result.stdout and "--env" in result.stdout


def test_the_lean_path_imports_neither_typer_rich_nor_httpx():
    probe = (
        "import os, sys\n"
        "def fake_exec(file, argv, environ):\n"
        "    print(sorted(m for m in ('typer', 'click', 'rich', 'httpx', 'platformdirs') if m in sys.modules))\n"
        "    sys.stdout.flush()\n"
        "    os._exit(0)\n"
        "os.execvpe = fake_exec\n"
        "from metrika_cli.main import main\n"
        "main(['exec', '--env', 'X', '--', 'true'])\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "METRIKA_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, "[]\n", "")


def test_a_token_typed_as_an_env_name_or_a_command_is_named_by_its_fingerprint(executed, metrika, path):
    result = metrika("exec", "--env", TOKEN, "--", "tool", env={"METRIKA_TOKEN": TOKEN})
    assert result.code == 2 and TOKEN not in result.output and "sha256:" in result.stderr


def test_a_token_typed_as_the_command_is_not_echoed():
    result = run_metrika("exec", "--", TOKEN, env={"METRIKA_TOKEN": TOKEN})
    assert result.code == 127 and TOKEN not in result.output and "sha256:" in result.stderr


# ---- what the command inherits -----------------------------------------------------------


def ignored_signals(status: str) -> int:
    [line] = [line for line in status.splitlines() if line.startswith("SigIgn:")]
    return int(line.split()[1], 16)


def test_the_command_gets_default_signal_dispositions_as_from_a_shell():
    direct = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True, check=True).stdout
    result = run_metrika("exec", "--", "cat", "/proc/self/status", env={"METRIKA_TOKEN": TOKEN})
    assert result.code == 0, result.stderr
    assert ignored_signals(result.stdout) == ignored_signals(direct)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        assert not ignored_signals(result.stdout) & (1 << (sig - 1)), sig


def test_a_command_writing_into_a_closed_pipe_ends_by_sigpipe_quietly():
    script = f'{sys.executable} -m metrika_cli exec -- yes | head -1; echo "status ${{PIPESTATUS[0]}}" >&2'
    completed = subprocess.run(
        ["bash", "-c", script], env={**os.environ, "METRIKA_TOKEN": TOKEN}, capture_output=True, text=True, timeout=60
    )
    assert completed.stdout == "y\n"
    assert completed.stderr == "status 141\n"  # killed by SIGPIPE, as `yes | head -1` is; no "Broken pipe"


LIMIT_PRINTER = [sys.executable, "-c", "import resource; print(resource.getrlimit(resource.RLIMIT_CORE))"]


def test_the_command_gets_the_core_limit_metrika_found_while_metrika_keeps_none():
    from test_secrets import ALLOWING_CORE_DUMPS

    completed = subprocess.run(
        [sys.executable, "-c", ALLOWING_CORE_DUMPS, "metrika_cli", "exec", "--", *LIMIT_PRINTER],
        env={**os.environ, "METRIKA_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (completed.returncode, completed.stdout) == (0, f"({1 << 30}, -1)\n"), completed.stderr


@pytest.mark.parametrize(
    "name",
    [
        "LD_PRELOAD",
        "LD_DEBUG",
        "ld_library_path",
        "DYLD_INSERT_LIBRARIES",
        "PATH",
        "HOME",
        "IFS",
        "BASH_ENV",
        "ENV",
        "PS4",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "PERL5OPT",
        "NODE_OPTIONS",
        "SHELLOPTS",
    ],
)
def test_an_env_name_the_loader_or_a_shell_acts_on_is_refused(executed, metrika, path, name):
    result = metrika("exec", "--env", name, "--", "tool", env={"METRIKA_TOKEN": TOKEN})
    assert result.code == 2 and f"--env {name} is refused" in result.stderr, result.output
    assert executed == [] and TOKEN not in result.output


def test_ld_preload_cannot_make_the_loader_print_the_token():
    result = run_metrika("exec", "--env", "LD_PRELOAD", "--", "true", env={"METRIKA_TOKEN": TOKEN})
    assert result.code == 2 and not any(piece in result.output for piece in PIECES)


def test_an_empty_command_is_a_usage_error(executed, metrika, path):
    result = metrika("exec", "--", "", env={"METRIKA_TOKEN": TOKEN})
    assert result.code == 2 and "No command to run" in result.stderr and "Unexpected" not in result.output
    assert executed == []


def test_an_empty_command_in_a_real_process_is_a_usage_error():
    result = run_metrika("exec", "--", "", env={"METRIKA_TOKEN": TOKEN})
    assert result.code == 2 and "No command to run" in result.stderr and "Unexpected" not in result.output
