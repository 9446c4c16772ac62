"""Tab in real zsh, fish and bash with the script `metrika completion SHELL` prints: commands
(never the hidden `check`), options, `read|write` after --need, profile names after --profile
(before and after the command, also `--profile=NAME`) and after `switch`."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import TOKEN
from keyring_backends import backend_env
from real_shells import COMMANDS, bash_tab, fish_tab, shell_env, zsh_tab

ROOT = Path(__file__).resolve().parent.parent
COMPLETIONS = ROOT / "completions"  # what `metrika completion SHELL` prints (test_completions.py)
PROFILES = ["default", "wolf", "work"]
# (what is typed before Tab, what the shell must offer)
CASES = [
    ("metrika wh", ["whoami"]),
    ("metrika ", COMMANDS),
    ("metrika check-access --ne", ["--need"]),
    ("metrika check-access --need ", ["read", "write"]),
    ("metrika --profile ", PROFILES),
    ("metrika whoami --profile ", PROFILES),
    ("metrika switch ", PROFILES),
    ("metrika logout --profile w", ["wolf", "work"]),
    ("metrika status --profile ", PROFILES),
    ("metrika whoami --profile=w", ["--profile=wolf", "--profile=work"]),
]
ZSH_SOURCED = f"autoload -Uz compinit && compinit -u -D && source {COMPLETIONS / '_metrika'}"
FISH_SOURCED = f"source {COMPLETIONS / 'metrika.fish'}"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def profiles(fake, metrika, isolated: Path) -> Path:
    """Three profiles, stored by `metrika login` itself."""
    for name in PROFILES:
        result = metrika("login", "--with-token", "--insecure-storage", "--profile", name, input=TOKEN)
        assert result.code == 0, result.stderr
    assert metrika("switch").stdout.split() == ["*", "default", "vasya", "wolf", "vasya", "work", "vasya"]
    return isolated


@pytest.mark.parametrize("line, offered", CASES)
def test_zsh_offers(profiles, home: Path, line: str, offered: list[str]) -> None:
    assert zsh_tab(line, shell_env(home), ZSH_SOURCED)[1] == offered


@pytest.mark.parametrize("line, offered", CASES)
def test_fish_offers(profiles, home: Path, line: str, offered: list[str]) -> None:
    assert fish_tab(line, shell_env(home), FISH_SOURCED) == offered


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_the_hidden_check_alias_is_never_offered(profiles, home: Path, shell: str) -> None:
    env = shell_env(home)
    offered = (
        zsh_tab("metrika ch", env, ZSH_SOURCED)[1] if shell == "zsh" else fish_tab("metrika ch", env, FISH_SOURCED)
    )
    assert offered == ["check-access"]


def test_zsh_completes_the_word_on_the_line(profiles, home: Path) -> None:
    env = shell_env(home)
    assert zsh_tab("metrika wh", env, ZSH_SOURCED)[0] == "metrika whoami "
    assert zsh_tab("metrika check-access --need w", env, ZSH_SOURCED)[0] == "metrika check-access --need write "
    assert zsh_tab("metrika switch wol", env, ZSH_SOURCED)[0] == "metrika switch wolf "
    assert zsh_tab("metrika --profile=wol", env, ZSH_SOURCED)[0] == "metrika --profile=wolf "


def test_bash_completes_the_word_on_the_line(profiles, home: Path) -> None:
    env = shell_env(home)
    (home / ".bashrc").write_text(f"source {COMPLETIONS / 'metrika.bash'}\n")
    assert bash_tab("metrika che\t", env) == "metrika check-access "
    assert bash_tab("metrika check-access --need r\t", env) == "metrika check-access --need read "
    assert bash_tab("metrika whoami --profile wol\t", env) == "metrika whoami --profile wolf "
    assert bash_tab("metrika --profile=wol\t", env) == "metrika --profile=wolf "


def test_profile_names_come_without_the_keyring(profiles, home: Path) -> None:
    """A keyring that never answers (each call would wait out its 5 s limit) changes nothing."""
    env = {**shell_env(home), **backend_env("HangingKeyring")}
    env["PYTHONPATH"] += os.pathsep + str(ROOT)
    started = time.monotonic()
    assert fish_tab("metrika switch ", env, FISH_SOURCED) == PROFILES
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_a_corrupt_config_offers_no_profile_and_prints_nothing(isolated: Path, home: Path, shell: str) -> None:
    isolated.mkdir(mode=0o700, parents=True)
    (isolated / "config.toml").write_text("[profiles\n")
    (isolated / "config.toml").chmod(0o600)
    env = shell_env(home)
    if shell == "zsh":
        assert zsh_tab("metrika switch ", env, ZSH_SOURCED)[1] == []
    else:
        assert fish_tab("metrika switch ", env, FISH_SOURCED) == []  # and nothing on stderr


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_where_metrika_offers_nothing_the_shell_offers_files(isolated: Path, home: Path, shell: str) -> None:
    env = shell_env(home)
    (home / "body.json").write_text("{}")
    line = "metrika api /management/v1/counters --input b"
    if shell == "zsh":
        assert zsh_tab(line, env, ZSH_SOURCED)[0] == line.replace(" b", " body.json ")
    else:
        assert fish_tab(line, env, FISH_SOURCED) == ["body.json"]


# ---- `exec -- <Tab>`: a command from PATH, then its files ----------------------------------

TOOL = "metrika-test-tool-xyz"


@pytest.fixture
def tool_env(isolated: Path, home: Path) -> dict[str, str]:
    """A shell environment with a program of a unique name on PATH."""
    env = shell_env(home)
    tools = home.parent / "tools"
    tools.mkdir()
    (tools / TOOL).write_text("#!/bin/sh\n")
    (tools / TOOL).chmod(0o755)
    (tools / f"{TOOL}-not-executable").write_text("")
    env["PATH"] = f"{env['PATH']}{os.pathsep}{tools}"
    return env


def test_exec_completes_a_command_from_path_in_bash(tool_env: dict[str, str], home: Path) -> None:
    (home / ".bashrc").write_text(f"source {COMPLETIONS / 'metrika.bash'}\n")
    assert bash_tab("metrika exec -- metrika-test-to\t", tool_env) == f"metrika exec -- {TOOL} "
    assert bash_tab("metrika exec --env X metrika-test-to\t", tool_env) == f"metrika exec --env X {TOOL} "


def test_exec_completes_a_command_from_path_in_zsh(tool_env: dict[str, str]) -> None:
    assert zsh_tab("metrika exec -- metrika-test-to", tool_env, ZSH_SOURCED)[0] == f"metrika exec -- {TOOL} "


def test_exec_completes_a_command_from_path_in_fish(tool_env: dict[str, str]) -> None:
    assert fish_tab("metrika exec -- metrika-test-to", tool_env, FISH_SOURCED) == [TOOL]


def test_after_the_command_s_name_exec_completes_files(tool_env: dict[str, str], home: Path) -> None:
    (home / "report.py").write_text("")
    line = f"metrika exec -- {TOOL} rep"
    assert zsh_tab(line, tool_env, ZSH_SOURCED)[0] == f"metrika exec -- {TOOL} report.py "
    assert fish_tab(line, tool_env, FISH_SOURCED) == ["report.py"]


# ---- help strings reach zsh whole ------------------------------------------------------------

ZSH_SHOW_SPEC = """_arguments() { print -rl -- "$@" }
eval $(env _TYPER_COMPLETE_ARGS="metrika ${METRIKA_TEST_WORDS}" _METRIKA_COMPLETE=complete_zsh metrika)"""


@pytest.mark.parametrize(
    "words, kept",
    [("", '"logout":"Forget the stored token and the profile\'s'), ("login --", "Your app's ClientID")],
)
def test_zsh_keeps_apostrophes_in_help_strings(isolated: Path, home: Path, words: str, kept: str) -> None:
    import subprocess

    from real_shells import need

    env = {**shell_env(home), "METRIKA_TEST_WORDS": words}
    completed = subprocess.run(
        [need("zsh"), "-f", "-c", ZSH_SHOW_SPEC], capture_output=True, text=True, env=env, timeout=60
    )
    assert completed.returncode == 0 and completed.stderr == "", completed.stderr
    assert kept in completed.stdout
