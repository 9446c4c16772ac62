"""The version has one source, and `metrika --version` reads it cheaply. The wheel itself is
built, installed and tried by scripts/smoke_wheel.py (in .ci/run): too slow for the suite."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import run_metrika

import metrika_cli

ROOT = Path(__file__).resolve().parent.parent


def test_pyproject_takes_the_version_from_the_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "metrika_cli.__version__"}


def test_installed_metadata_says_what_metrika_version_prints() -> None:
    installed = importlib.metadata.version("metrika-cli")
    printed = run_metrika("--version")
    assert printed.code == 0
    assert printed.stdout == f"metrika {metrika_cli.__version__}\n"
    assert installed == metrika_cli.__version__, "the installed metadata is stale: pip install -e '.[test]' again"


def test_version_imports_neither_the_app_nor_importlib_metadata() -> None:
    """`metrika --version` is on the lean path: scripts call it, so it must not pay for Typer, Rich,
    httpx or a metadata lookup (importlib.metadata alone costs more than the whole lean start)."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "metrika_cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines() if "|" in line}
    assert "metrika_cli.main" in imported
    assert not imported & {"typer", "click", "rich", "httpx", "importlib.metadata", "metrika_cli.app"}
