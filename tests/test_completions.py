"""completions/: the committed scripts are what the app generates, and they complete in a real bash."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TOKEN, call_metrika
from real_shells import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("generate_completions", ROOT / "scripts" / "generate_completions.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _generator()
# The scripts as the app generates them, generated once for the tests that read them.
generated_once = functools.cache(generator.generate)


def test_committed_scripts_equal_what_the_app_generates_now() -> None:
    generated = generated_once()
    assert sorted(generated) == ["_metrika", "metrika.bash", "metrika.fish", "metrika.ps1"]
    for name, text in generated.items():
        committed = (ROOT / "completions" / name).read_text()
        assert committed == text, f"completions/{name} is stale: run python scripts/generate_completions.py"


def test_generating_twice_gives_the_same_bytes() -> None:
    assert generator.generate() == generated_once()  # two runs of `metrika completion` per shell


def test_each_script_hooks_the_metrika_command_for_its_shell() -> None:
    scripts = generated_once()
    assert scripts["_metrika"].startswith("#compdef metrika\n")
    assert "complete -o default -F _metrika_completion metrika" in scripts["metrika.bash"]
    assert "complete --command metrika" in scripts["metrika.fish"]
    assert "Register-ArgumentCompleter -Native -CommandName metrika" in scripts["metrika.ps1"]
    for name, text in scripts.items():
        assert "_METRIKA_COMPLETE" in text and "complete_" in text, name


def bash_complete(*words: str) -> list[str]:
    """COMPREPLY from completions/metrika.bash for `metrika WORDS`, the last word being completed."""
    assert shutil.which("bash"), "bash is needed for this test"
    script = (
        f"source {ROOT / 'completions' / 'metrika.bash'}\n"
        'COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n'
        "_metrika_completion metrika\n"
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    completed = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script, "bash", "metrika", *words],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return [line for line in completed.stdout.splitlines() if line]


def test_bash_completes_che_to_check_access() -> None:
    assert bash_complete("che") == ["check-access"]


def test_bash_completes_login_with_to_with_token() -> None:
    assert bash_complete("login", "--with") == ["--with-token"]


def test_bash_offers_every_command_but_never_the_hidden_check_alias() -> None:
    offered = bash_complete("")
    assert sorted(offered) == COMMANDS


def test_bash_offers_the_json_option_of_check_access() -> None:
    assert "--json" in bash_complete("check-access", "--")


@pytest.mark.parametrize(
    "shell, extra",
    [
        ("fish", {"_TYPER_COMPLETE_FISH_ACTION": "get-args", "_TYPER_COMPLETE_ARGS": "metrika ch"}),
        ("zsh", {"_TYPER_COMPLETE_ARGS": "metrika ch"}),
        ("powershell", {"_TYPER_COMPLETE_ARGS": "metrika ch", "_TYPER_COMPLETE_WORD_TO_COMPLETE": "ch"}),
    ],
)
def test_zsh_fish_and_powershell_answers_offer_check_access_not_check(
    metrika, shell: str, extra: dict[str, str]
) -> None:
    """The answers of the completion protocol, in-process (the real shells ask a real metrika in
    test_completion_shells.py)."""
    completed = metrika(env={"_METRIKA_COMPLETE": f"complete_{shell}", **extra})
    assert completed.code == 0, completed.stderr
    assert "check-access" in completed.stdout
    candidates = completed.stdout.replace('"', "\n").replace("\t", "\n").replace(":::", "\n").split("\n")
    assert "check" not in candidates


@pytest.mark.parametrize("shell, name", sorted(generator.FILES.items()))
def test_the_completion_command_prints_the_committed_script(metrika, shell: str, name: str) -> None:
    result = metrika("completion", shell)
    assert result.code == 0 and result.stderr == ""
    assert result.stdout == (ROOT / "completions" / name).read_text()


def test_an_unknown_shell_is_a_usage_error(metrika) -> None:
    result = metrika("completion", "tcsh")
    assert result.code == 2 and "tcsh" in result.stderr and result.stdout == ""


def test_need_completes_to_read_and_write() -> None:
    assert bash_complete("check-access", "--need", "") == ["read", "write"]


def powershell_answer(line: str, word: str) -> list[str]:
    """The candidates metrika gives PowerShell's completer (no PowerShell on Debian: the protocol),
    in-process."""
    env = {
        "_METRIKA_COMPLETE": "complete_powershell",
        "_TYPER_COMPLETE_ARGS": line,
        "_TYPER_COMPLETE_WORD_TO_COMPLETE": word,
    }
    completed = call_metrika(env=env)
    assert completed.code == 0 and completed.stderr == "", completed.stderr
    return [row.split(":::")[0] for row in completed.stdout.splitlines() if row]


def test_powershell_gets_profile_names_and_read_or_write(fake, metrika) -> None:
    for name in ("wolf", "work"):
        assert metrika("login", "--with-token", "--insecure-storage", "--profile", name, input=TOKEN).code == 0
    assert powershell_answer("metrika switch w", "w") == ["wolf", "work"]
    assert powershell_answer("metrika whoami --profile", "") == ["wolf", "work"]
    assert powershell_answer("metrika whoami --profile=wo", "--profile=wo") == ["--profile=wolf", "--profile=work"]
    assert powershell_answer("metrika check-access --need", "") == ["read", "write"]


def test_login_flow_completes_its_three_flows() -> None:
    assert sorted(bash_complete("login", "--flow", "")) == ["code", "device", "token"]
    assert bash_complete("login", "--flow", "d") == ["device"]


def test_the_powershell_script_registers_a_completer_and_leaves_tab_alone() -> None:
    """Typer's script rebinds Tab for the whole session (MenuComplete): not a completion script's business."""
    for text in (generated_once()["metrika.ps1"], (ROOT / "completions" / "metrika.ps1").read_text()):
        assert "Register-ArgumentCompleter -Native -CommandName metrika" in text
        assert "Set-PSReadLineKeyHandler" not in text and "Import-Module PSReadLine" not in text
