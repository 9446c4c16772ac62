"""Metrika's quotas, kept on our side (as Yandex documents them): requests a
second from this IP (all tokens together), requests in flight per user, Reports API requests
(`/stat/v1/*`) per 5 minutes per user, and requests a second to the Logs API. A command that
sends many requests (check-access with thousands of counters, status over hundreds of
profiles, api --paginate) asks the pacer for a slot before each Metrika request, so it never
earns a 429 by itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

PER_SECOND = 30  # Metrika: requests a second per IP
PARALLEL = 3  # Metrika: requests in flight per user
LOGS_PER_SECOND = 10  # the Logs API (…/logrequest…): requests a second per IP
REPORTS_PER_WINDOW = 200  # the Reports API (/stat/v1/*): requests per user in REPORTS_WINDOW
REPORTS_WINDOW = 300.0  # seconds (Metrika then blocks the user's reports for 5 minutes)
MARGIN = 0.95  # send a little under the quota: the server's clock and ours are not the same clock


def kind_of(path: str) -> str:
    """Which quota pool a Metrika request's path draws on: "reports", "logs" or "management"."""
    if path.startswith("/stat/"):
        return "reports"
    if "/logrequest" in path:
        return "logs"
    return "management"


class Pacer:
    """Starts Metrika requests evenly spaced under `per_second`, at most `parallel` per user at once.

    `burst` > 1 lets that many start together after a pause (a token bucket of that size):
    `api --paginate` sends its pages three at a time. The steady rate is lowered to match, so
    that no one-second window ever holds more than `per_second * margin` starts. Logs API
    requests are also spaced under `logs_per_second`, and a user's Reports requests never
    number more than `reports * margin` in any `reports_window` seconds."""

    def __init__(
        self,
        per_second: float = PER_SECOND,
        parallel: int = PARALLEL,
        margin: float = MARGIN,
        burst: int = 1,
        logs_per_second: float = LOGS_PER_SECOND,
        reports: int = REPORTS_PER_WINDOW,
        reports_window: float = REPORTS_WINDOW,
    ) -> None:
        self.interval = 1.0 / (per_second * margin - (burst - 1))
        self.tolerance = (burst - 1) * self.interval  # how far ahead of the even schedule a start may be
        self.parallel = parallel
        self.logs_interval = 1.0 / (logs_per_second * margin)
        self.reports = max(1, int(reports * margin))
        self.reports_window = reports_window
        self._next_start = 0.0
        self._next_logs = 0.0
        self._reports: dict[str, deque[float]] = {}  # user -> starts of their recent Reports requests
        self._lock: asyncio.Lock | None = None
        self._users: dict[str, asyncio.Semaphore] = {}

    def _earliest(self, now: float, user: str, kind: str) -> float:
        start = max(now, self._next_start - self.tolerance)
        if kind == "logs":
            start = max(start, self._next_logs)
        if kind == "reports":
            recent = self._reports.setdefault(user, deque())
            while recent and recent[0] <= now - self.reports_window:
                recent.popleft()
            if len(recent) >= self.reports:
                start = max(start, recent[-self.reports] + self.reports_window)
        return start

    @contextlib.asynccontextmanager
    async def slot(self, user: str = "", kind: str = "management") -> AsyncIterator[None]:
        """Hold a slot for one request of `user` (a login or any key naming one token's owner)
        to the quota pool `kind` (see kind_of)."""
        if self._lock is None:
            self._lock = asyncio.Lock()  # made inside the running loop
        in_flight = self._users.setdefault(user, asyncio.Semaphore(self.parallel))
        async with in_flight:
            async with self._lock:  # held while waiting: requests start one by one, in turn
                loop = asyncio.get_running_loop()
                now = loop.time()
                start = self._earliest(now, user, kind)
                if start > now:
                    await asyncio.sleep(start - now)
                    now = loop.time()
                # On schedule, whatever the small delay of waking up; but a start late by more than
                # half an interval (a busy event loop) moves the schedule to when it really started,
                # so that the requests behind it do not go in a burst to catch up.
                planned = start if now <= start + self.interval / 2 else now
                self._next_start = max(self._next_start, planned) + self.interval
                if kind == "logs":
                    self._next_logs = now + self.logs_interval
                elif kind == "reports":
                    self._reports[user].append(now)
            yield
