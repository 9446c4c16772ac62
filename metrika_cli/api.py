"""The HTTP calls to Yandex ID and Metrika. With connections.py (the connections under it, on
httpcore's public API), the only module that imports httpx."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import ssl
import time
import urllib.request
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from . import __version__
from .bodies import ACCEPTED, BadEncoding, BrokenEncoding, Decoder
from .connections import Connections
from .env import Env
from .errors import BadInput
from .evidence import Reply
from .i18n import _
from .output import redact
from .pacing import PARALLEL, Pacer, kind_of
from .text import hide_userinfo

PAGE_SIZE = 1000  # counters a page: Metrika's largest per_page
REPORT_PAGE_SIZE = 100_000  # report rows a page when -f limit does not say: the Reporting API's largest
IDS_PER_REQUEST = 100  # keeps the URL short whatever the number of counters asked for
MAX_PAGES = 100  # pages of one list, whatever total the server claims (100,000 counters, 10^7 report rows)
MAX_ROWS = 10**12  # a row count beyond this is no list's: unexpected_response
MAX_BODY = 16 * 1024 * 1024  # bytes of an answer held in memory, after decompression


def proxy_for(environ: Mapping[str, str], url: str) -> tuple[str, str] | None:
    """(variable, proxy URL) that httpx will use for `url`, minus NO_PROXY; refuses a proxy it cannot use."""
    parts = urlsplit(url)
    no_proxy = environ.get("no_proxy") or environ.get("NO_PROXY")
    if no_proxy and urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
        parts.hostname or "", {"no": no_proxy}
    ):
        return None
    for name in (f"{parts.scheme}_proxy", f"{parts.scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY"):
        if environ.get(name):
            _check_proxy(name, environ[name])
            return name, hide_userinfo(environ[name])
    return None


def _check_proxy(name: str, value: str) -> None:
    url = value if "://" in value else f"http://{value}"
    try:
        proxy = urlsplit(url)
        usable = proxy.scheme in ("http", "https") and bool(proxy.hostname) and proxy.port != 0
        if usable:
            httpx.Proxy(url)  # httpx's own parser is stricter (control characters, IPv4 octets)
    except (ValueError, httpx.InvalidURL):  # a port out of range, a broken address
        usable = False
    if not usable:
        raise BadInput(
            _("{variable} is not a proxy metrika can use: {proxy} (an http:// or https:// proxy is needed).").format(
                variable=name, proxy=hide_userinfo(value)
            ),
            fix=[_("Correct {variable}, or unset it to connect directly.").format(variable=name)],
        )


@dataclass(frozen=True)
class RetryPolicy:
    """When one request is sent again, as data: every command's differences are here.

    `statuses` are retried whatever the method (a 429: Metrika refused before doing anything);
    `safe_statuses` and `network` (failures by kind, see classify_network_error) for GET only, as a
    write that may have happened is never repeated. `tries` counts the first attempt; a wait
    longer than `longest_wait` (a Retry-After) is reported, not waited out; the call, its retries
    and waits included, ends within `longest_total` seconds (or METRIKA_TIMEOUT, if longer)."""

    name: str
    statuses: frozenset[int] = frozenset({429, 420})  # 420: the English quota page's word for 429
    safe_statuses: frozenset[int] = frozenset()
    network: frozenset[str] = frozenset()
    tries: int = 3
    longest_wait: float = 10.0
    longest_total: float = 30.0
    backoff: tuple[float, ...] = (1.0, 2.0, 4.0)  # seconds before each retry when the server does not say


# whoami, check-access, status, login's verification: a 429 (someone else on the same IP) twice.
PROBE = RetryPolicy("probe")
# `metrika api`: a 429 three times, and for GET a 5xx or a network failure that seconds may mend.
API = RetryPolicy(
    "api",
    safe_statuses=frozenset({500, 502, 503, 504}),
    network=frozenset({"refused", "timeout", "cut", "other"}),
    tries=4,
)
# OAuth form posts (a code, a refresh token): never sent twice, no 4xx retried.
OAUTH = RetryPolicy("oauth", statuses=frozenset(), tries=1)
NEVER_RETRIED = ("quota_requests_by_uid",)  # a daily quota: it resets at 00:00 UTC, seconds never help
SAFE_METHODS = ("GET", "HEAD")
# A form field's value in METRIKA_DEBUG's trace of an OAuth post shows as [redacted].
SECRET_FORM_FIELDS = ("client_secret", "code", "code_verifier", "refresh_token", "access_token", "device_code")
DEAD_AFTER = 2  # connection failures of one kind to a host before a run stops trying it
DEAD_KINDS = ("refused", "dns", "timeout")  # the host is not there, rather than slow


def retry_wait(policy: RetryPolicy, method: str, reply: Reply, attempt: int, elapsed: float = 0.0) -> float | None:
    """Seconds to wait before sending `reply`'s request again (attempt counts from 0), or None."""
    if attempt + 1 >= policy.tries or reply.error_type in NEVER_RETRIED:
        return None
    safe = method.upper() in SAFE_METHODS
    status = reply.status
    if reply.network is not None:
        retried = safe and reply.network in policy.network
    else:
        retried = status in policy.statuses or (safe and status in policy.safe_statuses)
    if not retried:
        return None
    wait = reply.retry_after if reply.retry_after is not None else policy.backoff[min(attempt, len(policy.backoff) - 1)]
    if wait > policy.longest_wait or elapsed + wait >= policy.longest_total:
        return None
    return wait


@dataclass
class Sink:
    """Where `--output` puts a successful answer's body as it arrives (no size cap): `write`
    takes each decoded piece; `progress(received, expected)` counts the bytes off the wire."""

    write: Callable[[bytes], object]
    progress: Callable[[int, int | None], None] = lambda received, expected: None


class Client:
    """One async httpx client for a command; every request carries the token in the header only."""

    def __init__(
        self, env: Env, token: str | None, pacer: Pacer | None = None, user: str = "", transport: Any = None
    ) -> None:
        for base in (env.endpoints.api_url, env.endpoints.login_url):
            proxy_for(env.environ, base)  # refuses an unusable proxy before anything is sent
        self.env = env
        self.pacer = pacer or env.pacer()
        self.user = user  # whose quota the Metrika requests count against
        self.endpoints = env.endpoints
        hooks: dict[str, list[Any]] = (
            {"request": [self._trace_request], "response": [self._trace_response]} if env.debug else {}
        )
        headers = {"User-Agent": f"metrika-cli/{__version__}", "Accept-Encoding": ", ".join(ACCEPTED)}
        if token is not None:
            headers["Authorization"] = f"OAuth {token}"
        # The Env is the only route out: proxies (and SSL_CERT_FILE) from env.environ, through
        # SharedTransport and proxy_for; never os.environ. `transport`: a pool shared by many Clients.
        self._own_transport = None if transport is not None else SharedTransport(env)
        self.transport = transport or self._own_transport
        self.http = httpx.AsyncClient(
            transport=self.transport,
            trust_env=False,
            timeout=self.endpoints.timeout,
            headers=headers,
            event_hooks=hooks,
            follow_redirects=False,
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        if self._own_transport is not None:
            await self._own_transport.close()

    async def _trace_request(self, request: httpx.Request) -> None:
        request.extensions["metrika_started"] = time.monotonic()
        auth = " Authorization: OAuth [redacted]" if "authorization" in request.headers else ""
        self._trace(f"metrika: > {request.method} {request.url}{auth}")
        form = request.extensions.get("metrika_form")
        if form:
            self._trace(f"metrika: > {traced_form(form)}")

    async def _trace_response(self, response: httpx.Response) -> None:
        started = response.request.extensions.get("metrika_started", time.monotonic())
        elapsed = (time.monotonic() - started) * 1000
        self._trace(
            f"metrika: < {response.status_code} {response.request.method} {response.request.url} "
            f"({elapsed:.0f} ms, {response.headers.get('content-type', '-')})"
        )

    def _trace(self, line: str) -> None:
        self.env.stderr.write(redact(self.env, line) + "\n")
        self.env.stderr.flush()

    async def request(
        self,
        method: str,
        url: str,
        policy: RetryPolicy,
        service: str = "Metrika",
        outgoing: Outgoing | None = None,
        on_retry: Callable[[Reply, float, int], None] | None = None,
    ) -> Reply:
        """One call under `policy`: sent, and sent again while the policy says so, all of it within
        the policy's total and METRIKA_DEADLINE; Metrika requests under the pacer. Never raises
        for the network: a failure is a Reply."""
        outgoing = outgoing or Outgoing()
        loop = asyncio.get_running_loop()
        started = loop.time()
        total = max(policy.longest_total, self.endpoints.timeout)
        for attempt in range(policy.tries):
            reply = await self._within_deadline(service, method, url, outgoing, total - (loop.time() - started))
            wait = retry_wait(policy, method, reply, attempt, loop.time() - started)
            if wait is None or wait >= self.env.time_left():
                return reply
            if on_retry is not None:
                on_retry(reply, wait, attempt)
            await asyncio.sleep(wait)
        raise AssertionError("the last attempt always returns")

    async def _within_deadline(self, service: str, method: str, url: str, outgoing: Outgoing, left: float) -> Reply:
        """One attempt, the pacer's wait included, cut off when METRIKA_DEADLINE runs out."""
        remaining = self.env.time_left()
        try:
            if remaining <= 0:
                raise TimeoutError
            attempt = self._attempt(service, method, url, outgoing, left)
            return await (attempt if remaining == float("inf") else asyncio.wait_for(attempt, remaining))
        except TimeoutError:
            return self._failed(service, urlsplit(url).hostname or url, "deadline", "METRIKA_DEADLINE")

    async def _attempt(self, service: str, method: str, url: str, outgoing: Outgoing, left: float) -> Reply:
        if service != "Metrika":
            return await self.send(service, method, url, outgoing, left)
        shared = self.transport
        if not isinstance(shared, SharedTransport):
            async with self.pacer.slot(self.user, kind_of(urlsplit(url).path)):
                return await self.send(service, method, url, outgoing, left)
        # A host known dead is not waited for: neither before the pacer, nor while in its queue.
        sending = asyncio.Event()

        async def paced() -> Reply:
            async with self.pacer.slot(self.user, kind_of(urlsplit(url).path)):
                sending.set()
                return await self.send(service, method, url, outgoing, left)

        reply = await shared.unless_dead(url, paced(), sending)
        if isinstance(reply, Reply):
            return reply
        return self._failed(service, urlsplit(url).hostname or url, reply, "DeadHost")

    async def send(self, service: str, method: str, url: str, outgoing: Outgoing, left: float | None = None) -> Reply:
        """One request, bounded from start to end by METRIKA_TIMEOUT (a server that drips bytes
        included; with a sink, each wait for data instead) and by `left` seconds, and in size by
        MAX_BODY after decompression; never raises for the network."""
        host = urlsplit(url).hostname or url
        limit = self.endpoints.timeout if left is None else max(0.001, min(self.endpoints.timeout, left))
        try:
            if outgoing.sink is not None:
                status, headers, content = await self._exchange(method, url, outgoing, self.endpoints.timeout)
            else:
                status, headers, content = await asyncio.wait_for(self._exchange(method, url, outgoing, None), limit)
        except (TimeoutError, httpx.TimeoutException) as exc:
            kind = (
                classify_network_error(exc, url, self.env.environ)
                if isinstance(exc, httpx.TimeoutException)
                else "timeout"
            )
            return self._failed(service, host, kind, "timeout")
        except httpx.HTTPError as exc:
            return self._failed(
                service, host, classify_network_error(exc, url, self.env.environ), exc.__class__.__name__
            )
        except BodyTooLarge:
            return Reply(service, host, None, broken=True, detail="too_large")
        except BadEncoding as exc:
            return Reply(service, host, None, broken=True, detail="encoding", data=exc.value)
        except BrokenEncoding:
            return Reply(service, host, None, broken=True, detail="broken_encoding")
        if outgoing.sink is not None and 200 <= status < 300:  # the body is in the sink
            return Reply(service, host, status, headers=headers.multi_items())
        return parse_body(service, host, status, headers, content, outgoing.expect_json, self.env.now())

    async def _exchange(
        self, method: str, url: str, outgoing: Outgoing, read_timeout: float | None
    ) -> tuple[int, httpx.Headers, bytes]:
        extensions = {"metrika_form": outgoing.form} if outgoing.form else None
        timeout = httpx.Timeout(read_timeout) if read_timeout is not None else httpx.USE_CLIENT_DEFAULT
        with contextlib.ExitStack() as opened:
            request = self.http.build_request(
                method,
                url,
                params=outgoing.params,
                content=outgoing.content,
                data=outgoing.form,
                files=outgoing.files(opened) if outgoing.uploads or outgoing.fields else None,
                headers=outgoing.headers or None,
                timeout=timeout,
                extensions=extensions,
            )
            response = await self.http.send(request, stream=True)
        try:
            decoder = Decoder(response.headers.get("content-encoding"))
            sink = outgoing.sink if outgoing.sink is not None and 200 <= response.status_code < 300 else None
            content = await self._read(response, decoder, sink)
            return response.status_code, response.headers, content
        finally:
            await response.aclose()

    async def _read(self, response: httpx.Response, decoder: Decoder, sink: Sink | None) -> bytes:
        """The body, decoded a bounded step at a time: into memory up to MAX_BODY, or to the sink."""
        chunks: list[bytes] = []
        size = received = 0
        expected = _length(response.headers)
        async for raw in _raw_chunks(response):
            received += len(raw)
            for piece in decoder.feed(raw):
                if sink is not None:
                    sink.write(piece)
                    continue
                size += len(piece)
                if size > MAX_BODY:
                    raise BodyTooLarge
                chunks.append(piece)
            if sink is not None:
                sink.progress(received, expected)
        rest = decoder.finish()
        if sink is not None:
            sink.write(rest)
            return b""
        if size + len(rest) > MAX_BODY:
            raise BodyTooLarge
        return b"".join([*chunks, rest])

    def _failed(self, service: str, host: str, network: str, detail: str) -> Reply:
        if self.env.debug:
            self._trace(f"metrika: ! {service}: {detail}")
        return Reply(service, host, network=network, detail=detail)

    async def identity(self) -> Reply:
        return await self.request(
            "GET", f"{self.endpoints.login_url}/info", PROBE, "Yandex ID", Outgoing(params={"format": "json"})
        )

    async def _metrika(self, url: str, params: dict[str, Any] | None = None) -> Reply:
        return await self.request("GET", url, PROBE, outgoing=Outgoing(params=params))

    async def _counters_page(self, params: dict[str, Any]) -> Reply:
        return await self._metrika(f"{self.endpoints.api_url}/management/v1/counters", params)

    async def first_counters_page(self) -> tuple[Reply, dict[int, dict[str, Any]]]:
        """One page of counters (up to PAGE_SIZE): proves the token works; `rows` is the total."""
        reply = await self._counters_page({"per_page": PAGE_SIZE})
        if not reply.ok:
            return reply, {}
        found = counters_by_id([reply])
        return Reply("Metrika", reply.host, 200, data={"rows": reply.data.get("rows", len(found))}), found

    async def accounts(self) -> Reply:
        """The accounts the token's owner represents (read only: never PUT)."""
        return await self._metrika(f"{self.endpoints.api_url}/management/v1/accounts")

    async def counters(
        self, counter_ids: list[int] | None = None, all_pages: bool = False
    ) -> tuple[Reply, dict[int, dict[str, Any]]]:
        """Counters the token's owner can see: those asked for (by the counter_ids filter), or
        all of them when `all_pages`, or just enough to prove the token works for Metrika."""
        url = f"{self.endpoints.api_url}/management/v1/counters"
        if counter_ids:
            chunks = [counter_ids[i : i + IDS_PER_REQUEST] for i in range(0, len(counter_ids), IDS_PER_REQUEST)]
            queries = [{"counter_ids": ",".join(map(str, chunk)), "per_page": PAGE_SIZE} for chunk in chunks]
            replies = list(await asyncio.gather(*(self._counters_page(q) for q in queries)))
        elif all_pages:
            pager = Pager(self, url, [], MANAGEMENT_PAGES, PROBE)
            replies = [page async for page in pager.pages()]
            if pager.problem is not None:
                replies.append(pager.problem)
        else:
            replies = [await self._counters_page({"per_page": 1})]
        failed = next((reply for reply in replies if not reply.ok), None)
        if failed:
            return failed, {}
        found = counters_by_id(replies)
        total = len(found) if counter_ids or all_pages else replies[0].data.get("rows", len(found))
        return Reply("Metrika", replies[0].host, 200, data={"rows": total}), found


async def _raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it came off the wire (a response built whole, as a test's transport makes, at once)."""
    if response.is_stream_consumed:
        yield response.content
        return
    async for raw in response.aiter_raw():
        yield raw


def counters_by_id(replies: list[Reply]) -> dict[int, dict[str, Any]]:
    return {
        counter["id"]: counter
        for reply in replies
        for counter in reply.data.get("counters", [])
        if isinstance(counter, dict) and isinstance(counter.get("id"), int)
    }


def _length(headers: httpx.Headers) -> int | None:
    value = headers.get("content-length", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 16 else None


def traced_form(form: Mapping[str, str]) -> str:
    """An OAuth form body for METRIKA_DEBUG's trace, its secrets as [redacted]."""
    shown = {key: "[redacted]" if key in SECRET_FORM_FIELDS else value for key, value in form.items()}
    return urlencode(shown, safe="[]")


@dataclass
class Outgoing:
    """What a request carries besides its method and URL: the query, a body (bytes, a form, or
    multipart fields and files), extra headers, and where a successful body goes (`--output`)."""

    params: Any = None
    content: bytes | None = None
    form: dict[str, str] | None = None
    fields: list[tuple[str, str]] = field(default_factory=list)
    uploads: list[tuple[str, Path]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    sink: Sink | None = None
    expect_json: bool = True  # False: a 200 that is not JSON is fine unless it says it is JSON

    def files(self, opened: contextlib.ExitStack) -> list[tuple[str, Any]]:
        """Multipart parts for httpx: the files opened afresh for each attempt (closed with
        `opened`), then the fields."""
        parts: list[tuple[str, Any]] = [
            (key, (path.name, opened.enter_context(path.open("rb")), "text/csv" if path.suffix == ".csv" else None))
            for key, path in self.uploads
        ]
        return parts + [(key, (None, value)) for key, value in self.fields]


class BodyTooLarge(Exception):
    """An answer longer than MAX_BODY once decompressed."""


# ---- paging ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paging:
    """How a list is paged: the page size parameter, where the rows and the total are."""

    size_key: str  # per_page or limit
    rows_key: str  # counters or data
    total_key: str  # rows or total_rows
    default_size: int  # rows a page when the caller does not say


MANAGEMENT_PAGES = Paging("per_page", "counters", "rows", PAGE_SIZE)
REPORT_PAGES = Paging("limit", "data", "total_rows", REPORT_PAGE_SIZE)


def paging_of(path: str) -> Paging:
    return REPORT_PAGES if path.startswith("/stat/") else MANAGEMENT_PAGES


class Pager:
    """Every page of a list, in order: one pager for offset/per_page and offset/limit.

    It advances by the rows received (a server may cap the page size), stops at a page shorter
    than the page size or at an empty one, and uses the total only to ask for pages ahead of time
    and, when the total is exact, to stop without one more request: a rounded total
    (total_rows_rounded) decides nothing. Numbers no list can hold make the page
    `unexpected_response` (`problem`); MAX_PAGES pages at most (`more_from`: where it stopped)."""

    def __init__(
        self,
        client: Client,
        url: str,
        params: list[tuple[str, str]],
        paging: Paging,
        policy: RetryPolicy,
        ahead: int = 2 * PARALLEL,
        on_retry: Callable[[Reply, float, int], None] | None = None,
    ) -> None:
        self.client, self.url, self.paging, self.policy, self.ahead = client, url, paging, policy, ahead
        values = dict(params)
        self.start = int(values.get("offset", "1"))
        self.size = int(values.get(paging.size_key, str(paging.default_size)))
        self.params = [(key, value) for key, value in params if key not in ("offset", paging.size_key)]
        self.on_retry = on_retry
        self.problem: Reply | None = None  # a page whose numbers no list can have
        self.more_from: int | None = None  # the offset after MAX_PAGES pages, when the list went on
        self.failed: Reply | None = None  # the page that failed (network, status)
        self.expected: int | None = None  # pages the total promises, for a progress bar
        self.not_a_list = False  # the first page has no rows to page through: shown, and that is all

    async def _page(self, offset: int) -> Reply:
        params = [*self.params, ("offset", str(offset)), (self.paging.size_key, str(self.size))]
        return await self.client.request(
            "GET", self.url, self.policy, outgoing=Outgoing(params=params), on_retry=self.on_retry
        )

    def _measure(self, reply: Reply) -> tuple[int, int | None, bool] | None:
        """(rows on the page, the total, whether the total is exact); None: numbers beyond reason."""
        data = reply.data if isinstance(reply.data, dict) else {}
        rows = data.get(self.paging.rows_key)
        total = data.get(self.paging.total_key)
        if not isinstance(rows, list) or len(rows) > self.size:
            return None
        if total is not None and (not _count(total) or total < len(rows)):
            return None
        return len(rows), total, total is not None and data.get("total_rows_rounded") is not True

    async def pages(self) -> AsyncIterator[Reply]:
        """Yield each page that succeeded; a failure ends the pages (`failed` or `problem`)."""
        first = await self._page(self.start)
        if not first.ok:
            self.failed = first
            yield first
            return
        if self.paging.rows_key not in (first.data if isinstance(first.data, dict) else {}):
            self.not_a_list = True
            yield first
            return
        measured = self._measure(first)
        if measured is None:
            self.problem = unexpected(first)
            return
        received, total, exact = measured
        left = (total or 0) - (self.start + received - 1)
        self.expected = 1 + min(MAX_PAGES - 1, max(0, -(-left // received) if received else 0))
        yield first
        if received == 0 or (received < self.size and not (total and self.start + received - 1 < total)):
            return
        self.size = received  # the server's page size: what it sent when more was there
        async for page in self._rest(self.start + received, total, exact):
            yield page

    async def _rest(self, offset: int, total: int | None, exact: bool) -> AsyncIterator[Reply]:
        pending: deque[tuple[int, asyncio.Task[Reply]]] = deque()
        planned = offset
        last = total if total is not None else offset  # without a total, one page at a time
        stop = min(last, self.start + MAX_PAGES * self.size - 1) if exact else self.start + MAX_PAGES * self.size - 1
        try:
            while True:
                while len(pending) < self.ahead and planned <= stop and (planned <= last or not pending):
                    pending.append((planned, asyncio.ensure_future(self._page(planned))))
                    planned += self.size
                if not pending:
                    break
                at, task = pending.popleft()
                reply = await task
                verdict = self._judge(reply, at, stop)
                if verdict is not None:
                    yield reply
                if verdict != "more":
                    break
                if not pending and planned > last:
                    last = planned  # past the (rounded) total and the pages still full: one more page
        finally:
            for _at, task in pending:
                task.cancel()
            await asyncio.gather(*(task for _at, task in pending), return_exceptions=True)

    def _judge(self, reply: Reply, offset: int, stop: int) -> str | None:
        """ "more" (read on), "end" (the last page), or None (the page failed: not shown)."""
        if not reply.ok:
            self.failed = reply
            return "end"
        measured = self._measure(reply)
        if measured is None:
            self.problem = unexpected(reply)
            return None
        received, total, exact = measured
        if received < self.size or (exact and total is not None and offset + received - 1 >= total):
            return "end"
        if offset + received - 1 >= stop:
            if not exact or total is None or offset + received - 1 < total:
                self.more_from = offset + received
            return "end"
        return "more"


def _count(value: Any) -> bool:
    """A row count a list can have: a whole number, not a bool, from 0 to MAX_ROWS."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ROWS


def unexpected(reply: Reply) -> Reply:
    """`reply` marked as a 200 whose body is not what a page of a list holds."""
    return Reply(reply.service, reply.host, reply.status, broken=True, detail="absurd_numbers", raw=reply.raw)


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date (against
    `now`, the Env's clock; the system's when not given)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 6:
        return float(value)
    try:
        from email.utils import parsedate_to_datetime

        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds()) if moment.tzinfo else None


def parse_reply(service: str, host: str, response: httpx.Response) -> Reply:
    """A complete httpx response as a Reply (unit tests build these by hand)."""
    return parse_body(service, host, response.status_code, response.headers, response.content)


def parse_body(
    service: str,
    host: str,
    status: int,
    headers: httpx.Headers,
    content: bytes,
    expect_json: bool = True,
    now: datetime | None = None,
) -> Reply:
    """The answer as a Reply; a 200 whose JSON is broken or nested beyond reason is `broken`
    (without `expect_json`, only when its Content-Type says JSON: a CSV report is no JSON)."""
    reply = Reply(
        service,
        host,
        status,
        retry_after=retry_after(headers.get("retry-after"), now),
        raw=content,
        headers=headers.multi_items(),
    )
    if "html" in headers.get("content-type", ""):
        reply.html = True
        return reply
    try:
        reply.data = json.loads(content)
    except (ValueError, RecursionError):  # not JSON, or nested beyond reason
        reply.broken = status == 200 and (expect_json or "json" in headers.get("content-type", ""))
        return reply
    if not isinstance(reply.data, dict):
        reply.broken = status == 200 and expect_json
        return reply
    if status == 200:
        if service == "Metrika" and not isinstance(reply.data.get("counters", []), list):
            reply.broken = True
        return reply
    errors = reply.data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reply.error_type = str(errors[0].get("error_type") or "") or None
    return reply


def _causes(exc: BaseException) -> list[BaseException]:
    chain, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def classify_network_error(exc: httpx.HTTPError, url: str, environ: Mapping[str, str]) -> str:
    """dns, refused, tls, proxy, timeout, cut or other: what a person can act on."""
    if isinstance(exc, DeadHost):
        return exc.kind
    if isinstance(exc, httpx.ProxyError):
        return "proxy"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    chain = _causes(exc)
    text = " ".join(str(item) for item in chain).lower()
    if isinstance(exc, httpx.ConnectError) and proxy_for(environ, url):
        return "proxy"
    if (
        any(isinstance(item, socket.gaierror) for item in chain)
        or "name or service not known" in text
        or "nodename nor servname" in text
        or "name resolution" in text
        or "getaddrinfo" in text
    ):
        return "dns"
    if any(isinstance(item, ssl.SSLError) for item in chain) or "ssl" in text or "certificate" in text:
        return "tls"
    if any(isinstance(item, ConnectionRefusedError) for item in chain) or "connection refused" in text:
        return "refused"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return "cut"
    return "other"


class DeadHost(httpx.ConnectError):
    """A host that failed to connect DEAD_AFTER times this run: not asked again."""

    def __init__(self, kind: str, host: str) -> None:
        super().__init__(f"{host}: {kind}, {DEAD_AFTER} times: not tried again")
        self.kind = kind


def verify(environ: Mapping[str, str]) -> ssl.SSLContext | bool:
    """The certificates to trust: SSL_CERT_FILE or SSL_CERT_DIR of the Env's environ, as httpx
    would read them from the process's; else httpx's own (certifi)."""
    cafile, capath = environ.get("SSL_CERT_FILE"), environ.get("SSL_CERT_DIR")
    if cafile and os.path.isfile(cafile):
        return ssl.create_default_context(cafile=cafile)
    if capath and os.path.isdir(capath):
        return ssl.create_default_context(capath=capath)
    return True


def no_tls() -> ssl.SSLContext:
    """For a run whose every base URL is plain http: a context that trusts no certificate at all,
    so any TLS it were ever asked for fails rather than passes unchecked. Loading the real one
    (certifi's bundle) costs about 15 ms a run, for nothing here. A proxy's own TLS is not this."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class SharedTransport(httpx.AsyncBaseTransport):
    """One connection pool (per proxy) for the Clients of a run: a Client closing leaves it open,
    and a Client made with it costs no TLS context of its own (about 25 ms each otherwise).
    The proxy of each request is the one proxy_for names, as httpx would choose it itself.
    A host that is dead (refused, not in DNS, no connection within the time-out) DEAD_AFTER
    times is not asked again: the requests left fail at once with the same network error."""

    def __init__(self, env: Env) -> None:
        self.environ = env.environ
        self.inner: httpx.AsyncBaseTransport | None = env.transport  # a test's transport: every request
        self.env = env
        self.pools: dict[str | None, httpx.AsyncBaseTransport] = {}
        self.failures: dict[tuple[str, int | None], list[str]] = {}  # (host, port) -> kinds of connect failures
        self.deaths: dict[tuple[str, int | None], asyncio.Event] = {}  # set when that host is found dead

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        where = (request.url.host, request.url.port)
        kinds = self.failures.get(where, [])
        if len(kinds) >= DEAD_AFTER:
            raise DeadHost(kinds[-1], request.url.host)
        try:
            return await self._forward(request)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            kind = classify_network_error(exc, str(request.url), self.environ)
            if kind in DEAD_KINDS:
                self.failures.setdefault(where, []).append(kind)
                if len(self.failures[where]) >= DEAD_AFTER:
                    self._died(where).set()
            raise

    def _died(self, where: tuple[str, int | None]) -> asyncio.Event:
        """Set when the host at `where` is found dead."""
        return self.deaths.setdefault(where, asyncio.Event())

    def dead(self, url: str) -> str | None:
        """The kind of failure that made the host of `url` dead this run, or None."""
        parts = httpx.URL(url)
        kinds = self.failures.get((parts.host, parts.port), [])
        return kinds[-1] if len(kinds) >= DEAD_AFTER else None

    async def unless_dead(self, url: str, paced: Coroutine[Any, Any, Reply], sending: asyncio.Event) -> Reply | str:
        """`paced` (a request waiting for its slot in the pacer, then sent), or the kind of failure
        of its host as soon as that host is found dead while it still waits: the requests left
        fail at once, not one pacer interval after another. One already being sent is awaited."""
        kind = self.dead(url)
        if kind is not None:
            paced.close()
            return kind
        parts = httpx.URL(url)
        died = self._died((parts.host, parts.port))
        work, watch = asyncio.ensure_future(paced), asyncio.ensure_future(died.wait())
        try:
            await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
            if work.done() or sending.is_set():
                return await work
            work.cancel()
            return self.dead(url) or "refused"
        finally:
            watch.cancel()
            if not work.done():
                work.cancel()

    async def _forward(self, request: httpx.Request) -> httpx.Response:
        if self.inner is not None:
            return await self.inner.handle_async_request(request)
        found = proxy_for(self.environ, str(request.url))
        proxy = self.environ[found[0]] if found else None
        if proxy and "://" not in proxy:
            proxy = f"http://{proxy}"
        if proxy not in self.pools:
            ends = self.env.endpoints  # all plain http (loopback tests, a local proxy): no certificates to load
            plain = all(url.lower().startswith("http://") for url in (ends.api_url, ends.login_url, ends.oauth_url))
            trust = no_tls() if plain else verify(self.environ)
            self.pools[proxy] = Connections(proxy, trust)
        return await self.pools[proxy].handle_async_request(request)

    async def aclose(self) -> None:
        """Left open for the next Client; `close` closes it at the end of the run."""

    async def close(self) -> None:
        for pool in self.pools.values():
            await pool.aclose()


async def oauth_post(env: Env, path: str, form: dict[str, str], transport: Any = None) -> Reply:
    """A form POST to METRIKA_OAUTH_URL + `path` (the token endpoints): no Authorization header,
    never sent twice (OAUTH); METRIKA_DEBUG traces the form with its secrets redacted.
    `transport`: a pool shared by many calls (refresh --all). Without one, a transport of its own:
    httpx left to itself would set up the proxies of every scheme from the environment, a
    socks5:// HTTPS_PROXY included, even for a plain-http OAuth URL."""
    own = None if transport or env.transport else SharedTransport(env)
    for key in SECRET_FORM_FIELDS & form.keys():
        env.secrets.add(form[key])
    try:
        async with Client(env, None, transport=transport or own) as client:
            reply = await client.request(
                "POST", f"{env.endpoints.oauth_url}{path}", OAUTH, "Yandex OAuth", Outgoing(form=form)
            )
    finally:
        if own is not None:
            await own.close()
    if isinstance(reply.data, dict):  # what the flows decide on: the OAuth error, and no secret shown
        for key in ("access_token", "refresh_token", "device_code"):
            value = reply.data.get(key)
            if isinstance(value, str) and value:
                env.secrets.add(value)
        error = reply.data.get("error")
        reply.error_type = error if reply.status != 200 and isinstance(error, str) and error else None
    return reply
