"""Write completions/ from the app itself: bash, zsh, fish and PowerShell.

    python scripts/generate_completions.py          # rewrite the four files
    python scripts/generate_completions.py --check  # exit 1 if a committed file differs

Each script is what `metrika completion <shell>` prints: Typer's templates (fish's is
metrika's own) on click's completion machinery. The scripts ask `metrika` for candidates at each Tab, so the
commands and options offered always match the installed version; hidden commands (the
`check` alias) are never offered. Output is deterministic: no paths, dates or versions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPLETIONS = ROOT / "completions"
FILES = {"bash": "metrika.bash", "zsh": "_metrika", "fish": "metrika.fish", "powershell": "metrika.ps1"}


def render(shell: str) -> str:
    """What `metrika completion SHELL` prints (the app's own script, with a notice)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("_METRIKA", "_TYPER"))}
    env.update(METRIKA_LANG="en", PYTHONWARNINGS="ignore")
    completed = subprocess.run(
        [sys.executable, "-m", "metrika_cli", "completion", shell],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    if completed.returncode != 0 or not completed.stdout.strip():
        raise SystemExit(f"metrika printed no {shell} script (exit {completed.returncode}): {completed.stderr}")
    return completed.stdout


def generate() -> dict[str, str]:
    return {name: render(shell) for shell, name in FILES.items()}


def main(argv: list[str]) -> int:
    scripts = generate()
    if argv == ["--check"]:
        stale = [
            name
            for name, text in scripts.items()
            if not (COMPLETIONS / name).exists() or (COMPLETIONS / name).read_text() != text
        ]
        for name in stale:
            print(f"completions/{name} is stale: run python scripts/generate_completions.py", file=sys.stderr)
        return 1 if stale else 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    COMPLETIONS.mkdir(exist_ok=True)
    for name, text in scripts.items():
        (COMPLETIONS / name).write_text(text)
        print(f"wrote completions/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
