"""The Pacer: Metrika requests start evenly spaced under 30 a second, at most 3 in flight per
user, and a busy event loop does not make them start in a burst afterwards."""

from __future__ import annotations

import asyncio
import itertools
import time

from metrika_cli.api import retry_wait
from metrika_cli.diagnose import Reply
from metrika_cli.pacing import Pacer


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


def test_starts_are_spaced_under_the_rate():
    pacer = Pacer(per_second=100)
    starts = run_requests(pacer, [f"u{n}" for n in range(40)])
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= pacer.interval * 0.5
    assert starts[-1] - starts[0] >= 39 * pacer.interval * 0.99


def test_at_most_three_in_flight_per_user():
    run_requests(Pacer(per_second=1000), ["same"] * 12, hold=0.05)


def test_a_stalled_loop_does_not_release_a_burst():
    pacer = Pacer(per_second=100)
    starts = run_requests(pacer, [f"u{n}" for n in range(60)], stall_at=5)
    window = 30
    spans = [starts[k + window] - starts[k] for k in range(len(starts) - window)]
    assert min(spans) >= (window - 0.5) * pacer.interval * 0.99


def test_a_429_is_retried_after_its_retry_after_or_a_back_off_but_not_a_daily_quota():
    def limited(error_type: str = "quota_requests_by_ip", retry_after: float | None = None) -> Reply:
        return Reply("Metrika", status=429, error_type=error_type, retry_after=retry_after)

    assert retry_wait(limited(retry_after=2.0), 0) == 2.0
    assert retry_wait(limited(), 0) == 1.0 and retry_wait(limited(), 1) == 2.0
    assert retry_wait(limited(), 2) is None  # two retries, then it is reported
    assert retry_wait(limited(retry_after=3600), 0) is None  # too long to wait here
    assert retry_wait(limited("quota_requests_by_uid"), 0) is None  # a daily quota
    assert retry_wait(Reply("Metrika", status=200), 0) is None
