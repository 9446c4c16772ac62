"""`metrika api` parsed by main.py's lean path, without Typer, click or Rich: it takes only calls
it reads exactly as the Typer app would, says the same as the app for them, and a plain run (a
download into a file above all) leaves those packages unimported."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest
from conftest import TOKEN, parsed_by_the_app

import metrika_cli.main as entry
from metrika_cli.main import lean_api_args

HEAVY = ("typer", "click", "rich", "httpx._main", "pygments")
PART = "/management/v1/counter/101/logrequest/7/part/0/download"


def click_reads(args: list[str]) -> tuple[str | None, dict] | None:
    """(the global --profile, `api`'s parameters) as the app reads `args`; None for an error or another command."""
    read = parsed_by_the_app(args)
    if read is None or read[0] != "api":
        return None
    _name, options, params = read
    for key in ("fields", "form"):  # click's empty tuple is the Typer function's None
        params[key] = list(params[key]) if params[key] else None
    return options.get("profile"), params


WORDS = [
    "api",
    "/p",
    "--profile",
    "--profile=w",
    "w",
    "--output",
    "-o",
    "--output=",
    "--output=-",
    "-",
    "-o=x",
    "-ox",
    "--field",
    "-f",
    "a=1",
    "--include",
    "-i",
    "--include=1",
    "--paginate",
    "-X",
    "--method=post",
    "--ulogin",
    "--input",
    "--",
    "-h",
    "--json",
]


def test_the_lean_path_reads_every_call_it_takes_as_the_app_would():
    taken = 0
    for size in range(1, 5):
        for args in map(list, itertools.product(WORDS, repeat=size)):
            lean = lean_api_args(args)
            if lean is not None:
                assert click_reads(args) == lean, args
                taken += 1
    assert taken > 1000


@pytest.mark.parametrize(
    "args",
    [
        ["api", PART, "--output", "part.tsv"],
        ["--profile", "w", "api", "-o", "-", PART, "-i", "--profile=x"],
        ["api", "\udcff", "-f", "\udcff=1", "-f", "b=", "--output", ""],
        ["api", "/stat/v1/data", "--paginate", "-f", "ids=1", "--field=limit=5", "-X", "get", "--ulogin", "é"],
    ],
)
def test_odd_words_are_read_as_the_app_reads_them(args):
    assert lean_api_args(args) is not None and lean_api_args(args) == click_reads(args)


@pytest.mark.parametrize(
    "args",
    [
        ["api"],
        ["api", "--help"],
        ["api", PART, "-h"],
        ["api", PART, "--output"],
        ["api", PART, "--output", "--include"],  # click takes `--include` as the file: the app says what it means
        ["api", PART, "-ofile"],
        ["api", PART, "-o=file"],
        ["api", PART, PART],
        ["api", "--", PART],
        ["api", PART, "--input", "body.json"],
        ["api", PART, "-F", "a=1"],
        ["api", PART, "--bogus"],
        ["api", PART, "--include=1"],
        ["api", ""],
        ["--json", "api", PART],
        ["whoami"],
        [],
    ],
)
def test_anything_else_goes_to_the_app(args):
    assert lean_api_args(args) is None


CALLS = [
    ("api", PART, "--output", "{folder}/part.tsv"),
    ("api", PART, "-o", "-"),
    ("api", PART, "--output", "{folder}/no/such/folder/part.tsv"),
    ("api", "/management/v1/counters", "-i"),
    ("api", "/management/v1/counters", "--paginate", "-f", "per_page=1"),
    ("api", "/management/v1/counters", "-X", "PATCH"),
    ("api", "/management/v1/counter/999", "--profile", "a b"),
    ("--profile", "nobody", "api", "/management/v1/counters"),
    ("api", "https://elsewhere.example/management/v1/counters"),
    ("api", "/management/v1/counter/404404"),
    ("api", "/management/v1/counters", "-f", f"token={TOKEN}"),
]


@pytest.mark.parametrize("args", CALLS)
def test_the_lean_path_says_what_the_app_says(fake, metrika, monkeypatch, tmp_path, args):
    args = tuple(arg.format(folder=tmp_path) for arg in args)
    env = {"METRIKA_TOKEN": TOKEN}
    lean = metrika(*args, env=env)
    written = [(path.name, path.read_bytes()) for path in sorted(tmp_path.iterdir()) if path.is_file()]
    monkeypatch.setattr(entry, "lean_api_args", lambda args: None)
    through_app = metrika(*args, env=env)
    assert (lean.code, lean.stdout, lean.stderr) == (through_app.code, through_app.stdout, through_app.stderr)
    assert [(path.name, path.read_bytes()) for path in sorted(tmp_path.iterdir()) if path.is_file()] == written
    assert TOKEN not in lean.output


def test_a_plain_download_imports_neither_typer_click_nor_rich(fake, tmp_path):
    """Started as scripts start it (no terminal): Typer, click and Rich stay unimported, httpx's
    own command line too. A later change that brings one back fails here."""
    target = tmp_path / "part.tsv"
    probe = (
        "import sys\n"
        "from metrika_cli.main import main\n"
        f"code = main(['api', {PART!r}, '--output', {str(target)!r}])\n"
        f"print(code, sorted(m for m in {HEAVY!r} if sys.modules.get(m)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "METRIKA_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[-1] == "0 []", completed.stdout + completed.stderr
    assert target.stat().st_size == fake.log_part_size
