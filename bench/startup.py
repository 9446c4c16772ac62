"""How much `metrika token` and `metrika --version` cost next to the keyring read itself.

    python bench/startup.py [RUNS]    # default 30 runs of each, interleaved

Baseline: `python -c "import keyring; keyring.get_password('metrika-cli', 'default')"`,
measured in the same run, the same environment and the same keyring, as a user's own script
would read it: the `keyring` library choosing its backend (every entry point). `metrika token`
loads the backend class the profile recorded (a 0.3-style profile records it at the warm-up).
Measured on two keyrings, one after the other:

- the file backend: keyrings.alt's plain-text file, no D-Bus (the path a server without a
  desktop takes), so the ratio is metrika's own start-up against keyring's;
- a real gnome-keyring, which this script starts in a private D-Bus session (tests/secret_service.py)
  and stops by PID: both sides then pay the same D-Bus round trips.

The config folder is the default one (XDG_CONFIG_HOME pointed at a temporary folder,
METRIKA_CONFIG_DIR unset), so the path users take is the one measured. Target: token <= 0.8x
on both.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TOKEN = "y0__xBenchTokenAbCdEfGh0123456789_QrStUvWxYz-abcdefghijk"
BASELINE = "import keyring; keyring.get_password('metrika-cli', 'default')"
TARGET = 0.8


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


def written_store(folder: Path, profiles: dict[str, dict[str, object]], secrets: dict[str, object]) -> None:
    """config.toml's `profiles` in the default config folder under `folder`, and the keyring's
    entries in the JSON file that file_keyring_environ names."""
    import json

    import tomli_w

    (folder / "keyring.json").write_text(json.dumps(secrets))
    config = folder / "metrika-cli"
    config.mkdir(mode=0o700, exist_ok=True)
    (config / "config.toml").write_text(tomli_w.dumps({"profiles": profiles}))
    (config / "config.toml").chmod(0o600)


def environment(folder: Path) -> dict[str, str]:
    """The file backend: keyrings.alt's plain-text keyring under `folder`, found by keyring's own choice."""
    env = clean_environ()
    env.update(XDG_CONFIG_HOME=str(folder), XDG_DATA_HOME=str(folder / "data"), METRIKA_LANG="en")
    store = f"import keyring; keyring.set_password('metrika-cli', 'default', {TOKEN!r})"
    subprocess.run([sys.executable, "-c", store], env=env, check=True, timeout=60)
    profile(folder)
    return env


def profile(folder: Path) -> None:
    """The default profile as metrika 0.3 wrote it: in the keyring, no backend recorded yet."""
    from metrika_cli.text import fingerprint

    (folder / "metrika-cli").mkdir(mode=0o700)
    (folder / "metrika-cli" / "config.toml").write_text(
        f'[profiles.default]\nstorage = "keyring"\nfingerprint = "{fingerprint(TOKEN)}"\n'
    )
    (folder / "metrika-cli" / "config.toml").chmod(0o600)


def secret_service_environ(folder: Path, session: dict[str, str]) -> dict[str, str]:
    """A clean environment on a private gnome-keyring's session bus, with `folder` as the home of
    metrika's config (the default config folder) and of the keyring's data."""
    env = clean_environ()
    env.update(
        DBUS_SESSION_BUS_ADDRESS=session["DBUS_SESSION_BUS_ADDRESS"],
        XDG_RUNTIME_DIR=session["XDG_RUNTIME_DIR"],
        XDG_CONFIG_HOME=str(folder),
        XDG_DATA_HOME=str(folder / "data"),
        METRIKA_LANG="en",
    )
    return env


@contextlib.contextmanager
def gnome_keyring(folder: Path) -> Iterator[dict[str, str]]:
    """A real gnome-keyring in a private D-Bus session (stopped by PID on exit), the token in it."""
    sys.path.insert(0, str(BENCH.parent / "tests"))
    from secret_service import running_secret_service

    with running_secret_service(folder / "daemon") as session:
        env = secret_service_environ(folder, session)
        store = f"import keyring; keyring.set_password('metrika-cli', 'default', {TOKEN!r})"
        subprocess.run([sys.executable, "-c", store], env=env, check=True, timeout=60)
        profile(folder)
        yield env


def timed(command: list[str], env: dict[str, str], expected: str) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0 or completed.stdout.strip() != expected:
        raise SystemExit(f"{command} failed ({completed.returncode}): {completed.stdout!r} {completed.stderr!r}")
    return elapsed


def measure(env: dict[str, str], runs: int, version: bool) -> dict[str, list[float]]:
    """Interleaved runs of the baseline, `metrika token` (and `metrika --version`): every run's seconds."""
    python = sys.executable
    metrika = str(Path(python).with_name("metrika"))
    from metrika_cli import __version__

    commands = {
        "baseline": ([python, "-c", BASELINE + "; print('ok')"], "ok"),
        "token": ([metrika, "token"], TOKEN),
    }
    if version:
        commands["version"] = ([metrika, "--version"], f"metrika {__version__}")
    times: dict[str, list[float]] = {name: [] for name in commands}
    # One warm-up run each: fills the file cache and, as an installed package has, the bytecode;
    # metrika's records the backend class of the 0.3-style profile.
    for command, expected in commands.values():
        timed(command, env, expected)
    for _run in range(runs):
        for name, (command, expected) in commands.items():
            times[name].append(timed(command, env, expected))
    return times


def report(label: str, times: dict[str, list[float]]) -> float:
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{label}:")
    for name, values in times.items():
        print(f"  {name:<8} median {median[name] * 1000:6.1f} ms  (min {min(values) * 1000:6.1f} ms)")
    ratio = median["token"] / median["baseline"]
    print(f"  token/baseline = {ratio:.2f}   (target <= {TARGET:.2f})")
    if "version" in median:
        print(f"  version/baseline = {median['version'] / median['baseline']:.2f}")
    return ratio


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    print(f"{runs} runs each, interleaved, medians; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="metrika-bench-") as folder:
        ratios = [report("file backend (keyrings.alt plain-text file)", measure(environment(Path(folder)), runs, True))]
    with tempfile.TemporaryDirectory(prefix="metrika-bench-") as folder, gnome_keyring(Path(folder)) as env:
        ratios.append(report("real gnome-keyring (Secret Service, private D-Bus session)", measure(env, runs, False)))
    return 0 if max(ratios) <= TARGET else 2


if __name__ == "__main__":
    sys.exit(main())
