"""What `metrika api --paginate` and `metrika exec` cost.

    .venv/bin/python bench/api.py [--latency 0.1] [--runs 15] [--pages 10] [--exec-runs 30]

1. Pages. `metrika api /management/v1/counters --paginate` over a list of PAGES pages, against the
   loopback fake (tests/fake_yandex.py) with its Metrika quotas on (30 requests a second per IP,
   3 in flight per login) and LATENCY seconds before each answer. The first page tells the
   total, the rest can go 3 at a time, so the floor is 1 + ceil((PAGES - 1) / 3) round trips.
   The same command at 0 ms latency, run by run interleaved with it, measures everything else
   (start-up, loopback requests, printing). The figure is

       (wall with latency - wall without) / (floor * latency)      target <= 1.2

   and the requests sent beyond the PAGES needed (429s retried, pages past the total): target 0.
   At 0 ms, though, the pacer's spacing (after a burst of 3, 26.5 requests a second) is a
   large part of the paged command's wall, and with latency that spacing hides inside the waiting: so the
   same figure is also printed against one request for all the rows at 0 ms (start-up, one
   loopback request, the same rows printed), which counts every millisecond of pacing.

2. exec. `metrika exec -- true` next to `metrika token`, interleaved, in the environment
   bench/startup.py uses (bench/file_keyring.py's backend, the default config folder): the
   token read is the same, exec adds replacing the process. Target <= 1.2.

3. A big report. `metrika api /stat/v1/data … --paginate` over a counter of REPORT_ROWS
   (1,000,000) rows, against the fake with every quota on (30 a second, 3 at once, 200 Reports
   requests per 5 minutes per login): target <= 11 requests (100,000 rows a page, and one
   more if the last page is full) and 0 429s, every row read.

4. A Logs API part. `metrika api …/part/0/download --output FILE` of PART_MIB (256) MiB from
   the fake, next to `curl -o FILE` of the same URL, interleaved, medians: target wall <= 1.3x
   curl's; and metrika's peak RSS (GNU time's %M) <= its baseline + 64 MiB, the baseline
   being the same command on a 1 MiB part. Both sides run under GNU time alike, and each run
   writes a new file: the target is removed before it, untimed. (Overwriting would not be the
   same work for both: `curl -o` truncates the file there, and on ext4 a truncated file's close
   starts writing all of it out; metrika renames a new file over it, which frees the old one.)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(BENCH))

from fake_yandex import FakeYandex  # noqa: E402
from startup import TOKEN as KEYRING_TOKEN  # noqa: E402
from startup import clean_environ, yandex_at  # noqa: E402
from startup import environment as keyring_environment  # noqa: E402

TOKEN = "y0__xBenchTokenAbCdEfGh0123456789_QrStUvWxYz-abcdefghijklmn"
PER_PAGE = 10
TARGET_PAGES = 1.2
TARGET_EXEC = 1.2
REPORT_ROWS = 1_000_000
TARGET_REPORT_REQUESTS = 11
PART_MIB = 256
TARGET_DOWNLOAD = 1.3
TARGET_RSS_MIB = 64
PART = "/management/v1/counter/{counter}/logrequest/7/part/0/download"
TIME = shutil.which("time") or "/usr/bin/time"  # GNU time: the peak RSS of the command alone


def timed(command: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    return time.perf_counter() - started, completed


def pages_case(options: argparse.Namespace) -> float:
    metrika = [sys.executable, "-m", "metrika_cli", "api", "/management/v1/counters"]
    paged = [*metrika, "--paginate", "-f", f"per_page={PER_PAGE}"]
    single = [*metrika, "-f", f"per_page={options.pages * PER_PAGE}"]  # the same rows in one request
    floor = 1 + math.ceil((options.pages - 1) / 3)
    with FakeYandex(quota=True) as fake, tempfile.TemporaryDirectory() as config:
        counters = [{"id": 1_000_000 + n, "permission": "own"} for n in range(options.pages * PER_PAGE)]
        fake.add_token(TOKEN, login="bench", counters=counters)
        env = clean_environ()
        env.update(
            yandex_at(fake.url),
            METRIKA_TOKEN=TOKEN,
            METRIKA_CONFIG_DIR=config,
            METRIKA_LANG="en",
            PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        )
        timed(paged, env)  # warm the disk cache and byte-code
        walls: dict[str, list[float]] = {"paged at 0 ms": [], "one request at 0 ms": [], "paged": []}
        extra = []
        for _ in range(options.runs):  # interleaved: every side sees the same machine load
            for name, command, latency, lines in (
                ("paged at 0 ms", paged, 0.0, options.pages),
                ("one request at 0 ms", single, 0.0, 0),
                ("paged", paged, options.latency, options.pages),
            ):
                fake.latency = latency
                before = len(fake.requests)
                wall, completed = timed(command, env)
                if completed.returncode != 0 or (lines and len(completed.stdout.splitlines()) != lines):
                    raise SystemExit(f"{name}: exit {completed.returncode}: {completed.stderr}")
                walls[name].append(wall)
                if lines:
                    extra.append(len(fake.requests) - before - lines)
        rejected = len(fake.quota_rejections)
    return report_pages(options, floor, walls, max(extra), rejected)


def report_pages(
    options: argparse.Namespace, floor: int, walls: dict[str, list[float]], extra: int, rejected: int
) -> float:
    unit = floor * options.latency
    figures = {
        base: statistics.median((slow - quick) / unit for slow, quick in zip(walls["paged"], walls[base], strict=True))
        for base in ("paged at 0 ms", "one request at 0 ms")
    }
    print(
        f"pages: {options.pages} pages of {PER_PAGE}, latency {options.latency:g} s, quotas on, "
        f"floor {floor} round trips ({unit:.3f} s), {options.runs} runs, interleaved"
    )
    for name, values in walls.items():
        print(f"  {name:<20} median {statistics.median(values):.3f} s")
    print(
        f"  (wall - the same command's wall at 0 ms) / (floor x latency) = {figures['paged at 0 ms']:.2f} "
        f"(median; target <= {TARGET_PAGES})"
    )
    print(
        "    at 0 ms the pacer's spacing (3 at once, then 26.5 a second) is a large part of that command's\n"
        "    wall, and with latency it hides inside the waiting: the figure above understates the waiting;"
    )
    print(
        f"  (wall - one request's wall at 0 ms) / (floor x latency)    = {figures['one request at 0 ms']:.2f} "
        f"(median; target <= {TARGET_PAGES})"
    )
    print(f"  requests beyond the pages needed: {extra} at most in a run; 429s sent by the fake: {rejected}")
    return max(figures.values()) if extra == 0 else math.inf


def exec_case(options: argparse.Namespace) -> float:
    metrika = str(Path(sys.executable).with_name("metrika"))
    with tempfile.TemporaryDirectory(prefix="metrika-bench-") as folder:
        env = keyring_environment(Path(folder))
        commands = {"token": [metrika, "token"], "exec": [metrika, "exec", "--", "true"]}
        times: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():
            timed(command, env)  # warm-up
        for _ in range(options.exec_runs):
            for name, command in commands.items():
                wall, completed = timed(command, env)
                expected = KEYRING_TOKEN + "\n" if name == "token" else ""
                if completed.returncode != 0 or completed.stdout != expected:
                    raise SystemExit(f"{name}: exit {completed.returncode}: {completed.stderr}")
                times[name].append(wall)
    median = {name: statistics.median(values) for name, values in times.items()}
    ratio = median["exec"] / median["token"]
    print(f"exec: {options.exec_runs} runs each, interleaved, backend file_keyring.Keyring")
    for name in commands:
        print(f"  {name:<6} median {median[name] * 1000:6.1f} ms  (min {min(times[name]) * 1000:6.1f} ms)")
    print(f"  exec -- true / token = {ratio:.2f} (target <= {TARGET_EXEC})")
    return ratio


def report_case() -> bool:
    metrika = [sys.executable, "-m", "metrika_cli", "api", "/stat/v1/data", "--paginate"]
    fields = ["ids=101", "metrics=ym:s:visits", "dimensions=ym:s:date", "date1=365daysAgo"]
    command = metrika + [arg for field in fields for arg in ("-f", field)]
    with FakeYandex(quota=True) as fake, tempfile.TemporaryDirectory() as config:
        fake.add_token(TOKEN, login="bench", counters=[{"id": 101, "permission": "own", "report_rows": REPORT_ROWS}])
        env = bench_environ(fake, config)
        started = time.perf_counter()
        completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - started
        if completed.returncode != 0:
            raise SystemExit(f"report: exit {completed.returncode}: {completed.stderr}")
        rows = sum(len(json.loads(line)["data"]) for line in completed.stdout.splitlines())
        requests = len(fake.requests_to("/stat/"))
        rejected = len(fake.quota_rejections)
    print(f"report: {REPORT_ROWS:,} rows, quotas on (30/s, 3 at once, 200 Reports requests / 5 min)")
    print(f"  rows read {rows:,}; requests {requests} (target <= {TARGET_REPORT_REQUESTS}); 429s {rejected}")
    print(f"  wall {wall:.2f} s")
    return rows == REPORT_ROWS and requests <= TARGET_REPORT_REQUESTS and rejected == 0


def bench_environ(fake: FakeYandex, config: str) -> dict[str, str]:
    env = clean_environ()
    env.update(
        yandex_at(fake.url),
        METRIKA_TOKEN=TOKEN,
        METRIKA_CONFIG_DIR=config,
        METRIKA_LANG="en",
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    return env


def measured(command: list[str], env: dict[str, str]) -> tuple[float, int, float, int]:
    """(wall seconds, peak RSS in KiB, CPU seconds, exit status) of one run. The peak is GNU time's
    (%M), as ru_maxrss of a child forked from this process counts the pages it shared with it
    before exec; the CPU time (user + system, GNU time's own few milliseconds included) is the
    steadier figure on a busy machine, where the wall also counts the waits for a core."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        completed = subprocess.run(
            [TIME, "-f", "%M", "-o", report.name, *command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=600,
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak = int(report.read().strip().splitlines()[-1] or 0)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, peak, cpu, completed.returncode


def download_case(options: argparse.Namespace) -> bool:
    curl = shutil.which("curl")
    with FakeYandex() as fake, tempfile.TemporaryDirectory() as folder:
        fake.add_token(TOKEN, login="bench", counters=[{"id": 101, "permission": "own"}])
        env = bench_environ(fake, folder)
        target = str(Path(folder) / "part.tsv")
        metrika = [sys.executable, "-m", "metrika_cli", "api", PART.format(counter=101), "--output", target]
        fetch = [
            curl or "curl",
            "-sS",
            "-f",
            "-o",
            target,
            "-H",
            f"Authorization: OAuth {TOKEN}",
            fake.url + PART.format(counter=101),
        ]
        runs: dict[str, list[tuple[float, int, float]]] = {"metrika 1 MiB": [], "metrika": [], "curl": []}
        for index in range(options.download_runs + 1):  # the first round warms the caches
            for name, command, size in (
                ("metrika 1 MiB", metrika, 1 << 20),
                ("metrika", metrika, PART_MIB << 20),
                ("curl", fetch, PART_MIB << 20),
            ):
                if name == "curl" and curl is None:
                    continue
                fake.log_part_size = size
                Path(target).unlink(missing_ok=True)  # every side writes a new file (see above)
                os.sync()  # and starts with nothing of the last run's left to write out
                wall, rss, cpu, code = measured(command, env)
                if code != 0 or Path(target).stat().st_size != size:
                    raise SystemExit(f"{name}: exit {code}")
                if index:
                    runs[name].append((wall, rss, cpu))
    return report_download(options, runs)


def report_download(options: argparse.Namespace, runs: dict[str, list[tuple[float, int, float]]]) -> bool:
    wall = {name: statistics.median(run[0] for run in values) for name, values in runs.items() if values}
    rss = {name: max(run[1] for run in values) / 1024 for name, values in runs.items() if values}
    cpu = {name: statistics.median(run[2] for run in values) for name, values in runs.items() if values}
    print(f"download: a {PART_MIB} MiB Logs API part, --output FILE, {options.download_runs} runs, interleaved")
    for name, median in wall.items():
        print(
            f"  {name:<14} median wall {median:.3f} s, CPU {cpu[name]:.3f} s, "
            f"peak RSS {rss[name]:.0f} MiB (max of runs)"
        )
    growth = rss["metrika"] - rss["metrika 1 MiB"]
    print(f"  peak RSS over the 1 MiB baseline: {growth:+.0f} MiB (target <= {TARGET_RSS_MIB})")
    ratio = wall["metrika"] / wall["curl"] if "curl" in wall else math.inf
    if "curl" in cpu:
        print(f"  metrika / curl -o CPU  = {cpu['metrika'] / cpu['curl']:.2f} (for reading a busy machine's walls)")
    print(f"  metrika / curl -o wall = {ratio:.2f} (target <= {TARGET_DOWNLOAD})")
    return growth <= TARGET_RSS_MIB and ratio <= TARGET_DOWNLOAD


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.1, help="seconds each request waits (default 0.1)")
    parser.add_argument("--runs", type=int, default=15, help="runs of each side of the pages case (default 15)")
    parser.add_argument("--pages", type=int, default=10, help="pages in the list (default 10)")
    parser.add_argument("--exec-runs", type=int, default=30, help="runs of exec and token each (default 30)")
    parser.add_argument("--download-runs", type=int, default=7, help="runs of each side of the download (default 7)")
    parser.add_argument(
        "--only", choices=("pages", "exec", "report", "download"), help="run one case (default: every case)"
    )
    options = parser.parse_args()
    within = True
    if options.only in (None, "pages"):
        within = pages_case(options) <= TARGET_PAGES and within
    if options.only in (None, "exec"):
        within = exec_case(options) <= TARGET_EXEC and within
    if options.only in (None, "report"):
        within = report_case() and within
    if options.only in (None, "download"):
        within = download_case(options) and within
    print("within the targets" if within else "OVER a target")
    return 0 if within else 2


if __name__ == "__main__":
    raise SystemExit(main())
