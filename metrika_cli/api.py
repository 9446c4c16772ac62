"""The HTTP calls to Yandex ID and Metrika. The only module that imports httpx."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

import httpx

from . import __version__
from .diagnose import Reply
from .env import Env
from .errors import BadInput
from .i18n import _
from .output import redact
from .pacing import Pacer
from .text import hide_userinfo

PAGE_SIZE = 1000
IDS_PER_REQUEST = 100  # keeps the URL short whatever the number of counters asked for
MAX_PAGES = 100  # 100,000 counters: a server's row count is never trusted beyond this
MAX_BODY = 16 * 1024 * 1024  # bytes of an answer, after decompression
RETRIES = 2  # a 429 that still comes (someone else on the same IP) is waited out this many times
BACKOFF = 1.0  # seconds before the first retry when a 429 has no Retry-After; doubled each time
MAX_RETRY_WAIT = 10.0  # a longer Retry-After (a daily quota) is reported, not waited out


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


class Client:
    """One async httpx client for a command; every request carries the token in the header only."""

    def __init__(self, env: Env, token: str, pacer: Pacer | None = None, user: str = "", transport: Any = None) -> None:
        for base in (env.endpoints.api_url, env.endpoints.login_url):
            proxy_for(env.environ, base)  # refuses an unusable proxy before anything is sent
        self.env = env
        self.pacer = pacer or Pacer()
        self.user = user  # whose quota the Metrika requests count against
        self.endpoints = env.endpoints
        hooks: dict[str, list[Any]] = (
            {"request": [self._trace_request], "response": [self._trace_response]} if env.debug else {}
        )
        self.http = httpx.AsyncClient(
            transport=transport or env.transport,  # `transport`: a pool shared by many Clients
            timeout=self.endpoints.timeout,
            headers={"Authorization": f"OAuth {token}", "User-Agent": f"metrika-cli/{__version__}"},
            event_hooks=hooks,
            follow_redirects=False,
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def _trace_request(self, request: httpx.Request) -> None:
        request.extensions["metrika_started"] = time.monotonic()
        self._trace(f"metrika: > {request.method} {request.url} Authorization: OAuth [redacted]")

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

    async def send(self, service: str, method: str, url: str, params: Any = None, body: bytes | None = None) -> Reply:
        """One request, bounded from start to end by METRIKA_TIMEOUT (a server that drips bytes
        included) and in size by MAX_BODY after decompression; never raises for the network."""
        host = urlsplit(url).hostname or url
        try:
            status, headers, content = await asyncio.wait_for(
                self._exchange(method, url, params, body), self.endpoints.timeout
            )
        except (TimeoutError, httpx.TimeoutException):
            return self._failed(service, host, "timeout", "deadline")
        except httpx.HTTPError as exc:
            return self._failed(service, host, classify_network_error(exc, url), exc.__class__.__name__)
        except BodyTooLarge:
            return Reply(service, host, None, broken=True, detail="too_large")
        return parse_body(service, host, status, headers, content)

    async def _exchange(
        self, method: str, url: str, params: Any, body: bytes | None
    ) -> tuple[int, httpx.Headers, bytes]:
        extra = {"Content-Type": "application/json"} if body is not None else None
        async with self.http.stream(method, url, params=params, content=body, headers=extra) as response:
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_BODY:
                    raise BodyTooLarge
                chunks.append(chunk)
            return response.status_code, response.headers, b"".join(chunks)

    def _failed(self, service: str, host: str, network: str, detail: str) -> Reply:
        if self.env.debug:
            self._trace(f"metrika: ! {service}: {detail}")
        return Reply(service, host, network=network, detail=detail)

    async def _get(self, service: str, url: str, params: dict[str, Any] | None = None) -> Reply:
        return await self.send(service, "GET", url, params)

    async def identity(self) -> Reply:
        return await self._get("Yandex ID", f"{self.endpoints.login_url}/info", {"format": "json"})

    async def _counters_page(self, params: dict[str, Any]) -> Reply:
        return await self._metrika(f"{self.endpoints.api_url}/management/v1/counters", params)

    async def _metrika(self, url: str, params: dict[str, Any] | None = None) -> Reply:
        """A Metrika request under the pacer; a 429 is waited out (its Retry-After, else a short
        back-off) and retried, and reported as it is when it does not pass."""
        for attempt in range(RETRIES + 1):
            async with self.pacer.slot(self.user):
                reply = await self._get("Metrika", url, params)
            wait = retry_wait(reply, attempt)
            if wait is None:
                break
            await asyncio.sleep(wait)
        return reply

    async def first_counters_page(self) -> tuple[Reply, dict[int, dict[str, Any]]]:
        """One page of counters (up to PAGE_SIZE): proves the token works; `rows` is the total."""
        reply = await self._counters_page({"per_page": PAGE_SIZE})
        if not reply.ok:
            return reply, {}
        found = {
            counter["id"]: counter
            for counter in reply.data.get("counters", [])
            if isinstance(counter, dict) and isinstance(counter.get("id"), int)
        }
        return Reply("Metrika", reply.host, 200, data={"rows": reply.data.get("rows", len(found))}), found

    async def accounts(self) -> Reply:
        """The accounts the token's owner represents (read only: never PUT)."""
        return await self._metrika(f"{self.endpoints.api_url}/management/v1/accounts")

    async def counters(
        self, counter_ids: list[int] | None = None, all_pages: bool = False
    ) -> tuple[Reply, dict[int, dict[str, Any]]]:
        """Counters the token's owner can see: those asked for (by the counter_ids filter), or
        all of them when `all_pages`, or just enough to prove the token works for Metrika."""
        if counter_ids:
            chunks = [counter_ids[i : i + IDS_PER_REQUEST] for i in range(0, len(counter_ids), IDS_PER_REQUEST)]
            queries = [{"counter_ids": ",".join(map(str, chunk)), "per_page": PAGE_SIZE} for chunk in chunks]
            replies = await asyncio.gather(*(self._counters_page(q) for q in queries))
        else:
            first = await self._counters_page({"per_page": PAGE_SIZE if all_pages else 1})
            replies = [first]
            total = first.data.get("rows", 0) if first.ok else 0
            if all_pages and isinstance(total, int) and total > PAGE_SIZE:
                offsets = range(PAGE_SIZE + 1, min(total, MAX_PAGES * PAGE_SIZE) + 1, PAGE_SIZE)
                replies += await asyncio.gather(
                    *(self._counters_page({"per_page": PAGE_SIZE, "offset": offset}) for offset in offsets)
                )
        failed = next((reply for reply in replies if not reply.ok), None)
        if failed:
            return failed, {}
        found = {
            counter["id"]: counter
            for reply in replies
            for counter in reply.data.get("counters", [])
            if isinstance(counter, dict) and isinstance(counter.get("id"), int)
        }
        total = len(found) if counter_ids else replies[0].data.get("rows", len(found))
        return Reply("Metrika", replies[0].host, 200, data={"rows": total}), found


def retry_wait(reply: Reply, attempt: int) -> float | None:
    """Seconds to wait before retrying a 429; None: no retry (not a 429, a daily quota, no tries left)."""
    if reply.status != 429 or attempt >= RETRIES or reply.error_type == "quota_requests_by_uid":
        return None
    wait = reply.retry_after if reply.retry_after is not None else BACKOFF * 2**attempt
    return wait if wait <= MAX_RETRY_WAIT else None


class BodyTooLarge(Exception):
    """An answer longer than MAX_BODY once decompressed."""


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
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
    from datetime import datetime

    return max(0.0, (moment - datetime.now(UTC)).total_seconds()) if moment.tzinfo else None


def parse_reply(service: str, host: str, response: httpx.Response) -> Reply:
    """A complete httpx response as a Reply (unit tests build these by hand)."""
    return parse_body(service, host, response.status_code, response.headers, response.content)


def parse_body(service: str, host: str, status: int, headers: httpx.Headers, content: bytes) -> Reply:
    reply = Reply(
        service,
        host,
        status,
        retry_after=retry_after(headers.get("retry-after")),
        raw=content,
        headers=headers.multi_items(),
    )
    if "html" in headers.get("content-type", ""):
        reply.html = True
        return reply
    try:
        reply.data = json.loads(content)
    except (ValueError, RecursionError):  # not JSON, or nested beyond reason
        reply.broken = status == 200
        return reply
    if not isinstance(reply.data, dict):
        reply.broken = status == 200
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


def classify_network_error(exc: httpx.HTTPError, url: str) -> str:
    """dns, refused, tls, proxy, timeout, cut or other: what a person can act on."""
    if isinstance(exc, httpx.ProxyError):
        return "proxy"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    chain = _causes(exc)
    text = " ".join(str(item) for item in chain).lower()
    if isinstance(exc, httpx.ConnectError) and proxy_for(os.environ, url):
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


Answers = tuple[Reply, Reply, dict[int, dict[str, Any]]]  # Yandex ID, Metrika, counters by id


@dataclass
class Questions:
    """What to ask about a token, and what the requests of a run share (status: one pacer and
    one connection pool for every profile)."""

    counter_ids: list[int] | None = None
    all_pages: bool = False
    first_page: bool = False  # one page of counters, not all of them (status)
    accounts: bool = False  # the accounts the owner represents (whoami, status)
    pacer: Pacer | None = None
    user: str = ""  # whose Metrika quota: the login, when known
    transport: Any = None


async def _no_answer() -> None:
    return None


async def gather_evidence_async(env: Env, token: str, ask: Questions) -> tuple[Answers, Reply | None]:
    """Ask Yandex ID and Metrika at the same time: one round trip of waiting, not two. Awaitable,
    so that many tokens are asked in one event loop; the accounts reply, when asked for, apart."""
    async with Client(env, token, ask.pacer, ask.user, ask.transport) as client:
        counters = client.first_counters_page() if ask.first_page else client.counters(ask.counter_ids, ask.all_pages)
        accounts = client.accounts() if ask.accounts else _no_answer()
        identity, (metrika, found), represented = await asyncio.gather(client.identity(), counters, accounts)
    return (identity, metrika, found), represented


class SharedTransport(httpx.AsyncBaseTransport):
    """One connection pool (per proxy) for the Clients of a run: a Client closing leaves it open,
    and a Client made with it costs no TLS context of its own (about 25 ms each otherwise).
    The proxy of each request is the one proxy_for names, as httpx would choose it itself."""

    def __init__(self, env: Env) -> None:
        self.environ = env.environ
        self.inner: httpx.AsyncBaseTransport | None = env.transport  # a test's transport: every request
        self.pools: dict[str | None, httpx.AsyncBaseTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.inner is not None:
            return await self.inner.handle_async_request(request)
        found = proxy_for(self.environ, str(request.url))
        proxy = self.environ[found[0]] if found else None
        if proxy and "://" not in proxy:
            proxy = f"http://{proxy}"
        if proxy not in self.pools:
            self.pools[proxy] = httpx.AsyncHTTPTransport(proxy=proxy)
        return await self.pools[proxy].handle_async_request(request)

    async def aclose(self) -> None:
        """Left open for the next Client; `close` closes it at the end of the run."""

    async def close(self) -> None:
        for pool in self.pools.values():
            await pool.aclose()


OAUTH_SECRET_FIELDS = frozenset(
    {"client_secret", "code", "code_verifier", "refresh_token", "access_token", "device_code"}
)


def redacted_form(form: Mapping[str, str]) -> str:
    """A form body for the METRIKA_DEBUG trace: every secret field's value hidden."""
    return "&".join(f"{key}={'[redacted]' if key in OAUTH_SECRET_FIELDS else value}" for key, value in form.items())


async def oauth_post(env: Env, path: str, form: dict[str, str], transport: Any = None) -> Reply:
    """POST a form to Yandex OAuth (env.endpoints.oauth_url + path), no Authorization header,
    bounded by METRIKA_TIMEOUT and MAX_BODY. Every secret sent or answered is registered on
    env.secrets; never raises for the network. An OAuth error (`invalid_grant`…) is the error_type.
    `transport`: a pool shared by many calls (refresh --all), else env.transport."""
    url = env.endpoints.oauth_url + path
    host = urlsplit(url).hostname or url
    proxy_for(env.environ, url)
    for key in OAUTH_SECRET_FIELDS & form.keys():
        env.secrets.add(form[key])

    def trace(line: str) -> None:
        if env.debug:
            env.stderr.write(redact(env, line) + "\n")
            env.stderr.flush()

    trace(f"metrika: > POST {url} form: {redacted_form(form)}")
    started = time.monotonic()
    try:
        status, headers, content = await asyncio.wait_for(_post_form(env, url, form, transport), env.endpoints.timeout)
    except (TimeoutError, httpx.TimeoutException):
        trace("metrika: ! Yandex OAuth: deadline")
        return Reply("Yandex OAuth", host, network="timeout", detail="deadline")
    except httpx.HTTPError as exc:
        trace(f"metrika: ! Yandex OAuth: {exc.__class__.__name__}")
        return Reply("Yandex OAuth", host, network=classify_network_error(exc, url), detail=exc.__class__.__name__)
    except BodyTooLarge:
        return Reply("Yandex OAuth", host, None, broken=True, detail="too_large")
    trace(f"metrika: < {status} POST {url} ({(time.monotonic() - started) * 1000:.0f} ms)")
    reply = parse_body("Yandex OAuth", host, status, headers, content)
    if isinstance(reply.data, dict):
        for key in ("access_token", "refresh_token", "device_code"):
            if isinstance(reply.data.get(key), str) and reply.data[key]:
                env.secrets.add(reply.data[key])
        error = reply.data.get("error")
        reply.error_type = error if status != 200 and isinstance(error, str) and error else None
    return reply


async def _post_form(
    env: Env, url: str, form: dict[str, str], transport: Any = None
) -> tuple[int, httpx.Headers, bytes]:
    headers = {"User-Agent": f"metrika-cli/{__version__}", "Accept": "application/json"}
    # Always a transport of ours: httpx left to itself would set up the proxies of every scheme
    # from the environment, a socks5:// HTTPS_PROXY included, even for a plain-http OAuth URL.
    own = None if transport or env.transport else SharedTransport(env)
    client = httpx.AsyncClient(
        transport=transport or env.transport or own, timeout=env.endpoints.timeout, follow_redirects=False
    )
    try:
        async with (
            client as http,
            http.stream("POST", url, data=form, headers=headers) as response,
        ):
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_BODY:
                    raise BodyTooLarge
                chunks.append(chunk)
            return response.status_code, response.headers, b"".join(chunks)
    finally:
        if own is not None:
            await own.close()
