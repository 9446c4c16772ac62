"""The pacer: Metrika's per-IP rate and per-user parallel quotas kept on our side."""

from __future__ import annotations

import asyncio
import itertools

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
    moments, _most = starts(Pacer(parallel=100), 4, users=4)
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert all(gap >= 1 / 28.5 - 0.003 for gap in gaps), gaps  # a busy machine may only make them later


def test_a_burst_of_three_starts_together_then_the_rate_holds():
    moments, _most = starts(Pacer(parallel=100, burst=3), 35, users=35)
    assert moments[2] < 0.05  # the first three at once
    assert moments[3] >= 1 / 26.5 - 0.003
    assert most_in_one_second(moments) <= 29  # under 30 a second, as without a burst


def test_no_more_than_parallel_in_flight_per_user():
    _moments, most = starts(Pacer(burst=3), 9, users=1, hold=0.05)
    assert most == 3
