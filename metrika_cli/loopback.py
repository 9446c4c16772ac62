"""Catch the code at a loopback Redirect URI: listen once, on this machine only, check `state`.
Standard library only."""

from __future__ import annotations

import errno
import html
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import oauth
from .errors import BadInput
from .i18n import _
from .os_errors import os_reason

LOOPBACK_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1", "::1": "::1"}


@dataclass(frozen=True)
class Target:
    uri: str
    bind_host: str
    port: int
    path: str


def check_redirect_uri(uri: str) -> Target:
    """A loopback address to listen at, `http://127.0.0.1:PORT/PATH` or `localhost`; else exit 2."""
    try:
        parts = urlsplit(uri.strip())
        port = parts.port
    except ValueError:
        parts, port = urlsplit(""), None
    host = (parts.hostname or "").lower()
    if parts.scheme != "http" or host not in LOOPBACK_HOSTS or not port or parts.username or parts.fragment:
        raise BadInput(
            _(
                "--redirect-uri must be a loopback address with a port, such as http://127.0.0.1:8765/callback "
                "or http://localhost:8765/callback: metrika listens on this machine only. Nothing was opened."
            ),
            fix=[
                _("Give the Redirect URI registered for your app exactly (scheme, host, port and path)."),
                _("Or leave out --redirect-uri to paste the code the Yandex page shows."),
            ],
        )
    return Target(uri.strip(), LOOPBACK_HOSTS[host], port, parts.path or "/")


class _Server(ThreadingHTTPServer):
    """Each connection in a thread of its own: a browser's idle preconnection must not hold up the callback."""

    daemon_threads = True
    block_on_close = False
    outcome: dict[str, str]
    claimed: bool  # a callback came: the first decides
    lock: threading.Lock
    target: Target
    state: str

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a browser hanging up is not ours to report


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # seconds a connection may stay silent

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the URL carries the code

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != self.server.target.path or self.server.claimed:
            self._page(404, _("Nothing here."))
            return
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        outcome, status, text = _judge(query, self.server.state)
        with self.server.lock:
            first, self.server.claimed = not self.server.claimed, True
        if not first:
            self._page(404, _("Nothing here."))
            return
        self._page(status, text)
        self.server.outcome = outcome  # only once the browser has its page: metrika may end right after

    def _page(self, status: int, text: str) -> None:
        body = (
            '<!doctype html><html><head><meta charset="utf-8"><title>metrika</title></head>'
            f"<body><p>{html.escape(text)}</p></body></html>\n"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


def _judge(query: dict[str, str], state: str) -> tuple[dict[str, str], int, str]:
    """The callback's outcome, and the page that tells the browser."""
    if query.get("state") != state:
        return (
            {"kind": "state"},
            400,
            _("This answer does not belong to the login metrika started; nothing was stored."),
        )
    if query.get("error"):
        text = _("Yandex did not give access ({error}); nothing was stored.").format(error=query["error"])
        return {"kind": "error", **query}, 400, text
    if not query.get("code"):
        return {"kind": "empty"}, 400, _("This answer carries no code; nothing was stored.")
    text = _("metrika has the code. You can close this tab and go back to the terminal.")
    return {"kind": "code", "code": query["code"]}, 200, text


class Listener:
    """Bound on entry (a busy port is exit 2 before anything opens); `wait` returns the code."""

    def __init__(self, target: Target, state: str) -> None:
        self.target, self.state = target, state
        self.server: _Server | None = None

    def __enter__(self) -> Listener:
        family_server = (
            type("Server6", (_Server,), {"address_family": socket.AF_INET6})
            if ":" in self.target.bind_host
            else _Server
        )
        try:
            server = family_server((self.target.bind_host, self.target.port), _Handler, bind_and_activate=False)
            server.allow_reuse_address = False
            server.server_bind()
            server.server_activate()
        except OSError as exc:
            raise _cannot_listen(self.target, exc) from None
        server.outcome, server.target, server.state = {}, self.target, self.state
        server.lock, server.claimed = threading.Lock(), False
        self.server = server
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.server_close()

    def wait(self, seconds: float) -> str:
        """Answer requests until the callback comes (or `seconds` pass): its code, or why not."""
        assert self.server is not None
        deadline = time.monotonic() + seconds
        while not self.server.outcome:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BadInput(
                    _("The browser did not come back to {uri} within {seconds:g} s. Nothing was stored.").format(
                        uri=self.target.uri, seconds=seconds
                    ),
                    fix=[
                        _("Run `metrika login` again and allow access in the browser sooner."),
                        _(
                            "If Yandex showed an error about redirect_uri: the app's Redirect URI must be exactly "
                            "{uri}; or leave out --redirect-uri."
                        ).format(uri=self.target.uri),
                    ],
                )
            self.server.timeout = min(left, 0.5)
            self.server.handle_request()
        return self._code(self.server.outcome)

    def _code(self, outcome: dict[str, str]) -> str:
        if outcome["kind"] == "code":
            return outcome["code"]
        if outcome["kind"] == "state":
            raise BadInput(
                _(
                    "A request reached {uri} whose state is not this login's: it did not come from the "
                    "authorization metrika started (a forged or old link). Nothing was stored."
                ).format(uri=self.target.uri),
                fix=[_("Run `metrika login` again and use only the address it prints.")],
            )
        if outcome["kind"] == "error":
            raise oauth.authorize_error(outcome["error"], outcome.get("error_description", ""))
        raise BadInput(
            _("The browser came back to {uri} without a code. Nothing was stored.").format(uri=self.target.uri)
        )


def _cannot_listen(target: Target, exc: OSError) -> BadInput:
    if exc.errno == errno.EADDRINUSE:
        message = _("Port {port} on {host} is busy: another program listens there. Nothing was opened.").format(
            port=target.port, host=target.bind_host
        )
    else:
        message = _("Cannot listen at {uri}: {error}. Nothing was opened.").format(uri=target.uri, error=os_reason(exc))
    return BadInput(
        message,
        fix=[
            _("Stop the program that uses the port, or register another Redirect URI for your app and give that."),
            _("Or leave out --redirect-uri to paste the code the Yandex page shows."),
        ],
    )
