"""The pacer: Metrika's per-IP rate and per-user parallel quotas kept on our side, and a busy
event loop that does not make the requests behind it start in a burst; 429s waited out."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from metrika_cli.api import PROBE, retry_wait
from metrika_cli.evidence import Reply
from metrika_cli.pacing import Pacer


def starts(pacer: Pacer, count: int, users: int = 1, hold: float = 0.0) -> tuple[list[float], int]:
    """When each of `count` requests got its slot (seconds from the first), and the most in flight for one user."""
    moments: list[float] = []
    in_flight: dict[int, int] = {}
    most = 0

    async def one(number: int) -> None:
        nonlocal most
        user = number % users
        async with pacer.slot(str(user)):
            moments.append(asyncio.get_running_loop().time())
            in_flight[user] = in_flight.get(user, 0) + 1
            most = max(most, in_flight[user])
            await asyncio.sleep(hold)
            in_flight[user] -= 1

    async def all_of_them() -> None:
        await asyncio.gather(*(one(n) for n in range(count)))

    asyncio.run(all_of_them())
    first = min(moments)
    return sorted(moment - first for moment in moments), most


def most_in_one_second(moments: list[float]) -> int:
    return max(sum(1 for other in moments if moment <= other < moment + 1.0) for moment in moments)


def test_by_default_requests_start_evenly_spaced():
    pacer = Pacer(parallel=100)
    assert pacer.interval == pytest.approx(1 / 28.5)  # 30 a second, less a margin
    moments, _most = starts(pacer, 8, users=8)
    # Each start keeps its place on the schedule: a busy machine may only make it later.
    assert all(moment >= k * pacer.interval - 0.001 for k, moment in enumerate(moments)), moments
    # A start woken a little late keeps the schedule, so the one after it may follow sooner,
    # but never sooner than half an interval (later than that, the schedule moves instead).
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert min(gaps) >= pacer.interval / 2 - 0.001, gaps


def test_a_burst_of_three_starts_together_then_the_rate_holds():
    moments, _most = starts(Pacer(parallel=100, burst=3), 35, users=35)
    assert moments[2] < 0.05  # the first three at once
    assert moments[3] >= 1 / 26.5 - 0.003
    assert most_in_one_second(moments) <= 29  # under 30 a second, as without a burst


def test_no_more_than_parallel_in_flight_per_user():
    _moments, most = starts(Pacer(burst=3), 9, users=1, hold=0.05)
    assert most == 3


def run_requests(pacer: Pacer, users: list[str], hold: float = 0.0, stall_at: int | None = None) -> list[float]:
    starts: list[float] = []
    in_flight: dict[str, int] = {}
    most: dict[str, int] = {}

    async def one(number: int, user: str) -> None:
        async with pacer.slot(user):
            starts.append(time.monotonic())
            in_flight[user] = in_flight.get(user, 0) + 1
            most[user] = max(most.get(user, 0), in_flight[user])
            if number == stall_at:
                time.sleep(0.3)  # a busy event loop: nothing else runs meanwhile
            await asyncio.sleep(hold)
            in_flight[user] -= 1

    async def all_of_them() -> None:
        await asyncio.gather(*(one(number, user) for number, user in enumerate(users)))

    asyncio.run(all_of_them())
    assert max(most.values()) <= pacer.parallel
    return starts


def test_starts_keep_the_interval_over_a_long_run():
    pacer = Pacer(per_second=100)
    starts = run_requests(pacer, [f"u{n}" for n in range(40)])
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= pacer.interval / 2 - 0.001, gaps  # as above: late by less than half keeps the schedule
    assert starts[-1] - starts[0] >= 39 * pacer.interval * 0.99


def test_a_stalled_loop_does_not_release_a_burst():
    pacer = Pacer(per_second=100)
    starts = run_requests(pacer, [f"u{n}" for n in range(60)], stall_at=5)
    window = 30
    spans = [starts[k + window] - starts[k] for k in range(len(starts) - window)]
    assert min(spans) >= (window - 0.5) * pacer.interval * 0.99


def test_a_429_is_retried_after_its_retry_after_or_a_back_off_but_not_a_daily_quota():
    def limited(error_type: str = "quota_requests_by_ip", retry_after: float | None = None) -> Reply:
        return Reply("Metrika", status=429, error_type=error_type, retry_after=retry_after)

    assert retry_wait(PROBE, "GET", limited(retry_after=2.0), 0) == 2.0
    assert retry_wait(PROBE, "GET", limited(), 0) == 1.0 and retry_wait(PROBE, "GET", limited(), 1) == 2.0
    assert retry_wait(PROBE, "GET", limited(), 2) is None  # two retries, then it is reported
    assert retry_wait(PROBE, "GET", limited(retry_after=3600), 0) is None  # too long to wait here
    assert retry_wait(PROBE, "GET", limited("quota_requests_by_uid"), 0) is None  # a daily quota
    assert retry_wait(PROBE, "GET", Reply("Metrika", status=200), 0) is None
