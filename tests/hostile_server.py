"""A loopback HTTP server that misbehaves on purpose, for tests only: it drips, inflates, never
ends, or nests. Each answer is a function that writes raw bytes to the socket; the server
records the request targets and counts the bytes it managed to send. Standard library only."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

Answer = Callable[["Connection"], None]


class Connection:
    """One request's socket, for an answer to write to; counts what it sent."""

    def __init__(self, server: HostileServer, sock: socket.socket, target: str) -> None:
        self.server, self.sock, self.target = server, sock, target

    def send(self, data: bytes) -> bool:
        """Write `data`; False once the client has gone (or the server stops)."""
        if self.server.stopping.is_set():
            return False
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        with self.server.lock:
            self.server.bytes_sent += len(data)
        return True

    def head(self, status: int = 200, length: int | None = None, **headers: str) -> bool:
        lines = [f"HTTP/1.1 {status} X", "Content-Type: application/json", "Connection: close"]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
        return self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    def json(self, payload: Any, status: int = 200) -> None:
        body = json.dumps(payload).encode()
        if self.head(status, len(body)):
            self.send(body)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            data += chunk
        target = data.split(b" ", 2)[1].decode()
        hostile = self.server.hostile
        with hostile.lock:
            hostile.targets.append(target)
        path = target.split("?")[0]
        answer = next((a for prefix, a in hostile.answers.items() if path.startswith(prefix)), None)
        connection = Connection(hostile, self.request, target)
        if answer is None:
            connection.json({"errors": [{"error_type": "not_found"}]}, 404)
        else:
            answer(connection)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, hostile: HostileServer) -> None:
        self.hostile = hostile
        super().__init__(("127.0.0.1", 0), _Handler)


class HostileServer:
    """`answers` maps a path prefix to the function that answers it (first match wins)."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.targets: list[str] = []
        self.bytes_sent = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def requests_to(self, prefix: str) -> list[str]:
        with self.lock:
            return [target for target in self.targets if target.startswith(prefix)]

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()


# ---- answers ---------------------------------------------------------------------------


def identity(login: str = "vasya", client_id: str | None = "4760187d81bc4b7799476b42b5103713") -> Answer:
    """Yandex ID's /info, well behaved."""
    return lambda connection: connection.json({"id": "1000034426", "login": login, "client_id": client_id})


def counters(rows: int, items: list[dict[str, Any]] | None = None) -> Answer:
    """Metrika's counters list, claiming `rows` counters whatever it holds."""
    return lambda connection: connection.json({"rows": rows, "counters": items or []})


def drip(every: float = 0.2, length: int = 1000) -> Answer:
    """Headers at once, then one byte of the body every `every` seconds."""

    def answer(connection: Connection) -> None:
        if not connection.head(200, length):
            return
        for _ in range(length):
            time.sleep(every)
            if not connection.send(b" "):
                return

    return answer


def endless(length: int, chunk: int = 65536) -> Answer:
    """A body of `length` bytes (announced), sent as fast as the client reads it."""

    def answer(connection: Connection) -> None:
        if not connection.head(200, length):
            return
        block, left = b"0" * chunk, length
        while left > 0 and connection.send(block[: min(chunk, left)]):
            left -= chunk

    return answer


def gzip_bomb(compressed_size: int = 2 * 1024 * 1024) -> Answer:
    """About `compressed_size` bytes of gzip that inflate roughly a thousandfold (zeros)."""

    def answer(connection: Connection) -> None:
        body = bomb(compressed_size)
        if connection.head(200, len(body), Content_Encoding="gzip"):
            for start in range(0, len(body), 65536):
                if not connection.send(body[start : start + 65536]):
                    return

    return answer


def bomb(compressed_size: int) -> bytes:
    """A gzip stream of zeros: one full-flushed megabyte block repeated (the blocks are identical), no trailer."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    megabyte = bytes(1 << 20)
    start = compressor.compress(megabyte) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(megabyte) + compressor.flush(zlib.Z_FULL_FLUSH)
    return start + block * (compressed_size // len(block))


def nested(depth: int) -> Answer:
    body = b"[" * depth + b"]" * depth
    return lambda connection: connection.head(200, len(body)) and connection.send(body) and None
