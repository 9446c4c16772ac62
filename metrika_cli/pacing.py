"""Metrika's quotas, kept on our side: requests a second from this IP (all tokens together) and
requests in flight per user. A command that sends many requests (check-access with thousands
of counters, status over hundreds of profiles, api --paginate) asks the pacer for a slot before
each Metrika request, so it never earns a 429 by itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

PER_SECOND = 30  # Metrika: requests a second per IP
PARALLEL = 3  # Metrika: requests in flight per user
MARGIN = 0.95  # send a little under the quota: the server's clock and ours are not the same clock


class Pacer:
    """Starts Metrika requests evenly spaced under `per_second`, at most `parallel` per user at once.

    `burst` > 1 lets that many start together after a pause (a token bucket of that size):
    `api --paginate` sends its pages three at a time. The steady rate is lowered to match, so
    that no one-second window ever holds more than `per_second * margin` starts."""

    def __init__(
        self, per_second: float = PER_SECOND, parallel: int = PARALLEL, margin: float = MARGIN, burst: int = 1
    ) -> None:
        self.interval = 1.0 / (per_second * margin - (burst - 1))
        self.tolerance = (burst - 1) * self.interval  # how far ahead of the even schedule a start may be
        self.parallel = parallel
        self._next_start = 0.0
        self._lock: asyncio.Lock | None = None
        self._users: dict[str, asyncio.Semaphore] = {}

    @contextlib.asynccontextmanager
    async def slot(self, user: str = "") -> AsyncIterator[None]:
        """Hold a slot for one request of `user` (a login or any key naming one token's owner)."""
        if self._lock is None:
            self._lock = asyncio.Lock()  # made inside the running loop
        in_flight = self._users.setdefault(user, asyncio.Semaphore(self.parallel))
        async with in_flight:
            async with self._lock:  # held while waiting: requests start one by one, in turn
                loop = asyncio.get_running_loop()
                now = loop.time()
                start = max(now, self._next_start - self.tolerance)
                if start > now:
                    await asyncio.sleep(start - now)
                    now = loop.time()
                # On schedule, whatever the small delay of waking up; but a start late by more than
                # half an interval (a busy event loop) moves the schedule to when it really started,
                # so that the requests behind it do not go in a burst to catch up.
                planned = start if now <= start + self.interval / 2 else now
                self._next_start = max(self._next_start, planned) + self.interval
            yield
