"""Build the sdist and the wheel, install the wheel into a clean venv, and try it as a user would.

    python scripts/smoke_wheel.py     # with `build` installed (the test extra has it)

The wheel is installed (not editable) into a fresh venv in a temporary folder, and every
command runs from another temporary folder with a clean environment and an empty HOME, so
the checkout's metrika_cli cannot be imported by accident. Checked: the sdist and the wheel
hold what they must (catalogs, completions, tests, LICENSE); `metrika --version` and the
wheel's metadata both give the version in metrika_cli/__init__.py; `metrika completion bash`
prints completions/metrika.bash; `METRIKA_LANG=ru metrika --help` is Russian (the .mo
catalogs are inside); `metrika token` with no token exits 3. Any failure exits 1, loudly.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDIST_MUST_HOLD = [
    "pyproject.toml",
    "MANIFEST.in",
    "README.md",
    "CHANGELOG.md",
    "LICENSE",
    ".ci/run",
    "completions/metrika.bash",
    "scripts/i18n.py",
    "scripts/generate_completions.py",
    "tests/conftest.py",
    "tests/fake_yandex.py",
    "tests/no_resolver/sitecustomize.py",
    "metrika_cli/locale/metrika.pot",
    "metrika_cli/locale/ru/LC_MESSAGES/metrika.po",
    "metrika_cli/locale/ru/LC_MESSAGES/metrika.mo",
]
WHEEL_MUST_HOLD = [
    "metrika_cli/main.py",
    "metrika_cli/commands/completion.py",
    "metrika_cli/locale/metrika.pot",
    "metrika_cli/locale/ru/LC_MESSAGES/metrika.po",
    "metrika_cli/locale/ru/LC_MESSAGES/metrika.mo",
]


class SmokeFailure(Exception):
    pass


def source_version() -> str:
    """__version__ from metrika_cli/__init__.py, read without importing the checkout."""
    tree = ast.parse((ROOT / "metrika_cli" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return str(ast.literal_eval(node.value))
    raise SmokeFailure("metrika_cli/__init__.py has no __version__")


def run(
    args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


def must(completed: subprocess.CompletedProcess[str], what: str) -> str:
    if completed.returncode != 0:
        raise SmokeFailure(
            f"{what} exited {completed.returncode}\n--- stdout\n{completed.stdout}\n--- stderr\n{completed.stderr}"
        )
    return completed.stdout


def build(source: Path, dist: Path) -> tuple[Path, Path]:
    """The sdist from a copy of the checkout, then the wheel from that sdist (python -m build's default).
    The copy leaves out what a build or an editable install left behind: setuptools would take the
    files listed in a stale *.egg-info/SOURCES.txt, and a fresh clone has none of them."""
    leftovers = shutil.ignore_patterns(
        ".git", ".venv", "*.egg-info", "build", "dist", "__pycache__", ".*_cache", ".hypothesis"
    )
    shutil.copytree(ROOT, source, ignore=leftovers)
    must(run([sys.executable, "-m", "build", "--outdir", str(dist), str(source)]), "python -m build")
    sdists, wheels = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        raise SmokeFailure(
            f"expected one sdist and one wheel in {dist}, found {sorted(p.name for p in dist.iterdir())}"
        )
    return sdists[0], wheels[0]


def check_contents(sdist: Path, wheel: Path, version: str) -> None:
    with tarfile.open(sdist) as archive:
        top = f"metrika_cli-{version}/"
        in_sdist = {name.removeprefix(top) for name in archive.getnames()}
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    missing = [f"sdist: {name}" for name in SDIST_MUST_HOLD if name not in in_sdist]
    missing += [f"wheel: {name}" for name in WHEEL_MUST_HOLD if name not in in_wheel]
    if f"metrika_cli-{version}.dist-info/licenses/LICENSE" not in in_wheel:
        missing.append("wheel: the LICENSE in its dist-info")
    if missing:
        raise SmokeFailure("missing from the distributions:\n  " + "\n  ".join(missing))


def clean_env(venv: Path, home: Path, **extra: str) -> dict[str, str]:
    """What a user's shell would give: the venv first on PATH, an empty HOME, no METRIKA_* or PYTHON*."""
    path = os.pathsep.join([str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    return {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8", "TERM": "dumb", **extra}


def check_installed(venv: Path, home: Path, outside: Path, version: str) -> None:
    metrika = str(venv / "bin" / "metrika")
    env = clean_env(venv, home)
    located = must(
        run(
            [str(venv / "bin" / "python"), "-c", "import metrika_cli; print(metrika_cli.__file__)"],
            env=env,
            cwd=outside,
        ),
        "import metrika_cli",
    )
    if not located.startswith(str(venv)):
        raise SmokeFailure(f"metrika_cli was imported from {located.strip()}, not from the wheel in {venv}")
    printed = must(run([metrika, "--version"], env=env, cwd=outside), "metrika --version")
    if printed != f"metrika {version}\n":
        raise SmokeFailure(f"metrika --version printed {printed!r}; metrika_cli/__init__.py says {version}")
    script = "import importlib.metadata as m; print(m.version('metrika-cli'))"
    metadata = must(
        run([str(venv / "bin" / "python"), "-c", script], env=env, cwd=outside), "the wheel's metadata"
    ).strip()
    if metadata != version:
        raise SmokeFailure(f"the installed wheel's metadata says {metadata}; metrika --version says {version}")
    bash = must(run([metrika, "completion", "bash"], env=env, cwd=outside), "metrika completion bash")
    if bash != (ROOT / "completions" / "metrika.bash").read_text():
        raise SmokeFailure("metrika completion bash differs from completions/metrika.bash")
    check_russian_help(metrika, venv, home, outside)
    no_token = run([metrika, "token"], env=env, cwd=outside)
    if no_token.returncode != 3 or no_token.stdout:
        raise SmokeFailure(
            f"metrika token with no token: exit {no_token.returncode} (want 3), stdout {no_token.stdout!r}"
        )


def check_russian_help(metrika: str, venv: Path, home: Path, outside: Path) -> None:
    """The same help in Russian and in English: only the catalogs inside the wheel can make them differ."""
    english = must(
        run([metrika, "--help"], env=clean_env(venv, home, METRIKA_LANG="en"), cwd=outside), "metrika --help"
    )
    russian = must(
        run([metrika, "--help"], env=clean_env(venv, home, METRIKA_LANG="ru"), cwd=outside),
        "METRIKA_LANG=ru metrika --help",
    )
    cyrillic = sum("а" <= char.lower() <= "я" for char in russian)
    if cyrillic < 200 or any("а" <= char.lower() <= "я" for char in english):
        raise SmokeFailure(
            f"METRIKA_LANG=ru metrika --help is not in Russian ({cyrillic} Cyrillic letters):\n{russian}"
        )


def smoke(work: Path) -> str:
    version = source_version()
    sdist, wheel = build(work / "source", work / "dist")
    check_contents(sdist, wheel, version)
    venv, home, outside = work / "venv", work / "home", work / "elsewhere"
    home.mkdir()
    outside.mkdir()
    must(run([sys.executable, "-m", "venv", str(venv)]), "python -m venv")
    must(
        run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=outside),
        "pip install the wheel",
    )
    check_installed(venv, home, outside, version)
    return f"smoke_wheel: {sdist.name} and {wheel.name} built; the wheel installed and works (metrika {version})"


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="metrika-smoke-"))
    try:
        print(smoke(work))
    except (SmokeFailure, subprocess.TimeoutExpired) as failure:
        print(f"smoke_wheel: FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
