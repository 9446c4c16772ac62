"""Tab in real bash, zsh and fish, with the script `metrika completion SHELL` prints.

Each shell runs with a home of the test's own and finds `metrika` on PATH as a launcher for
this checkout (`python -m metrika_cli`), as an installed metrika would be found. A shell that
is missing fails the test, naming the Debian package: .ci/run installs them, so CI never skips.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"bash": "bash", "zsh": "zsh", "fish": "fish"}
BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")
# What Tab offers after `metrika `: every command, never the hidden alias `check`.
COMMANDS = [
    "api",
    "auth-url",
    "check-access",
    "completion",
    "exec",
    "login",
    "logout",
    "refresh",
    "status",
    "switch",
    "token",
    "whoami",
]
# zsh: a widget that completes the line, then writes what the completion system offered (every
# compadd also records its matches, after zsh's own matching) and the line it left; then it
# empties the line and says it is done. compadd calls that only ask (-O, -A, -D) pass through.
ZSH_CAPTURE = r"""
compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
    builtin compadd "$@"
    return
  fi
  local -a __matches
  builtin compadd -O __matches "$@"
  (( $#__matches )) && print -rl -- "${__matches[@]}" >> $METRIKA_TEST_OFFERED
  builtin compadd "$@"
}
_metrika_test_tab() {
  zle complete-word
  print -r -- "$BUFFER" >| $METRIKA_TEST_LINE
  BUFFER=
  zle -I
  print -r -- "TAB-DONE"
}
zle -N _metrika_test_tab
bindkey '^T' _metrika_test_tab
"""


def need(shell: str) -> str:
    """The shell's path; a clear failure (never a skip) when it is not installed."""
    path = shutil.which(shell)
    if path is None:
        pytest.fail(f"{shell} is not installed: `apt-get install {PACKAGES[shell]}` (.ci/run installs it)")
    return path


def need_bash_completion() -> None:
    if not BASH_COMPLETION.is_file():
        pytest.fail(f"{BASH_COMPLETION} is missing: `apt-get install bash-completion` (.ci/run installs it)")


def shell_env(home: Path) -> dict[str, str]:
    """The environment of a user whose home is `home`, with this checkout's metrika first on PATH."""
    launchers = home.parent / "launchers"
    launchers.mkdir(exist_ok=True)
    launcher = launchers / "metrika"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m metrika_cli "$@"\n')
    launcher.chmod(0o755)
    home.mkdir(parents=True, exist_ok=True)
    drop = ("XDG_", "BASH_COMPLETION", "ZDOTDIR", "_METRIKA", "_TYPER", "COMP_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(drop)}
    env.update(HOME=str(home), PATH=f"{launchers}{os.pathsep}{env.get('PATH', '')}", TERM="xterm")
    env.update(PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore")
    return env


def spawn(argv: list[str], env: dict[str, str], cwd: Path) -> pexpect.spawn:
    return pexpect.spawn(argv[0], argv[1:], env=env, cwd=str(cwd), encoding="utf-8", timeout=30, dimensions=(50, 200))


@dataclass
class _Zsh:
    """An interactive zsh that stays for the next Tab that starts it the same way (`zsh -f` and
    the same `setup`; or the same home's ~/.zshrc): compinit and the script are loaded once a
    worker, not once a Tab, and a second Tab is pressed in the zsh of the first, as people do.
    Each Tab still runs in the caller's environment, exported before it, and in its home."""

    key: tuple[bool, str, str]
    shell: pexpect.spawn
    env: dict[str, str]

    def switch_to(self, env: dict[str, str]) -> None:
        """Export what differs from the last Tab's environment, unset what is gone, cd to HOME."""
        lines = [f"export {name}={quote_sh(value)}" for name, value in env.items() if self.env.get(name) != value]
        lines += [f"unset {name}" for name in self.env if name not in env]
        self.shell.sendline("; ".join([*lines, "cd -- ~", "print READ''Y"]))
        self.shell.expect("READY")
        self.env = env


_zsh: list[_Zsh] = []  # the one kept, if any


def _zsh_for(key: tuple[bool, str, str], env: dict[str, str], home: Path) -> _Zsh:
    if _zsh and _zsh[0].key == key:
        _zsh[0].switch_to(env)
        return _zsh[0]
    _forget_zsh()
    rc, setup, _home = key
    (home / ".capture.zsh").write_text(ZSH_CAPTURE)
    shell = spawn([need("zsh"), "-i"] if rc else [need("zsh"), "-f", "-i"], env, home)
    _zsh.append(_Zsh(key, shell, env))
    shell.sendline(f"{setup}; source ~/.capture.zsh; print READ''Y")
    shell.expect("READY")
    return _zsh[0]


def _forget_zsh() -> None:
    while _zsh:
        _zsh.pop().shell.close(force=True)


atexit.register(_forget_zsh)


def zsh_tab(line: str, env: dict[str, str], setup: str, rc: bool = False) -> tuple[str, list[str]]:
    """(the line after Tab, the candidates offered) in an interactive zsh: its ~/.zshrc when
    `rc`, else `zsh -f`; `setup` runs first (compinit, the script). The zsh of the last call
    answers if it started the same way (see _Zsh)."""
    home = Path(env["HOME"])
    offered, left = home / ".offered", home / ".line"
    offered.write_text("")
    env = {**env, "METRIKA_TEST_OFFERED": str(offered), "METRIKA_TEST_LINE": str(left)}
    try:
        shell = _zsh_for((rc, setup, str(home) if rc else ""), env, home).shell
        shell.send(line + "\x14")  # ^T: the capturing widget
        shell.expect("TAB-DONE")
    except BaseException:
        _forget_zsh()
        raise
    return left.read_text().rstrip("\n"), sorted(set(offered.read_text().split()))


def quote_sh(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def fish_tab(line: str, env: dict[str, str], setup: str = "") -> list[str]:
    """What fish offers for `line` (`complete -C`), values only; `setup` runs first."""
    command = f"{setup}\ncomplete -C {quote_fish(line)}"
    completed = subprocess.run(
        [need("fish"), "--no-config", "-c", command] if setup else [need("fish"), "-c", command],
        capture_output=True,
        text=True,
        env=env,
        cwd=env["HOME"],
        timeout=60,
    )
    assert completed.returncode == 0 and completed.stderr == "", completed.stderr
    return sorted(row.split("\t")[0] for row in completed.stdout.splitlines() if row)


def quote_fish(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# bash: ^T prints the line readline holds.
BASH_SHOW_LINE = r"""bind -x '"\C-t": printf "LINE<%s>\n" "$READLINE_LINE"'"""


def bash_tab(keys: str, env: dict[str, str]) -> str:
    """The line readline leaves after `keys` (with their Tabs) in an interactive bash that read ~/.bashrc."""
    shell = spawn([need("bash"), "-i"], env, Path(env["HOME"]))
    try:
        shell.sendline(BASH_SHOW_LINE)
        shell.sendline("echo READ''Y")
        shell.expect("READY")
        shell.send(keys + "\x14")
        shell.expect(r"LINE<(.*)>\r?\n")
        return str(shell.match.group(1))
    finally:
        shell.close(force=True)
