"""How many round trips of waiting `metrika check-access` costs, against the loopback fake.

Each request to the fake waits `--latency` seconds before it is answered. The same command
is run with latency 0 in the same session to measure start-up (interpreter, imports, config,
the loopback requests themselves); the figure printed is

    (wall with latency - wall without latency) / latency

i.e. how many latencies a person waits for. One round trip is the floor (1.0): Yandex ID and
Metrika are asked at the same time, and the counters asked for go in one filtered request.
Target: <= 1.3.

Start-up itself is compared with one bare request in the same Python and environment,
`python -c "import httpx; httpx.get(URL)"` to the fake at latency 0, run between the two:
the figure printed is the median of (wall at 0 ms / bare request). Target: <= 1.3.
That bare request imports httpx's own command line (Rich, click, Pygments: installed beside
metrika, Typer needs them), which metrika skips; the figure against a bare request that skips
it too (`sys.modules["httpx._main"] = None`) is printed beside it, for information.

    .venv/bin/python bench/check_access.py [--latency 0.2] [--runs 5] [--counters 50]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_yandex import FakeYandex  # noqa: E402
from startup import clean_environ, yandex_at  # noqa: E402

TOKEN = "y0__xBenchTokenAbCdEfGh0123456789_QrStUvWxYz-abcdefghijklmn"
CLIENT_ID = "4760187d81bc4b7799476b42b5103713"
TARGET = 1.3
START_TARGET = 1.3
BARE = "import httpx, sys; httpx.get(sys.argv[1])"
LEAN_BARE = "import sys; sys.modules['httpx._main'] = None; import httpx; httpx.get(sys.argv[1])"


def run(args: list[str], env: dict[str, str], command: tuple[str, ...] = ("-m", "metrika_cli")) -> tuple[float, int]:
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, *command, *args], env=env, capture_output=True, text=True, timeout=120)
    return time.perf_counter() - started, completed.returncode


def bare_request(url: str, env: dict[str, str], script: str = BARE) -> float:
    """Wall of one `httpx.get(url)` in a fresh interpreter: the baseline of start-up."""
    wall, code = run([url], env, ("-c", script))
    if code != 0:
        raise SystemExit(f"the bare httpx request exited {code}")
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds each request waits (default 0.2)")
    parser.add_argument("--runs", type=int, default=5, help="runs per case (default 5)")
    parser.add_argument("--counters", type=int, default=50, help="counters asked for in the second case (default 50)")
    options = parser.parse_args()

    ids = [str(1_000_000 + i) for i in range(options.counters)]
    cases = [("no counters", ["check-access"]), (f"{options.counters} counters", ["check-access", *ids])]
    worst, worst_start = 0.0, 0.0
    with FakeYandex() as fake, tempfile.TemporaryDirectory() as config:
        fake.add_token(
            TOKEN, login="bench", client_id=CLIENT_ID, counters=[{"id": int(cid), "permission": "own"} for cid in ids]
        )
        env = {
            **clean_environ(),
            **yandex_at(fake.url),
            "METRIKA_TOKEN": TOKEN,
            "METRIKA_CLIENT_ID": CLIENT_ID,
            "METRIKA_CONFIG_DIR": config,
            "METRIKA_LANG": "en",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        }
        run(["check-access"], env)  # warm the disk cache and byte-code
        print(
            f"latency {options.latency:g} s per request, {options.runs} runs per case, "
            f"figure = (wall - start-up) / latency, target <= {TARGET}; "
            f"start-up = wall at 0 ms / one bare httpx request, target <= {START_TARGET}"
        )
        for label, args in cases:
            slow, quick, bare, ratios, starts, lean_starts = [], [], [], [], [], []
            for _ in range(options.runs):  # interleaved, so all three see the same machine load
                fake.latency = 0.0
                base, code = run(args, env)
                if code != 0:
                    print(f"{label}: exit {code} without latency; expected 0", file=sys.stderr)
                    return 1
                bare.append(bare_request(f"{fake.url}/info", env))
                starts.append(base / bare[-1])
                lean_starts.append(base / bare_request(f"{fake.url}/info", env, LEAN_BARE))
                fake.latency = options.latency
                wall, code = run(args, env)
                if code != 0:
                    print(f"{label}: exit {code} with latency; expected 0", file=sys.stderr)
                    return 1
                quick.append(base)
                slow.append(wall)
                ratios.append((wall - base) / options.latency)
            fake.latency = 0.0
            before = len(fake.requests)
            run(args, env)
            requests = len(fake.requests) - before
            ratio, start = statistics.median(ratios), statistics.median(starts)
            worst, worst_start = max(worst, ratio), max(worst_start, start)
            print(
                f"{label:>12}: {ratio:.2f} round trips (median; runs {', '.join(f'{r:.2f}' for r in ratios)}); "
                f"start-up {statistics.median(quick) * 1000:.0f} ms = {start:.2f}x the bare request "
                f"({statistics.median(bare) * 1000:.0f} ms), {statistics.median(lean_starts):.2f}x one without "
                f"httpx's command line, with latency {statistics.median(slow):.2f} s; "
                f"{requests} requests per run"
            )
    within = worst <= TARGET and worst_start <= START_TARGET
    print(
        f"worst medians: {worst:.2f} round trips (target {TARGET}), start-up {worst_start:.2f}x the bare request "
        f"(target {START_TARGET}): {'within' if within else 'OVER'} the targets"
    )
    return 0 if within else 2


if __name__ == "__main__":
    raise SystemExit(main())
