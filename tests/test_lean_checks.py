"""`metrika check-access` (`check`) and `metrika whoami` parsed by main.py's lean path, without
Typer, click or Rich: it takes only calls it reads exactly as the Typer app would, says the same
as the app for them, and a plain run leaves those packages unimported."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest
from conftest import CLIENT_ID, TOKEN, parsed_by_the_app

import metrika_cli.main as entry
from metrika_cli.main import lean_check_args

HEAVY = ("typer", "click", "rich", "httpx._main", "pygments")


def click_reads(args: list[str]) -> tuple[str, str | None, dict] | None:
    """(command, the global --profile, the command's parameters) as the app reads `args`; None for an error."""
    read = parsed_by_the_app(args)
    if read is None:
        return None
    name, options, params = read
    if "counter_ids" in params:
        params["counter_ids"] = list(params["counter_ids"] or [])
    return ("whoami" if name == "whoami" else "check-access"), options.get("profile"), params


WORDS = [
    "check-access",
    "check",
    "whoami",
    "--profile",
    "--profile=",
    "--profile=p",
    "p",
    "--json",
    "--json=1",
    "--need",
    "--need=write",
    "--login=-x",
    "--login",
    "--expiring-within",
    "--expiring-within=07",
    "3",
    "-3",
    "+3",
    "--",
    "-h",
    "--help",
    "--version",
    "101,202",
]


def test_the_lean_path_reads_every_call_it_takes_as_the_app_would():
    taken = 0
    for size in range(1, 5):
        for args in map(list, itertools.product(WORDS, repeat=size)):
            lean = lean_check_args(args)
            if lean is not None:
                assert click_reads(args) == lean, args
                taken += 1
    assert taken > 2000


@pytest.mark.parametrize(
    "args",
    [
        ["check-access", "\udcff"],  # a byte that is not UTF-8, as Python hands it over
        ["check-access", "--login", "\udcff", "--need=a=b"],
        ["--profile", "é", "whoami", "--profile="],
        ["check-access", "", "--expiring-within", "99999999999999999999999"],
        ["check", "--", "--json", "-h", "--need"],
    ],
)
def test_odd_words_are_read_as_the_app_reads_them(args):
    assert lean_check_args(args) is not None and lean_check_args(args) == click_reads(args)


@pytest.mark.parametrize(
    "args",
    [
        ["check-access", "--help"],
        ["check", "-h"],
        ["whoami", "--bogus"],
        ["check-access", "--need"],
        ["check-access", "--login", "--json"],  # click takes `--json` as the login: the app says what it means
        ["check-access", "--expiring-within", "٣"],  # a digit to Python's int(), not plain ASCII
        ["check-access", "--expiring-within", " 3"],
        ["whoami", "101"],
        ["whoami", "--"],
        ["--json", "check-access"],
        ["--profile", "check-access"],
        ["--version"],
        ["status"],
        [],
    ],
)
def test_anything_else_goes_to_the_app(args):
    assert lean_check_args(args) is None


@pytest.fixture(params=["lean", "app"])
def both(request, monkeypatch):
    """Each call runs through the lean path and through the Typer app."""
    if request.param == "app":
        monkeypatch.setattr(entry, "lean_check_args", lambda args: None)
    return request.param


CALLS = [
    ("check-access",),
    ("check", "101", "--need", "write"),
    ("--profile", "work", "check-access", "--json", "--", "202,303"),
    ("check-access", "--need=admin"),
    ("check-access", "--login", TOKEN),
    ("check-access", "0"),
    ("check-access", "--login", "petya", "--json"),
    ("check-access", "--profile", "a b"),
    ("check-access", "--expiring-within", "400", "--json"),
    ("whoami",),
    ("whoami", "--json", "--expiring-within=400"),
    ("--profile=a b", "whoami", "--json"),
    ("check-access", "--expiring-within", "99999999999999999999999"),
    ("check-access", "\udcff", "--json"),
]


@pytest.mark.parametrize("args", CALLS)
def test_the_lean_path_says_what_the_app_says(fake, metrika, monkeypatch, args):
    env = {"METRIKA_TOKEN": TOKEN, "METRIKA_CLIENT_ID": CLIENT_ID}
    lean = metrika(*args, env=env)
    monkeypatch.setattr(entry, "lean_check_args", lambda args: None)
    through_app = metrika(*args, env=env)
    assert (lean.code, lean.stdout, lean.stderr) == (through_app.code, through_app.stdout, through_app.stderr)
    assert TOKEN not in lean.output


@pytest.mark.parametrize("args", [["check-access", "101"], ["whoami", "--json"], ["check", "--json", "5"]])
def test_a_plain_run_imports_neither_typer_click_nor_rich(fake, args):
    """Started as scripts start it (no terminal): Typer, click and Rich stay unimported, httpx's
    own command line (which imports Rich, click and Pygments) too. A later change that brings
    one back fails here."""
    probe = (
        "import sys\n"
        "from metrika_cli.main import main\n"
        f"code = main({args!r})\n"
        f"print(code, sorted(m for m in {HEAVY!r} if sys.modules.get(m)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "METRIKA_TOKEN": TOKEN, "METRIKA_CLIENT_ID": CLIENT_ID},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    last = completed.stdout.splitlines()[-1]
    assert last.split(" ", 1)[1] == "[]", completed.stdout + completed.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("whoami",), ("default", False)),
        (("--profile", "work", "whoami", "--json"), ("work", True)),
        (("--profile", "work", "check-access", "--profile", "b", "101"), ("b", False)),
        (("check", "--json"), ("env-chosen", True)),
    ],
)
def test_the_command_gets_the_profile_and_json_resolved_by_either_path(both, metrika, monkeypatch, args, expected):
    """The lean path and the app resolve --profile (with METRIKA_PROFILE and the rest) and --json
    once, before the command: it finds them on the Env (tests/test_structure.py: and resolves
    nothing itself)."""
    from metrika_cli.commands import check_access, whoami

    seen = []

    def command(env, name, *rest, **options):
        seen.append((name, env.profile, env.as_json))
        return 0

    monkeypatch.setattr(whoami, "run", command)
    monkeypatch.setattr(check_access, "run", command)
    env = {"METRIKA_PROFILE": "env-chosen"} if expected[0] == "env-chosen" else {}
    assert metrika(*args, env=env).code == 0
    name, as_json = expected
    assert seen == [(name, name, as_json)]


@pytest.mark.parametrize(
    "args, environ",
    [
        (["switch"], {}),
        (["logout", "--help"], {}),
        ([], {"_METRIKA_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "metrika sw"}),
    ],
    ids=["switch", "help", "tab"],
)
def test_commands_that_ask_no_server_import_no_http_client(tmp_path, args, environ):
    """The app is built for every Tab, `switch` and `--help`: building it imports no httpx (login's
    flows, and with them httpx, are imported when a login runs), so those stay quick."""
    probe = (
        "import sys\n"
        "from metrika_cli.main import main\n"
        f"code = main({args!r})\n"
        "print(code, sorted(m for m in ('httpx', 'httpcore', 'metrika_cli.api') if m in sys.modules))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "METRIKA_CONFIG_DIR": str(tmp_path), **environ},
        capture_output=True,
        text=True,
        timeout=60,
    )
    last = completed.stdout.splitlines()[-1]
    assert last.split(" ", 1)[1] == "[]", completed.stdout + completed.stderr
    if not args:  # the Tab did complete
        assert "switch" in completed.stdout, completed.stdout
