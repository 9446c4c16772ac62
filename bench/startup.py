"""How much `metrika token` and `metrika --version` cost next to the keyring read itself.

    python bench/startup.py [RUNS]    # default 30 runs of each, interleaved

Baseline: `python -c "import keyring; keyring.get_password('metrika-cli', 'default')"`,
measured in the same run, environment and keyring backend. The backend is
bench/file_keyring.py (a JSON file): no D-Bus, so neither side pays for a Secret Service
round trip and the ratio shows metrika's own overhead; with a real Secret Service both
sides add the same D-Bus time and the ratio only gets closer to 1. The config folder is the
default one (XDG_CONFIG_HOME pointed at a temporary folder, METRIKA_CONFIG_DIR unset), so the
path users take is the one measured. Target: token <= 1.3x.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TOKEN = "y0__xBenchTokenAbCdEfGh0123456789_QrStUvWxYz-abcdefghijk"
BASELINE = "import keyring; keyring.get_password('metrika-cli', 'default')"


def clean_environ() -> dict[str, str]:
    """This process's environment less what would change what is measured: metrika's own
    variables, proxies, PYTHONPATH and the D-Bus session. Every bench/ script starts from it."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("METRIKA_", "_METRIKA"))
        and key not in ("PYTHONPATH", "DBUS_SESSION_BUS_ADDRESS", "PYTHONDONTWRITEBYTECODE")
        and not key.lower().endswith("_proxy")
    }


def yandex_at(url: str) -> dict[str, str]:
    """The three base URLs (Metrika, Yandex ID, OAuth), all at the loopback fake's `url`."""
    return {"METRIKA_API_URL": url, "METRIKA_LOGIN_URL": url, "METRIKA_OAUTH_URL": url}


def file_keyring_environ(folder: Path) -> dict[str, str]:
    """clean_environ, with the keyring a JSON file and the config folder under `folder`, in English."""
    env = clean_environ()
    env.update(
        PYTHONPATH=str(BENCH),
        PYTHON_KEYRING_BACKEND="file_keyring.Keyring",
        BENCH_KEYRING_FILE=str(folder / "keyring.json"),
        XDG_CONFIG_HOME=str(folder),
        METRIKA_LANG="en",
    )
    return env


def environment(folder: Path) -> dict[str, str]:
    env = file_keyring_environ(folder)
    (folder / "keyring.json").write_text(json.dumps({"metrika-cli/default": TOKEN}))
    (folder / "metrika-cli").mkdir(mode=0o700)
    (folder / "metrika-cli" / "config.toml").write_text('[profiles.default]\nstorage = "keyring"\n')
    return env


def timed(command: list[str], env: dict[str, str], expected: str) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0 or completed.stdout.strip() != expected:
        raise SystemExit(f"{command} failed ({completed.returncode}): {completed.stdout!r} {completed.stderr!r}")
    return elapsed


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    python = sys.executable
    metrika = str(Path(python).with_name("metrika"))
    with tempfile.TemporaryDirectory(prefix="metrika-bench-") as folder:
        env = environment(Path(folder))
        from metrika_cli import __version__

        commands = {
            "baseline": ([python, "-c", BASELINE + "; print('ok')"], "ok"),
            "token": ([metrika, "token"], TOKEN),
            "version": ([metrika, "--version"], f"metrika {__version__}"),
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        # One warm-up run each: fills the file cache and, as an installed package has, the bytecode.
        for name, (command, expected) in commands.items():
            timed(command, env, expected)
        for _run in range(runs):
            for name, (command, expected) in commands.items():
                times[name].append(timed(command, env, expected))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{runs} runs each, interleaved; python {sys.version.split()[0]}, backend file_keyring.Keyring")
    for name in commands:
        print(f"  {name:<8} median {median[name] * 1000:6.1f} ms  (min {min(times[name]) * 1000:6.1f} ms)")
    print(f"token/baseline = {median['token'] / median['baseline']:.2f}   (target <= 1.30)")
    print(f"version/baseline = {median['version'] / median['baseline']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
