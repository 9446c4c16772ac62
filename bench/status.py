"""How close `metrika status` over many profiles comes to Metrika's quota, and what --offline costs.

    .venv/bin/python bench/status.py [--runs 3] [--offline-runs 20] [--latency 0.1] [--offline] [--secret-service]

Online: N profiles (50, then 200) against the loopback fake (tests/fake_yandex.py) with its
Metrika quotas on (30 requests a second per IP, 3 in flight per login) and `--latency` seconds
on every request. The real `metrika status` runs as a process; the fake counts the Metrika
requests it made (R) and the 429s it sent. The figure printed is

    wall / (R / 30 s)

i.e. how long the run took next to the shortest time Metrika's per-IP quota allows for those
requests (start-up, Yandex ID and the last latency included). Target: <= 1.2, and no 429.

Offline: `metrika status --offline` over 200 profiles next to one `metrika token`, both with
bench/file_keyring.py as the keyring and the default config folder, interleaved runs, medians.
Target: <= 3x. With --secret-service, the keyring is a real gnome-keyring instead, which this
script starts in a private D-Bus session (tests/secret_service.py) and stops by PID; the
profiles are written as metrika 0.3 did (no backend recorded: the warm-up records it), and
nothing names the backend (keyring's own choice, as users have it). Target: <= 2x.
--offline measures the offline figure only.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import tomli_w

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_yandex import FakeYandex  # noqa: E402
from secret_service import running_secret_service  # noqa: E402
from startup import file_keyring_environ, secret_service_environ, written_store, yandex_at  # noqa: E402

from metrika_cli.text import fingerprint  # noqa: E402

CLIENT_ID = "4760187d81bc4b7799476b42b5103713"
QUOTA = 30  # Metrika: requests a second per IP
ONLINE_TARGET, OFFLINE_TARGET, SECRET_SERVICE_TARGET = 1.2, 3.0, 2.0


def token_for(number: int) -> str:
    return f"y0__xBenchStatus{number:05d}AbCdEfGh0123456789_QrStUvWxYz-abc"


def profile_names(count: int) -> list[str]:
    return ["default"] + [f"client-{number:04d}" for number in range(1, count)]


def environment(folder: Path, count: int, fake_url: str | None) -> dict[str, str]:
    """`count` profiles kept in the file keyring, in the default config folder under `folder`."""
    env = file_keyring_environ(folder)
    if fake_url:
        env.update(yandex_at(fake_url))
    expires = (datetime.now(UTC) + timedelta(days=300)).isoformat(timespec="seconds")
    profiles, secrets = {}, {}
    for number, name in enumerate(profile_names(count)):
        token = token_for(number)
        secrets[f"metrika-cli/{name}"] = token
        profiles[name] = {
            "client_id": CLIENT_ID,
            "login": f"client-{number}",
            "uid": str(3_000_000 + number),
            "storage": "keyring",
            "expires_at": expires,
            "fingerprint": fingerprint(token),
        }
    written_store(folder, profiles, secrets)
    return env


def secret_service_environment(folder: Path, count: int, session: dict[str, str]) -> dict[str, str]:
    """`count` profiles in a real gnome-keyring (its session's env given), in the default config folder."""
    env = secret_service_environ(folder, session)
    names = profile_names(count)
    store = "import keyring\nfor name, token in %r:\n    keyring.set_password('metrika-cli', name, token)\n" % [
        (name, token_for(number)) for number, name in enumerate(names)
    ]
    subprocess.run([sys.executable, "-c", store], env=env, check=True, timeout=300)
    profiles = {
        name: {"client_id": CLIENT_ID, "storage": "keyring", "fingerprint": fingerprint(token_for(number))}
        for number, name in enumerate(names)
    }
    config = folder / "metrika-cli"
    config.mkdir(mode=0o700, exist_ok=True)
    (config / "config.toml").write_text(tomli_w.dumps({"profiles": profiles}))
    (config / "config.toml").chmod(0o600)
    return env


def timed(command: list[str], env: dict[str, str], expect: str | None = None) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0 or (expect is not None and completed.stdout.strip() != expect):
        raise SystemExit(f"{command} failed ({completed.returncode}): {completed.stdout[-500:]!r} {completed.stderr!r}")
    return elapsed


def online(metrika: str, count: int, runs: int, latency: float) -> tuple[float, int]:
    """Median of wall / (R / 30 s) over `runs`, and the most 429s of any run."""
    ratios, worst_429, requests = [], 0, 0
    with (
        FakeYandex(latency=latency, quota=True) as fake,
        tempfile.TemporaryDirectory(prefix="metrika-bench-") as folder,
    ):
        for number in range(count):
            fake.add_token(
                token_for(number),
                login=f"client-{number}",
                uid=str(3_000_000 + number),
                counters=[{"id": 50_000 + number}],
            )
        env = environment(Path(folder), count, fake.url)
        for _run in range(runs):
            fake.requests.clear()
            fake.quota_rejections.clear()
            time.sleep(1.1)  # the fake's one-second window empties between runs
            wall = timed([metrika, "status"], env)
            requests = sum(1 for r in fake.requests if r.path.startswith(("/management/", "/stat/")))
            ratios.append(wall / (requests / QUOTA))
            worst_429 = max(worst_429, len(fake.quota_rejections))
    ratio = statistics.median(ratios)
    print(
        f"  {count:>4} profiles: wall/(R/30 s) = {ratio:.2f} (median; runs {', '.join(f'{r:.2f}' for r in ratios)}); "
        f"R = {requests} Metrika requests a run; 429s: {worst_429}"
    )
    return ratio, worst_429


def offline(metrika: str, count: int, runs: int, secret_service: bool) -> float:
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="metrika-bench-")))
        if secret_service:
            session = stack.enter_context(running_secret_service(folder / "daemon"))
            env = secret_service_environment(folder, count, session)
        else:
            env = environment(folder, count, None)
        commands = {"token": ([metrika, "token"], token_for(0)), "status": ([metrika, "status", "--offline"], None)}
        times: dict[str, list[float]] = {name: [] for name in commands}
        for command, expect in commands.values():  # warm-up: the file cache and the byte-code
            timed(command, env, expect)
        for _run in range(runs):
            for name, (command, expect) in commands.items():
                times[name].append(timed(command, env, expect))
    median = {name: statistics.median(values) for name, values in times.items()}
    ratio = median["status"] / median["token"]
    print(
        f"  {count} profiles, {runs} runs each, interleaved: status --offline median {median['status'] * 1000:.0f} ms, "
        f"token median {median['token'] * 1000:.0f} ms: status/token = {ratio:.2f}x"
    )
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="online runs per size (default 3)")
    parser.add_argument("--offline-runs", type=int, default=20, help="offline runs of each (default 20)")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds each request waits (default 0.1)")
    parser.add_argument("--offline", action="store_true", help="the offline figure only")
    parser.add_argument("--secret-service", action="store_true", help="offline on a real gnome-keyring")
    options = parser.parse_args()
    metrika = str(Path(sys.executable).with_name("metrika"))
    results = [(0.0, 0)]
    if not options.offline:
        print(
            f"online: latency {options.latency:g} s a request, the fake's quota on; target <= {ONLINE_TARGET}, no 429"
        )
        results = [online(metrika, count, options.runs, options.latency) for count in (50, 200)]
    backend, target = (
        ("a real gnome-keyring", SECRET_SERVICE_TARGET)
        if options.secret_service
        else ("file_keyring.Keyring", OFFLINE_TARGET)
    )
    print(f"offline: {backend}; target <= {target}x one `metrika token`")
    offline_ratio = offline(metrika, 200, options.offline_runs, options.secret_service)
    worst = max(ratio for ratio, _rejected in results)
    rejected = max(count for _ratio, count in results)
    passed = worst <= ONLINE_TARGET and rejected == 0 and offline_ratio <= target
    print(
        f"worst online median {worst:.2f}, 429s {rejected}, offline {offline_ratio:.2f}x: "
        f"{'within' if passed else 'OVER'} the targets"
    )
    return 0 if passed else 2


if __name__ == "__main__":
    raise SystemExit(main())
