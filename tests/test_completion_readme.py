"""README.md's "Shell completion" lines, run as written in a home of the test's own: each
shell then completes metrika with no other setup (bash through the bash-completion package's
loader, zsh from $fpath, fish from its completions folder)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import TOKEN
from real_shells import BASH_COMPLETION, bash_tab, fish_tab, need, need_bash_completion, shell_env, zsh_tab

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def home(fake, metrika, tmp_path: Path) -> Path:
    """A user's home, and a profile `wolf` stored by `metrika login`."""
    result = metrika("login", "--with-token", "--insecure-storage", "--profile", "wolf", input=TOKEN)
    assert result.code == 0, result.stderr
    return tmp_path / "home"


def readme_block(language: str, containing: str) -> str:
    """The one fenced `language` block of the section that holds `containing`."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Shell completion\n", 1)[1].split("\n## ", 1)[0]
    blocks = [text for lang, text in re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S) if lang == language]
    chosen = [text for text in blocks if containing in text]
    assert len(chosen) == 1, f"README's Shell completion section: one {language} block with {containing!r}"
    return chosen[0]


def run_as_written(shell: str, lines: str, env: dict[str, str]) -> None:
    completed = subprocess.run(
        [need(shell), "-c", lines], capture_output=True, text=True, env=env, cwd=env["HOME"], timeout=60
    )
    assert completed.returncode == 0 and completed.stderr == "", completed.stderr


def test_bash_from_the_bash_completion_folder(home: Path) -> None:
    need_bash_completion()
    env = shell_env(home)
    run_as_written("bash", readme_block("bash", "metrika completion bash >"), env)
    assert (home / ".local/share/bash-completion/completions/metrika").is_file()
    (home / ".bashrc").write_text(f". {BASH_COMPLETION}\n")  # as Debian's /etc/skel/.bashrc does
    assert bash_tab("metrika wh\t", env) == "metrika whoami "
    assert bash_tab("metrika switch wo\t", env) == "metrika switch wolf "


def test_bash_with_the_source_line_in_bashrc(home: Path) -> None:
    env = shell_env(home)
    (home / ".bashrc").write_text(readme_block("bash", "source <("))
    assert bash_tab("metrika wh\t", env) == "metrika whoami "
    assert bash_tab("metrika --profile wo\t", env) == "metrika --profile wolf "


def test_zsh_from_fpath_with_compinit_in_zshrc(home: Path) -> None:
    env = shell_env(home)
    run_as_written("zsh", readme_block("zsh", "metrika completion zsh >"), env)
    (home / ".zshrc").write_text(readme_block("zsh", "compinit"))
    assert zsh_tab("metrika wh", env, ":", rc=True) == ("metrika whoami ", ["whoami"])
    # the second Tab in the same zsh: the script once registered itself there and offered nothing
    assert zsh_tab("metrika switch wo", env, ":", rc=True) == ("metrika switch wolf ", ["wolf"])


def test_fish_from_its_completions_folder(home: Path) -> None:
    env = shell_env(home)
    run_as_written("fish", readme_block("fish", "metrika completion fish >"), env)
    assert (home / ".config/fish/completions/metrika.fish").is_file()
    assert fish_tab("metrika wh", env) == ["whoami"]
    assert fish_tab("metrika --profile ", env) == ["wolf"]
