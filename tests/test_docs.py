"""docs/: the reference is generated from the app and current, every exit code and diagnosis is
on the pages with its real number, the troubleshooting page gives the fixes the diagnosis gives,
every link lands, and nothing in the repository points at a file outside it."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from metrika_cli import advice
from metrika_cli.app import click_command
from metrika_cli.errors import Diagnosis, ExitCode
from metrika_cli.launch import NOT_EXECUTABLE, NOT_FOUND
from metrika_cli.output import CLOSED_OUTPUT

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = ("commands.md", "json.md", "exit-codes.md", "troubleshooting.md")


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def table_rows(text: str, heading: str) -> list[list[str]]:
    """The cells of the first table under `heading`, header and rule left out."""
    lines = text.split(heading, 1)[1].splitlines()
    start = next(number for number, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return rows[2:]  # after the header and the rule under it


# ---- the generated files ---------------------------------------------------------------


def test_the_generated_docs_are_current_whatever_the_locale_and_the_terminal_width():
    env = {**os.environ, "METRIKA_LANG": "ru", "LANG": "ru_RU.UTF-8", "LC_ALL": "ru_RU.UTF-8", "COLUMNS": "40"}
    checked = subprocess.run(
        [sys.executable, "scripts/generate_docs.py", "--check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stderr + "\nrun: python scripts/generate_docs.py"


def sections(text: str) -> dict[str, str]:
    """`## metrika NAME` heading -> the text under it."""
    parts = re.split(r"^## (metrika[\w -]*)$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_reference_has_every_command_alias_argument_and_option_of_the_app():
    group = click_command()
    assert isinstance(group, click.Group)
    found = sections(page("commands.md"))
    visible = [name for name, command in group.commands.items() if not command.hidden]
    assert list(found) == ["metrika", *(f"metrika {name}" for name in visible)]
    assert "Alias: `metrika check`." in found["metrika check-access"]
    for name in visible:
        command, text = group.commands[name], found[f"metrika {name}"]
        assert (command.help or "").split(".")[0] in text
        for param in command.params:
            names = param.opts if isinstance(param, click.Option) else [param.metavar or param.name or ""]
            for option in names:
                assert f"`{option}`" in text or f"`{option.replace('|', chr(92) + '|')}`" in text, (name, option)
    for option in ("--version", "--profile", "-h", "--help"):
        assert f"`{option}`" in found["metrika"]


def test_the_reference_shows_defaults_metavars_and_environment_variables():
    found = sections(page("commands.md"))
    assert "| `--need` | `read\\|write` | `read` | — |" in found["metrika check-access"]
    assert "| `--method`, `-X` | `METHOD` | — |" in found["metrika api"]
    assert "| `--client-id` | `ID` | — | `METRIKA_CLIENT_ID` |" in found["metrika login"]
    assert "`SHELL` (one of `bash`, `zsh`, `fish`, `powershell`) | yes |" in found["metrika completion"]
    assert "`DAYS` (integer ≥ 0)" in found["metrika status"]


# ---- exit codes ------------------------------------------------------------------------


def test_the_diagnoses_table_lists_every_diagnosis_with_its_real_exit_code():
    rows = table_rows(page("exit-codes.md"), "## Diagnoses")
    listed = {row[0].strip("`"): int(row[1]) for row in rows}
    assert listed == {str(d): int(d.exit_code) for d in Diagnosis}
    assert len(rows) == len(Diagnosis)


def test_the_exit_codes_table_lists_every_exit_code_and_the_diagnoses_that_end_in_it():
    rows = table_rows(page("exit-codes.md"), "## Exit codes")
    listed = {int(row[0]): set(re.findall(r"`(\w+)`", row[2])) for row in rows}
    assert sorted(listed) == sorted({*map(int, ExitCode), NOT_EXECUTABLE, NOT_FOUND, CLOSED_OUTPUT})
    assert (NOT_EXECUTABLE, NOT_FOUND, CLOSED_OUTPUT) == (126, 127, 141)
    for code, diagnoses in listed.items():
        assert diagnoses == {str(d) for d in Diagnosis if d.exit_code == code}, code


# ---- troubleshooting -------------------------------------------------------------------

NOT_A_TOKEN_PROBLEM = {Diagnosis.OK, Diagnosis.BAD_INPUT, Diagnosis.STORE_UNAVAILABLE}
NOT_A_TOKEN_PROBLEM |= {Diagnosis.INTERNAL_ERROR, Diagnosis.INTERRUPTED}


def test_every_diagnosis_is_on_the_troubleshooting_page():
    text = page("troubleshooting.md")
    missing = [str(d) for d in Diagnosis if f"`{d}`" not in text]
    assert missing == []
    headings = set(re.findall(r"^### `(\w+)`$", text, flags=re.MULTILINE))
    assert headings == {str(d) for d in Diagnosis} - {str(d) for d in NOT_A_TOKEN_PROBLEM}


def test_the_troubleshooting_page_maps_each_of_yandexs_causes():
    causes = table_rows(page("troubleshooting.md"), "## Yandex's list of causes")
    assert len(causes) == 7  # six causes of 403, and the one of 401
    named = {code for row in causes for code in re.findall(r"\[`(\w+)`\]", row[1])}
    assert named == {
        "scope_missing",
        "token_invalid",
        "token_expiring",
        "wrong_account",
        "wrong_app",
        "no_counter_access",
        "insufficient_permission",
        "header_rejected",
        "token_malformed",
        "no_token",
    }


def commands_in_fixes() -> set[str]:
    """The `metrika …` commands advice.py's fixes tell people to run, placeholders as {name}."""
    tree = ast.parse(Path(advice.__file__).read_text(encoding="utf-8"))
    strings = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    return {command for text in strings for command in re.findall(r"`(metrika [^`]*)`", text)}


def test_the_troubleshooting_page_gives_the_commands_the_diagnosis_gives():
    text = page("troubleshooting.md")
    commands = commands_in_fixes()
    assert len(commands) >= 4
    for command in commands:
        pattern = re.escape(command)
        pattern = re.sub(r"\\\{\w+\\\}", "[A-Za-z<>_-]+", pattern)
        assert re.search(pattern, text), command
    assert "metrika login --profile NAME" in text  # the renewal command of token_expiring and expiry


# ---- links -----------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    return {slug(heading) for heading in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}


def links(path: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("name", ["README.md", *(f"docs/{name}" for name in ("README.md", *PAGES))])
def test_every_link_lands_on_a_file_and_a_heading_that_exist(name):
    source = ROOT / name
    for link in links(source):
        if re.match(r"[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        path = (source.parent / target).resolve() if target else source
        assert path.exists(), f"{name}: {link}"
        if anchor:
            assert anchor in anchors(path), f"{name}: {link}"


def test_the_readme_lists_the_four_pages_in_its_documentation_section():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Documentation\n", 1)[1].split("\n## ", 1)[0]
    for name in PAGES:
        assert f"(docs/{name})" in section
    assert readme.index("## Documentation") < readme.index("## Commands")


# ---- nothing outside the repository ----------------------------------------------------

# Written so that this file does not match them itself.
OUTSIDE = [r"\bS[P]EC\b", r"\bSPEC\.md", r"yandex-api\.md", r"\bSTYLE\.md", r"\.\./shared\b", r"/wor[k]/"]


def tracked_text_files() -> list[Path]:
    if not shutil.which("git") or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    return [ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def test_nothing_in_the_repository_refers_to_files_outside_it():
    found = []
    files = tracked_text_files()
    assert any(path.name == "README.md" for path in files)
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # a compiled catalog
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if any(re.search(pattern, line) for pattern in OUTSIDE):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_the_outside_patterns_catch_what_they_are_for():
    spelled = ["see SP@EC's table", "in SP@EC.md", "yandex-api@.md §4", "STY@LE.md", "..@/shar@ed/x", "/wo@rk/shared"]
    samples = [sample.replace("@", "") for sample in spelled]  # spelled apart: this file must not match
    for sample in samples:
        assert any(re.search(pattern, sample) for pattern in OUTSIDE), sample
    assert not any(re.search(pattern, "spec = importlib.util.spec_from_file_location") for pattern in OUTSIDE)
