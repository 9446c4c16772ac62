"""metrika's own connections under httpx: an httpcore pool (direct, or through an http(s) proxy)
on asyncio's transports. Each read takes what has come, up to READ_SIZE, without a trip through
the event loop (through anyio, httpcore's own backend, each 64 KiB piece of a 256 MiB Logs API
part cost two changes to epoll and a cancel scope); each wait for data is bounded by its time-out.
Built on httpcore's public network-backend API; api.py's SharedTransport is its only user."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpcore
import httpx

READ_SIZE = 1024 * 1024  # bytes a read off a connection may bring (httpcore asks for 64 KiB)
# httpcore's errors as the httpx errors they are: the most specific one wins.
HTTPX_ERRORS: dict[type[Exception], type[httpx.HTTPError]] = {
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
}


@contextlib.contextmanager
def httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        kind = next((HTTPX_ERRORS[base] for base in type(exc).__mro__ if base in HTTPX_ERRORS), None)
        if kind is None:
            raise
        raise kind(str(exc)) from exc


BUFFERED = 4 * 1024 * 1024  # bytes received and not yet read before a connection stops reading


class Receiver(asyncio.Protocol):
    """One connection's side of asyncio: what came and was not read yet, in order, then its end
    (EOF, or the error that ended it). It reads on while the reader is busy, up to BUFFERED."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.pieces: deque[bytes] = deque()
        self.size = 0
        self.paused = False
        self.ended = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.writable: asyncio.Future[None] | None = None  # while the send buffer is full

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.pieces.append(data)
        self.size += len(data)
        if self.size > BUFFERED and not self.paused:
            self.transport.pause_reading()
            self.paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended, self.error = True, exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        self.writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        self.writable = None

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def take(self, max_bytes: int) -> bytes:
        piece = self.pieces.popleft()
        if len(piece) > max_bytes:
            self.pieces.appendleft(piece[max_bytes:])
            piece = piece[:max_bytes]
        self.size -= len(piece)
        if self.paused and self.size <= BUFFERED // 2:
            self.transport.resume_reading()
            self.paused = False
        return piece

    async def wait(self) -> None:
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None


class LoopStream(httpcore.AsyncNetworkStream):
    """A connection straight on asyncio's transport, for httpcore. Its reads ask for READ_SIZE and
    take what has come without a trip through the event loop: through anyio (httpcore's own
    backend), each 256 KiB piece of a 256 MiB Logs API part cost two changes to epoll and a
    cancel scope. Each wait for data is bounded by its time-out (METRIKA_TIMEOUT)."""

    def __init__(self, transport: Any, receiver: Receiver) -> None:
        self.transport, self.receiver = transport, receiver

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        receiver = self.receiver
        if not receiver.pieces and not receiver.ended:
            try:
                async with asyncio.timeout(timeout):
                    await receiver.wait()
            except TimeoutError as exc:
                raise httpcore.ReadTimeout(f"no data for {timeout} s") from exc
        if receiver.pieces:
            return receiver.take(max(max_bytes, READ_SIZE))
        if receiver.error is not None:
            raise httpcore.ReadError(str(receiver.error) or receiver.error.__class__.__name__) from receiver.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self.transport.is_closing():
            raise httpcore.WriteError("the connection is closed") from self.receiver.error
        self.transport.write(buffer)
        if self.receiver.writable is not None:
            try:
                async with asyncio.timeout(timeout):
                    await self.receiver.writable
            except TimeoutError as exc:
                raise httpcore.WriteTimeout(f"could not send for {timeout} s") from exc

    async def aclose(self) -> None:
        self.transport.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                secure = await loop.start_tls(
                    self.transport, self.receiver, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError as exc:
            self.transport.abort()
            raise httpcore.ConnectTimeout(f"no TLS handshake within {timeout} s") from exc
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self.transport.abort()
            raise httpcore.ConnectError(str(exc) or exc.__class__.__name__) from exc
        if secure is None:
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self.receiver.transport = secure
        return LoopStream(secure, self.receiver)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle kept-alive connection the server has closed
            return bool(self.receiver.pieces) or self.receiver.ended
        names = {"ssl_object": "ssl_object", "client_addr": "sockname", "server_addr": "peername", "socket": "socket"}
        return self.transport.get_extra_info(names[info]) if info in names else None


class LoopBackend(httpcore.AsyncNetworkBackend):
    """httpcore's connections made by asyncio itself (happy eyeballs for a name with IPv6 and IPv4
    addresses, as anyio does), each a LoopStream."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        receiver = Receiver()
        try:
            async with asyncio.timeout(timeout):
                transport, _ = await loop.create_connection(
                    lambda: receiver,
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                    happy_eyeballs_delay=0.25,
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc) or f"no connection within {timeout} s") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or exc.__class__.__name__) from exc
        for option in socket_options or ():
            transport.get_extra_info("socket").setsockopt(*option)
        return LoopStream(transport, receiver)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Connections(httpx.AsyncBaseTransport):
    """What httpx.AsyncHTTPTransport is (an httpcore pool, direct or through an http(s) proxy, with
    httpx's defaults), built on LoopBackend: httpx's transport takes no network backend."""

    def __init__(self, proxy: str | None, verify: ssl.SSLContext | bool) -> None:
        context = httpx.create_ssl_context(verify=verify, trust_env=False)
        limits: dict[str, Any] = {"max_connections": 100, "max_keepalive_connections": 20, "keepalive_expiry": 5.0}
        self.pool: httpcore.AsyncConnectionPool
        if proxy is None:
            self.pool = httpcore.AsyncConnectionPool(ssl_context=context, network_backend=LoopBackend(), **limits)
            return
        through = httpx.Proxy(proxy)
        self.pool = httpcore.AsyncHTTPProxy(
            proxy_url=core_url(through.url),
            proxy_auth=through.raw_auth,
            proxy_headers=through.headers.raw,
            proxy_ssl_context=through.ssl_context,
            ssl_context=context,
            network_backend=LoopBackend(),
            **limits,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        outgoing = httpcore.Request(
            method=request.method,
            url=core_url(request.url),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with httpx_errors():
            answer = await self.pool.handle_async_request(outgoing)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=CoreBody(answer.stream),
            extensions=answer.extensions,
        )

    async def aclose(self) -> None:
        with httpx_errors():
            await self.pool.aclose()


def core_url(url: httpx.URL) -> httpcore.URL:
    return httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path)


class CoreBody(httpx.AsyncByteStream):
    """An httpcore response body as httpx reads it, its errors httpx's."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with httpx_errors():
            async for part in self.stream:
                yield part

    async def aclose(self) -> None:
        if hasattr(self.stream, "aclose"):
            await self.stream.aclose()
