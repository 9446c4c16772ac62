"""A loopback fake of Yandex ID, the Metrika Management and Reporting APIs and OAuth.

One threaded HTTP server on 127.0.0.1 answers the way Yandex documents (and, where the
documentation is silent, the way the services were seen to answer) for these endpoints:

- ``GET /info`` (Yandex ID): the token's owner and app, or 401 with a body not to be parsed;
- ``GET /management/v1/counters``, ``/management/v1/counter/{id}`` and ``.../my_grant``
  (Metrika), with Metrika-style error bodies;
- ``GET /management/v1/accounts`` (the accounts the token's owner represents) and
  ``PUT`` to it (replaces that list); ``ulogin=LOGIN`` on any Metrika request acts for a
  represented account, 403 ``access_denied`` for any other login (see
  :meth:`FakeYandex.add_represented`);
- ``GET`` and ``POST /management/v1/counter/{id}/goals``, ``DELETE .../goal/{goal_id}``:
  writing needs the ``metrika:write`` scope and permission ``own`` or ``edit``;
- ``GET /stat/v1/data`` (Metrika Reporting API) with deterministic, pageable rows;
- ``GET /authorize``: a small HTML page (``response_type=token``), or, with
  ``response_type=code``, consent and a redirect with a code; ``POST /token``,
  ``/device/code``, ``/revoke_token``: Yandex OAuth, played by :mod:`fake_oauth`.

Other methods on these paths, and any method but GET on other paths, get 405. Request
bodies are recorded. Metrika's quotas (requests a second per IP, parallel requests per
login) can be switched on.

Faults (error statuses, HTML proxy pages, broken JSON, cut connections, hangs) are
scripted with :meth:`FakeYandex.fail`. Standard library only.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import selectors
import socket
import ssl
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from fake_oauth import OAUTH_PATHS, OAuthFake

PSUID = "1.AAceCw.tbHgw5DtJ9_zeqPrk-Ba2w.qPWSRC5v2t2IaksPJgnge"
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
MAX_PER_PAGE = 1000
DEFAULT_REPORT_LIMIT = 100
MAX_REPORT_LIMIT = 100_000
REPORTS_WINDOW = 300.0  # seconds: Metrika allows 200 Reports API requests per user in this window
# The 5-minute Reports quota's error_type is not documented: this one is the fake's own.
REPORTS_QUOTA = "quota_requests_by_uid_reports"
LOG_PART = re.compile(r"^/management/v1/counter/(\d+)/logrequest/(\d+)/part/(\d+)/download$")
UPLOAD_PATHS = (  # multipart/form-data uploads with a CSV `file` part (as Yandex documents them)
    "offline_conversions/upload",
    "offline_conversions/upload_calls",
    "expense/upload",
    "user_params/uploadings/upload",
)
DEFAULT_REPORT_ROWS = 10  # report rows of a counter that does not say ("report_rows")
FAULT_MODES = ("status", "html", "broken_json", "cut", "hang", "encoded")
METRIKA_PREFIXES = ("/management/", "/stat/")  # what the Metrika quotas count

# error_type -> (English message, Russian message)
_MESSAGES: dict[str, tuple[str, str]] = {
    "unauthorized": ("Unauthorized", "Не авторизован"),
    "invalid_token": ("Invalid oauth_token", "Недействительный oauth_token"),
    "access_denied": ("Access is denied", "Доступ запрещён"),
    "not_found": ("Entity not found", "Объект не найден"),
    "invalid_parameter": ("Invalid parameter", "Неверное значение параметра"),
    "method_not_allowed": ("Method not allowed", "Метод не поддерживается"),
    "backend_error": ("Internal server error", "Внутренняя ошибка сервера"),
    "timeout": ("Query execution timeout", "Превышено время выполнения запроса"),
    "counter_in_connect": (
        "Counter is bound to a Yandex Connect organization",
        "Счётчик привязан к организации Яндекс Коннект",
    ),
}
_QUOTA_MESSAGES = ("Quota exceeded", "Превышена квота")
_OTHER_MESSAGES = ("Error", "Ошибка")
_DEFAULT_ERROR_TYPES = {429: "quota_requests_by_uid", 503: "backend_error", 504: "timeout"}

READ, WRITE = "metrika:read", "metrika:write"

# Metrika endpoints: path pattern -> {method: (FakeYandex method answering it, scope it needs)}.
# The method is called with a _Call and the pattern's groups.
_METRIKA_ROUTES: tuple[tuple[re.Pattern[str], dict[str, tuple[str, str]]], ...] = (
    (re.compile(r"^/management/v1/counters$"), {"GET": ("_counters", READ)}),
    (re.compile(r"^/management/v1/counter/(\d+)$"), {"GET": ("_counter", READ)}),
    (re.compile(r"^/management/v1/counter/(\d+)/my_grant$"), {"GET": ("_grant", READ)}),
    (re.compile(r"^/management/v1/accounts$"), {"GET": ("_accounts", READ), "PUT": ("_replace_accounts", WRITE)}),
    (re.compile(r"^/management/v1/counter/(\d+)/goals$"), {"GET": ("_goals", READ), "POST": ("_add_goal", WRITE)}),
    (re.compile(r"^/management/v1/counter/(\d+)/goal/(\d+)$"), {"DELETE": ("_delete_goal", WRITE)}),
    (re.compile(r"^/stat/v1/data$"), {"GET": ("_report", READ)}),
    (re.compile(r"^/management/v1/counter/(\d+)/(" + "|".join(UPLOAD_PATHS) + ")$"), {"POST": ("_upload", WRITE)}),
)

# For the fake's own clients in tests (it speaks plain http): a TLS context that trusts nothing,
# so no client loads the system's certificates (about 15 ms of CPU a client).
NO_TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


@dataclass
class Account:
    """One token's truth: whose it is, which app it was issued to, what Metrika shows.

    ``counters`` items are dicts with at least ``id``; other keys override the defaults
    Metrika shows (``name``, ``permission`` ``own``/``edit``/``view``, ``status``,
    ``owner_login``, ``site2``), except ``report_rows``: how many rows the Reporting API
    has for the counter (default ``DEFAULT_REPORT_ROWS``), never shown by Management.

    ``represents`` lists the logins whose accounts this login may act for (``ulogin=``);
    what such a login's account holds is looked up by :meth:`FakeYandex.account_for_login`.
    ``created_at`` is shown when this account appears in another's accounts list.
    """

    login: str = "vasya"
    uid: str = "1000034426"
    client_id: str = "4760187d81bc4b7799476b42b5103713"
    metrika: bool = True  # False: the app has no Metrika scope at all -> 403 access_denied
    counters: list[dict] = field(default_factory=list)
    # The app's Metrika scopes: reads need metrika:read, writes (PUT, POST, DELETE) metrika:write.
    scopes: list[str] = field(default_factory=lambda: [READ, WRITE])
    represents: list[str] = field(default_factory=list)
    created_at: str = "2024-01-01T00:00:00Z"


class Headers(dict):
    """Request headers with lower-case keys; lookups ignore case."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass
class Recorded:
    """One request as the client sent it; times are ``time.monotonic()``."""

    method: str
    path: str  # the request-line target, query string included
    headers: Headers
    started: float
    finished: float | None = None  # set just before the answer is written; None if never answered
    body: bytes = b""  # the request body as sent (Content-Length or chunked); b"" if none
    status: int | None = None  # the status answered; None if never answered


@dataclass
class Fault:
    """A scripted misbehaviour for requests whose target starts with ``path_prefix``."""

    path_prefix: str
    mode: str
    options: dict[str, Any]
    times: int | None = None  # how many more requests it hits; None: until cleared


@dataclass
class Upload:
    """One multipart upload as the fake parsed it: the fields and the files by part name."""

    path: str
    fields: dict[str, str]
    files: dict[str, tuple[str, bytes]]  # part name -> (file name, content)


class Rejection(NamedTuple):
    """A request the quotas turned away with 429 (``error_type`` is the quota's)."""

    error_type: str  # quota_requests_by_ip or quota_parallel_requests
    request: Recorded


class _Slot:
    """One admitted request's place among its login's in-flight requests."""

    def __init__(self, fake: FakeYandex | None = None, login: str | None = None) -> None:
        self._fake = fake
        self._login = login

    def release(self) -> None:
        """Leave the in-flight count (once; later calls do nothing)."""
        fake, login, self._fake = self._fake, self._login, None
        if fake is not None and login is not None:
            fake._leave(login)


_NO_SLOT = _Slot()


class _Call(NamedTuple):
    """An authorised Metrika request: whose token, which account it acts for, what it asks."""

    owner: Account  # the token's owner
    account: Account  # the owner, or the represented account named by ulogin=
    query: dict[str, list[str]]
    body: bytes


class Reply(NamedTuple):
    """A complete answer: status, Content-Type, body and extra headers (never mutated)."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for hanging handlers

    def __init__(self, fake: FakeYandex) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self._waking, self._woken = socket.socketpair()
        self._stopping = False
        self._stopped = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    def serve_until_stopped(self) -> None:
        """serve_forever, but stop_serving() wakes it at once (serve_forever polls: a test's
        teardown waited for the poll, over 900 fakes a run)."""
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._woken, selectors.EVENT_READ)
            while not self._stopping:
                for key, _events in selector.select():
                    if key.fileobj is self and not self._stopping:
                        self._handle_request_noblock()
        self._stopped.set()

    def stop_serving(self) -> None:
        self._stopping = True
        self._waking.send(b"x")
        self._stopped.wait()
        self._waking.close()
        self._woken.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; clients hanging up are normal here,
        # anything else is kept for tests to inspect.
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, (ConnectionError, TimeoutError)):
            if not self.fake.stopping:
                self.fake.errors.append(error)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server
    _slot = _NO_SLOT  # the current request's in-flight place, left just before answering

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        fake = self.server.fake
        record = Recorded(
            method=self.command,
            path=self.path,
            headers=Headers((name.lower(), value) for name, value in self.headers.items()),
            started=time.monotonic(),
        )
        fake._record(record)
        record.body = self._read_body()
        self._slot, rejected = fake._admit(record, self.client_address[0])
        try:
            if fake.latency > 0 and not fake._pause(fake.latency):
                return self._hang_up()
            if rejected is not None:
                return self._send(record, fake._quota_reply(rejected))
            fault = fake._take_fault(self.path)
            if fault is not None:
                if fault.mode == "hang":
                    if not fake._pause(fault.options.get("seconds", 30.0)):
                        return self._hang_up()
                elif fault.mode == "cut":
                    return self._send_cut(record)
                else:
                    return self._send(record, _fault_reply(fault, fake.russian))
            if LOG_PART.match(urlsplit(self.path).path) and self.command == "GET":
                return self._send_part(record)
            self._send(record, fake._answer(self.command, self.path, self.headers, record.body))
        finally:
            self._slot.release()
            self._slot = _NO_SLOT

    def _read_body(self) -> bytes:
        """The request body, by Content-Length or chunked transfer coding."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailer fields
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)  # the CRLF after the chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, record: Recorded, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        record.status = reply.status
        record.finished = time.monotonic()
        self._slot.release()  # before writing: a client reading this answer has nothing in flight
        self.end_headers()
        self.wfile.write(reply.body)

    def _send_part(self, record: Recorded) -> None:
        """A Logs API part: ``log_part_size`` bytes of TSV, streamed a megabyte at a time."""
        fake = self.server.fake
        token = _read_authorization(self.headers.get("Authorization"))
        if token not in fake.accounts:
            return self._send(record, fake._error(403, "invalid_token"))
        size = fake.log_part_size
        header = b"ym:s:visitID\tym:s:date\n"
        line = b"1234567890123456789\t2026-11-30\n"
        block = header + line * ((1 << 20) // len(line))
        self.send_response(200)
        self.send_header("Content-Type", "text/tab-separated-values; charset=utf-8")
        self.send_header("Content-Length", str(size))
        record.status, record.finished = 200, time.monotonic()
        self._slot.release()
        self.end_headers()
        left = size
        while left > 0:
            piece = block[: min(left, len(block))]
            try:
                self.wfile.write(piece)
            except OSError:
                return None
            left -= len(piece)

    def _send_cut(self, record: Recorded) -> None:
        body = b'{"rows": 1, "counters": [{"id": 1, "name": "cut short'
        self.send_response(200)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("Content-Length", str(len(body) + 1000))
        self.send_header("Connection", "close")
        record.status = 200
        record.finished = time.monotonic()
        self._slot.release()
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self._hang_up()

    def _hang_up(self) -> None:
        """Close the connection without (finishing) an answer."""
        self._slot.release()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class FakeYandex(OAuthFake):
    """Yandex ID + Metrika Management and Reporting APIs + OAuth authorize page on one port.

    ``accounts`` maps a token to its :class:`Account`; ``requests`` records every request.
    Beyond the brief: ``invalid_token_status`` (403 as seen in traffic, or 401 as the docs
    say) and ``errors`` (unexpected exceptions raised inside the server).

    ``latency``: seconds every request waits before it is answered (429s included).

    Metrika quotas, as Yandex documents them, apply when ``quota`` is true (off by default)
    to requests under ``/management/`` and ``/stat/`` (Yandex ID and OAuth never count):

    - ``per_ip_per_second`` (30): requests admitted from one client IP in any sliding
      one-second window, all tokens together; more -> 429 ``quota_requests_by_ip``;
    - ``parallel_per_login`` (3): admitted requests of one token owner's login in flight,
      from arrival to just before the answer is written (latency and hangs included);
      more -> 429 ``quota_parallel_requests``. Requests without a known token do not count.

    Turned-away requests count against neither quota; they are kept, as :class:`Rejection`
    items, in ``quota_rejections`` (so ``len(fake.quota_rejections)`` is the number of
    quota 429s sent). Yandex does not document ``Retry-After``; ``retry_after`` (None by
    default) is the header value sent with quota 429s if set.
    """

    def __init__(self, latency: float = 0.0, quota: bool = False, retry_after: str | None = None) -> None:
        self.latency = latency
        self.accounts: dict[str, Account] = {}
        self.requests: list[Recorded] = []
        self.errors: list[BaseException] = []
        self.russian = False
        self.strip_metrika_auth = False
        self.invalid_token_status = 403
        # Metrika quotas (off unless ``quota``), see the class docstring.
        self.quota = quota
        self.per_ip_per_second = 30
        self.parallel_per_login = 3
        self.retry_after = retry_after
        self.quota_rejections: list[Rejection] = []
        self.reports_per_window = 200  # Reports API (/stat/) requests per login in REPORTS_WINDOW seconds
        self.logs_per_second = 10  # Logs API (…/logrequest…) requests a second per IP
        self._reports: dict[str, deque[float]] = {}  # login -> times of admitted /stat/ requests
        self._logs_windows: dict[str, deque[float]] = {}  # client IP -> times of admitted Logs API requests
        self.rounded_totals = False  # reports say total_rows_rounded: true (the total is approximate)
        self.log_part_size = 1024 * 1024  # bytes of every Logs API part (TSV, streamed)
        self.uploads: list[Upload] = []  # multipart uploads received, as parsed
        self.represented: dict[str, Account] = {}  # login -> account, see add_represented()
        self.goals: dict[int, list[dict]] = {}  # counter id -> goals created (ids from 1 up)
        self._last_goal_id = 0
        self._windows: dict[str, deque[float]] = {}  # client IP -> times of admitted requests
        self._in_flight: dict[str, int] = {}  # token owner's login -> admitted, not yet answered
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._init_oauth()

    # -- set-up ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``; available once started."""
        if self._server is None:
            raise RuntimeError("FakeYandex is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    def add_token(self, token: str, **fields: Any) -> Account:
        """Register ``token`` for an :class:`Account` built from ``fields``."""
        account = Account(**fields)
        self.accounts[token] = account
        return account

    def add_represented(self, owner_token: str, login: str, **fields: Any) -> Account:
        """Let ``owner_token``'s owner represent ``login``, whose account is built from ``fields``.

        Returns the new :class:`Account` (kept in ``represented``); requests with
        ``ulogin=<login>`` see its counters. The owner's app and scopes still decide.
        """
        account = Account(login=login, **fields)
        with self._lock:
            self.represented[login] = account
            owner = self.accounts[owner_token]
            if login not in owner.represents:
                owner.represents.append(login)
        return account

    def account_for_login(self, login: str) -> Account:
        """What ``login``'s account holds: from ``represented``, else from a token's account
        with that login, else an account with no counters."""
        account = self.represented.get(login)
        if account is None:
            account = next((a for a in self.accounts.values() if a.login == login), None)
        return account if account is not None else Account(login=login)

    def fail(self, path_prefix: str, mode: str, *, times: int | None = None, **kw: Any) -> None:
        """Misbehave for requests whose target starts with ``path_prefix``.

        Modes and their keywords: ``status`` (status=503, error_type by status, headers),
        ``html`` (status=502, headers), ``broken_json``, ``cut``, ``hang`` (seconds=30).
        ``times`` limits the fault to that many requests. The latest matching fault wins.
        Scripted faults come after the quotas and are not in ``quota_rejections``.

        E.g. a 429 with ``Retry-After: 2`` for the first three reports, then normal answers::

            fake.fail("/stat/v1/data", "status", status=429, headers={"Retry-After": "2"}, times=3)
        """
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; expected one of {FAULT_MODES}")
        with self._lock:
            self._faults.insert(0, Fault(path_prefix, mode, dict(kw), times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[Recorded]:
        """The recorded requests whose target starts with ``path_prefix`` (and of ``method``)."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path.startswith(path_prefix) and (method is None or r.method == method.upper())
            ]

    def most_in_flight(self, requests: list[Recorded] | None = None) -> int:
        """The most of ``requests`` (default: all answered ones) the fake was answering at one moment."""
        with self._lock:
            answered = [r for r in (self.requests if requests is None else requests) if r.finished is not None]
        events = sorted([(r.started, 1) for r in answered] + [(r.finished or 0.0, -1) for r in answered])
        return max(itertools.accumulate(change for _moment, change in events), default=0)

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> FakeYandex:
        if self._server is not None:
            raise RuntimeError("FakeYandex is already started")
        self._stop_event.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_until_stopped,
            name="fake-yandex",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; wakes hanging handlers and closes open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stop_event.set()
        server.stop_serving()
        server.server_close()
        with server.connections_lock:
            connections = list(server.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> FakeYandex:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- used by the handler -----------------------------------------------------------

    def _record(self, record: Recorded) -> None:
        with self._lock:
            self.requests.append(record)

    def _admit(self, record: Recorded, client_ip: str) -> tuple[_Slot, str | None]:
        """Apply the Metrika quotas to a request that just arrived.

        Returns its in-flight slot and None if admitted, or a slot holding nothing and the
        quota's error_type if turned away. Turned-away requests count against neither quota.
        """
        if not self.quota or not urlsplit(record.path).path.startswith(METRIKA_PREFIXES):
            return _NO_SLOT, None
        login = self._login_for(record.headers)
        with self._lock:
            now = time.monotonic()
            window = self._windows.setdefault(client_ip, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            path = urlsplit(record.path).path
            reports = self._reports.setdefault(login or "", deque())
            while reports and reports[0] <= now - REPORTS_WINDOW:
                reports.popleft()
            logs = self._logs_windows.setdefault(client_ip, deque())
            while logs and logs[0] <= now - 1.0:
                logs.popleft()
            if len(window) >= self.per_ip_per_second or ("/logrequest" in path and len(logs) >= self.logs_per_second):
                rejected = "quota_requests_by_ip"
            elif login is not None and self._in_flight.get(login, 0) >= self.parallel_per_login:
                rejected = "quota_parallel_requests"
            elif login is not None and path.startswith("/stat/") and len(reports) >= self.reports_per_window:
                rejected = REPORTS_QUOTA
            else:
                window.append(now)
                if "/logrequest" in path:
                    logs.append(now)
                if path.startswith("/stat/") and login is not None:
                    reports.append(now)
                if login is None:
                    return _NO_SLOT, None
                self._in_flight[login] = self._in_flight.get(login, 0) + 1
                return _Slot(self, login), None
            self.quota_rejections.append(Rejection(rejected, record))
        return _NO_SLOT, rejected

    def _leave(self, login: str) -> None:
        with self._lock:
            left = self._in_flight.get(login, 0) - 1
            if left > 0:
                self._in_flight[login] = left
            else:
                self._in_flight.pop(login, None)

    def _login_for(self, headers: Any) -> str | None:
        """The login of the token a Metrika request carries; None if no known token."""
        if self.strip_metrika_auth:
            return None
        token = _read_authorization(headers.get("Authorization"))
        account = self.accounts.get(token) if token is not None else None
        return account.login if account is not None else None

    def _quota_reply(self, error_type: str) -> Reply:
        reply = self._error(429, error_type)
        if self.retry_after is None:
            return reply
        return reply._replace(headers={"Retry-After": self.retry_after})

    def _pause(self, seconds: float) -> bool:
        """Sleep ``seconds``; False if the server stopped meanwhile."""
        return not self._stop_event.wait(seconds)

    def _take_fault(self, target: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if target.startswith(fault.path_prefix):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _answer(self, method: str, target: str, headers: Any, body: bytes = b"") -> Reply:
        """The fault-free answer to one request.

        A path nothing answers: 404 for GET, 405 otherwise; a known path asked with a
        method it does not take: 405.
        """
        parts = urlsplit(target)
        path = parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        if path in OAUTH_PATHS:
            return self._oauth(method, path, query, body)
        if path == "/info":
            if method != "GET":
                return self._error(405, "method_not_allowed")
            return self._info(_read_authorization(headers.get("Authorization")))
        route = _metrika_route(path)
        if route is None:
            if method != "GET":
                return self._error(405, "method_not_allowed")
            return self._error(404, "not_found")
        match, methods = route
        if method not in methods:
            return self._error(405, "method_not_allowed")
        name, scope = methods[method]
        token = None if self.strip_metrika_auth else _read_authorization(headers.get("Authorization"))
        extra = {"content_type": headers.get("Content-Type", ""), "path": path} if name == "_upload" else {}
        return self._metrika(
            token, scope, query, body, lambda call: getattr(self, name)(call, *match.groups(), **extra)
        )

    # -- Yandex ID ---------------------------------------------------------------------

    def _info(self, token: str | None) -> Reply:
        account = self.accounts.get(token) if token is not None else None
        if account is None:
            # Real body is undocumented: make it something a client cannot parse as JSON.
            return Reply(401, TEXT_TYPE, b"401 Unauthorized\n")
        return _json(
            200,
            {
                "id": account.uid,
                "login": account.login,
                "client_id": account.client_id,
                "psuid": PSUID,
            },
        )

    # -- Metrika -----------------------------------------------------------------------

    def _metrika(self, token: str | None, scope: str, query: dict[str, list[str]], body: bytes, answer: Any) -> Reply:
        """Check the token, its scope and ``ulogin=``, then ``answer`` the :class:`_Call`."""
        if token is None:
            return self._error(401, "unauthorized")
        owner = self.accounts.get(token)
        if owner is None:
            return self._error(self.invalid_token_status, "invalid_token")
        if not owner.metrika or scope not in owner.scopes:
            return self._error(403, "access_denied")
        account = owner
        ulogin = query.get("ulogin", [""])[0]
        if ulogin:
            if ulogin not in owner.represents:
                return self._error(403, "access_denied")
            account = self.account_for_login(ulogin)
        return answer(_Call(owner, account, query, body))

    def _counters(self, call: _Call) -> Reply:
        account, query = call.account, call.query
        try:
            per_page = min(_positive_int(query, "per_page", MAX_PER_PAGE), MAX_PER_PAGE)
            offset = _positive_int(query, "offset", 1)
            wanted_ids = {int(i) for i in _csv(query, "counter_ids")}
        except ValueError:
            return self._error(400, "invalid_parameter")
        wanted_permissions = set(_csv(query, "permission"))
        matching = [
            counter
            for counter in (_full_counter(c, account) for c in account.counters)
            if (not wanted_ids or counter["id"] in wanted_ids)
            and (not wanted_permissions or counter["permission"] in wanted_permissions)
        ]
        page = matching[offset - 1 : offset - 1 + per_page]
        return _json(200, {"rows": len(matching), "counters": page})

    def _counter(self, call: _Call, counter_id: str) -> Reply:
        counter = _find_counter(call.account, int(counter_id))
        if counter is None:
            return self._error(403, "access_denied")
        return _json(200, {"counter": counter})

    def _grant(self, call: _Call, counter_id: str) -> Reply:
        counter = _find_counter(call.account, int(counter_id))
        if counter is None:
            return self._error(403, "access_denied")
        return _json(200, {"grant": {"perm": counter["permission"]}})

    def _accounts(self, call: _Call) -> Reply:
        """The accounts the caller represents."""
        accounts = [
            {"user_login": login, "created_at": self.account_for_login(login).created_at}
            for login in list(call.account.represents)
        ]
        return _json(200, {"accounts": accounts})

    def _replace_accounts(self, call: _Call) -> Reply:
        """PUT: replace the represented accounts (the request is recorded like any other)."""
        payload = _json_object(call.body)
        accounts = payload.get("accounts") if payload is not None else None
        if not isinstance(accounts, list) or not all(
            isinstance(a, dict) and isinstance(a.get("user_login"), str) for a in accounts
        ):
            return self._error(400, "invalid_parameter")
        with self._lock:
            call.account.represents[:] = [a["user_login"] for a in accounts]
        return self._accounts(call)

    def _goals(self, call: _Call, counter_id: str) -> Reply:
        if _find_counter(call.account, int(counter_id)) is None:
            return self._error(403, "access_denied")
        with self._lock:
            goals = list(self.goals.get(int(counter_id), []))
        return _json(200, {"goals": goals})

    def _add_goal(self, call: _Call, counter_id: str) -> Reply:
        """POST ``{"goal": {...}}``: the goal is kept with an ``id`` and echoed back."""
        denied = self._check_edit(call, int(counter_id))
        if denied is not None:
            return denied
        payload = _json_object(call.body)
        goal = payload.get("goal") if payload is not None else None
        if not isinstance(goal, dict):
            return self._error(400, "invalid_parameter")
        with self._lock:
            self._last_goal_id += 1
            goal = {"id": self._last_goal_id, **{k: v for k, v in goal.items() if k != "id"}}
            self.goals.setdefault(int(counter_id), []).append(goal)
        return _json(200, {"goal": goal})

    def _delete_goal(self, call: _Call, counter_id: str, goal_id: str) -> Reply:
        denied = self._check_edit(call, int(counter_id))
        if denied is not None:
            return denied
        with self._lock:
            goals = self.goals.get(int(counter_id), [])
            for goal in goals:
                if goal["id"] == int(goal_id):
                    goals.remove(goal)
                    return _json(200, {"success": True})
        return self._error(404, "not_found")

    def _check_edit(self, call: _Call, counter_id: int) -> Reply | None:
        """403 unless the account may change the counter (permission ``own`` or ``edit``)."""
        counter = _find_counter(call.account, counter_id)
        if counter is None or counter["permission"] not in ("own", "edit"):
            return self._error(403, "access_denied")
        return None

    def _report(self, call: _Call) -> Reply:
        """``/stat/v1/data``: deterministic rows, so that paging can be checked exactly.

        A counter has ``report_rows`` rows (several ``ids``: their sum). Row ``n`` (1-based)
        names every dimension ``row-<n>`` and has every metric ``float(n)``. Without
        ``dimensions`` there is one row, the totals, as Metrika answers.
        """
        query = call.query
        try:
            ids = [int(i) for i in _csv(query, "ids")]
            offset = _positive_int(query, "offset", 1)
            limit = _positive_int(query, "limit", DEFAULT_REPORT_LIMIT)
        except ValueError:
            return self._error(400, "invalid_parameter")
        metrics, dimensions = _csv(query, "metrics"), _csv(query, "dimensions")
        if not ids or not metrics or limit > MAX_REPORT_LIMIT:
            return self._error(400, "invalid_parameter")
        total_rows = 0
        for counter_id in ids:
            counter = _raw_counter(call.account, counter_id)
            if counter is None:
                return self._error(403, "access_denied")
            total_rows += int(counter.get("report_rows", DEFAULT_REPORT_ROWS))
        totals = [float(total_rows * (total_rows + 1) // 2)] * len(metrics)
        if dimensions:
            data = [
                {"dimensions": [{"name": f"row-{n}"} for _ in dimensions], "metrics": [float(n)] * len(metrics)}
                for n in range(offset, min(total_rows, offset + limit - 1) + 1)
            ]
        else:
            total_rows = 1
            data = [{"dimensions": [], "metrics": totals}] if offset == 1 else []
        return _json(
            200,
            {
                "query": {"ids": ids, "metrics": metrics, "dimensions": dimensions, "offset": offset, "limit": limit},
                "data": data,
                "total_rows": total_rows,
                "total_rows_rounded": self.rounded_totals,
                "sampled": False,
                "totals": totals,
            },
        )

    def _upload(self, call: _Call, counter_id: str, _kind: str, content_type: str = "", path: str = "") -> Reply:
        """A multipart/form-data upload with a ``file`` part (CSV): kept in ``uploads``, answered
        with its line count; anything else is 400 ``invalid_parameter``."""
        denied = self._check_edit(call, int(counter_id))
        if denied is not None:
            return denied
        upload = _parse_multipart(content_type, call.body, path)
        if upload is None or "file" not in upload.files:
            return self._error(400, "invalid_parameter")
        with self._lock:
            self.uploads.append(upload)
            number = len(self.uploads)
        lines = upload.files["file"][1].count(b"\n")
        return _json(200, {"uploading": {"id": number, "line_quantity": max(0, lines - 1), "status": "UPLOADED"}})

    def _error(self, status: int, error_type: str) -> Reply:
        return _json(status, _error_body(status, error_type, self.russian))


# -- helpers ---------------------------------------------------------------------------


def _metrika_route(path: str) -> tuple[re.Match[str], dict[str, tuple[str, str]]] | None:
    """The matched pattern and the methods of the Metrika endpoint at ``path``, if any."""
    for pattern, methods in _METRIKA_ROUTES:
        match = pattern.match(path)
        if match:
            return match, methods
    return None


def _read_authorization(value: str | None) -> str | None:
    """The token from ``OAuth <t>`` or ``Bearer <t>``; None if absent or unreadable."""
    if not value:
        return None
    parts = value.split()
    if len(parts) != 2 or parts[0].lower() not in ("oauth", "bearer"):
        return None
    return parts[1]


def _positive_int(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values or values[0] == "":
        return default
    number = int(values[0])
    if number < 1:
        raise ValueError(f"{name} must be positive")
    return number


def _csv(query: dict[str, list[str]], name: str) -> list[str]:
    """Comma-separated values, also accepting the parameter repeated."""
    return [item.strip() for value in query.get(name, []) for item in value.split(",") if item.strip()]


def _json_object(body: bytes) -> dict | None:
    """The request body as a JSON object; None if it is not one."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def _raw_counter(account: Account, counter_id: int) -> dict | None:
    """The account's counter ``counter_id`` as registered; None if it has no access."""
    for counter in account.counters:
        if int(counter["id"]) == counter_id:
            return counter
    return None


def _find_counter(account: Account, counter_id: int) -> dict | None:
    """The account's counter ``counter_id`` as Metrika shows it; None if it has no access."""
    counter = _raw_counter(account, counter_id)
    return _full_counter(counter, account) if counter is not None else None


def _full_counter(counter: dict, account: Account) -> dict:
    """The counter as Metrika shows it: the given fields plus defaults for missing ones."""
    counter_id = int(counter["id"])
    permission = counter.get("permission", "own")
    full = {
        "id": counter_id,
        "name": f"Counter {counter_id}",
        "permission": permission,
        "status": "Active",
        "owner_login": account.login if permission == "own" else "other.owner",
        "site2": {"site": f"site{counter_id}.example.ru"},
    }
    full.update({key: value for key, value in counter.items() if key not in ("id", "report_rows")})
    return full


def _error_body(status: int, error_type: str, russian: bool) -> dict:
    if error_type in _MESSAGES:
        english, russian_text = _MESSAGES[error_type]
    elif error_type.startswith("quota_"):
        english, russian_text = _QUOTA_MESSAGES
    else:
        english, russian_text = _OTHER_MESSAGES
    message = russian_text if russian else english
    return {"errors": [{"error_type": error_type, "message": message}], "code": status, "message": message}


def _fault_reply(fault: Fault, russian: bool) -> Reply:
    options = fault.options
    extra_headers = dict(options.get("headers", {}))
    if fault.mode == "status":
        status = options.get("status", 503)
        error_type = options.get("error_type") or _DEFAULT_ERROR_TYPES.get(status, "backend_error")
        body = json.dumps(_error_body(status, error_type, russian), ensure_ascii=False)
        return Reply(status, JSON_TYPE, body.encode(), extra_headers)
    if fault.mode == "html":
        status = options.get("status", 502)
        page = (
            f"<html><head><title>{status} Bad Gateway</title></head>"
            f"<body><center><h1>{status} Bad Gateway</h1></center><hr><center>nginx</center>"
            "</body></html>\n"
        )
        return Reply(status, HTML_TYPE, page.encode(), extra_headers)
    if fault.mode == "encoded":  # a body sent with the Content-Encoding given, as it is
        return Reply(200, JSON_TYPE, options["body"], {"Content-Encoding": options["encoding"], **extra_headers})
    if fault.mode == "broken_json":
        return Reply(200, JSON_TYPE, b'{"rows": 3, "counters": [{"id": 1, "na', extra_headers)
    raise AssertionError(f"mode {fault.mode!r} is not a plain reply")


def _parse_multipart(content_type: str, body: bytes, path: str) -> Upload | None:
    """The parts of a multipart/form-data body; None if it is not one."""
    import email.parser
    import email.policy

    if not content_type.lower().startswith("multipart/form-data"):
        return None
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        return None
    upload = Upload(path, {}, {})
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        content = part.get_payload(decode=True) or b""
        if not isinstance(name, str):
            return None
        filename = part.get_filename()
        if filename is None:
            upload.fields[name] = content.decode("utf-8", "replace")
        else:
            upload.files[name] = (filename, content)
    return upload


def _authorize_page(query: dict[str, list[str]]) -> Reply:
    client_id = html.escape(query.get("client_id", [""])[0])
    page = (
        '<!doctype html><html><head><meta charset="utf-8"><title>Yandex OAuth (fake)</title>'
        f"</head><body><p>Allow app {client_id} access to your Yandex account?</p></body></html>\n"
    )
    return Reply(200, HTML_TYPE, page.encode())


def _json(status: int, payload: Any) -> Reply:
    return Reply(status, JSON_TYPE, json.dumps(payload, ensure_ascii=False).encode())
