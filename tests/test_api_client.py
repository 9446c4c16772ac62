"""The one HTTP client (api.py) and what `metrika api` builds on it: retry policies, the pager,
the pacer's quotas, bodies decoded a bounded step at a time, --output, --form, time bounds.
Each test names the defect of 0.3.0 it keeps away."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest
from conftest import TOKEN
from hostile_server import HostileServer, drip, gzip_bomb, identity

from metrika_cli import api, connections
from metrika_cli.api import API, PROBE, Client, Pager, retry_wait
from metrika_cli.env import Env
from metrika_cli.evidence import Reply
from metrika_cli.pacing import Pacer

OTHER_SHAPES = ["AQAAAAAAbCdEfGhIjKlMnOpQrStUvWxYz012345", "0123456789abcdef0123456789abcdef"]


def as_token(**extra: str) -> dict[str, str]:
    return {"METRIKA_TOKEN": TOKEN, **extra}


def mock_env(handler, **environ: str) -> Env:
    return Env.for_test(
        {"METRIKA_API_URL": "https://api.test", "METRIKA_LOGIN_URL": "https://login.test", **environ},
        transport=httpx.MockTransport(handler),
    )


def pages_of(env: Env, params: list[tuple[str, str]], paging=api.REPORT_PAGES) -> tuple[list[Reply], Pager]:
    async def go() -> tuple[list[Reply], Pager]:
        async with Client(env, TOKEN, Pacer(per_second=10_000)) as client:
            pager = Pager(client, "https://api.test/stat/v1/data", params, paging, PROBE)
            return [page async for page in pager.pages()], pager

    return asyncio.run(go())


def report_server(rows: int, claimed: int, rounded: bool, cap: int = 100_000):
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        seen.append(query)
        offset, limit = int(query["offset"]), min(int(query["limit"]), cap)
        data = [{"n": n} for n in range(offset, min(rows, offset + limit - 1) + 1)]
        return httpx.Response(200, json={"data": data, "total_rows": claimed, "total_rows_rounded": rounded})

    return handler, seen


# ---- retry arithmetic ------------------------------------------------------------------------


def limited(error_type: str = "quota_requests_by_ip", retry_after: float | None = None, status: int = 429) -> Reply:
    return Reply("Metrika", status=status, error_type=error_type, retry_after=retry_after)


def test_the_policies_differ_as_data_only():
    assert retry_wait(PROBE, "GET", limited(), 0) == 1.0 and retry_wait(PROBE, "GET", limited(), 1) == 2.0
    assert retry_wait(PROBE, "GET", limited(), 2) is None  # three tries in all
    assert retry_wait(API, "GET", limited(), 2) == 4.0  # four for `metrika api`
    assert retry_wait(PROBE, "GET", limited(status=503, error_type="backend_error"), 0) is None
    assert retry_wait(API, "GET", limited(status=503, error_type="backend_error"), 0) == 1.0
    assert retry_wait(API, "POST", limited(status=503, error_type="backend_error"), 0) is None
    assert retry_wait(API, "POST", limited(), 0) == 1.0  # a 429 was refused before anything was done
    assert retry_wait(api.OAUTH, "POST", limited(), 0) is None


def test_a_daily_quota_is_never_retried_by_any_policy():
    for policy in (PROBE, API):
        assert retry_wait(policy, "GET", limited("quota_requests_by_uid", retry_after=0.0), 0) is None


def test_a_retry_after_longer_than_the_policy_allows_is_reported_not_waited():
    """0.3.0: a 503 with Retry-After: 60 kept a GET busy for 180 s."""
    assert retry_wait(API, "GET", limited(status=503, error_type="backend_error", retry_after=60.0), 0) is None
    assert retry_wait(API, "GET", limited(retry_after=10.0), 0) == 10.0


def test_the_policy_total_bounds_the_waits():
    assert retry_wait(API, "GET", limited(retry_after=8.0), 1, elapsed=25.0) is None
    assert retry_wait(API, "GET", limited(retry_after=8.0), 1, elapsed=20.0) == 8.0


def test_a_503_with_a_long_retry_after_is_one_request_and_says_when(fake, metrika):
    fake.fail("/management/v1/counters", "status", status=503, headers={"Retry-After": "60"})
    started = time.monotonic()
    result = metrika("api", "/management/v1/counters", env=as_token())
    assert time.monotonic() - started < 30
    assert result.code == 6 and len(fake.requests_to("/management/v1/counters")) == 1
    assert "Retry in 60 s" in result.stderr


# ---- the pager -------------------------------------------------------------------------------


def test_paginate_with_a_page_size_over_the_servers_cap_returns_every_counter(fake, metrika):
    """0.3.0: `--paginate -f per_page=5000` returned 1000 of 2500 counters, exit 0."""
    fake.accounts[TOKEN].counters = [{"id": 5000 + n, "permission": "own"} for n in range(2500)]
    result = metrika("api", "/management/v1/counters", "--paginate", "-f", "per_page=5000", env=as_token())
    assert result.code == 0, result.stderr
    ids = [c["id"] for line in result.stdout.splitlines() for c in json.loads(line)["counters"]]
    assert ids == [5000 + n for n in range(2500)]


def test_report_pages_hold_100000_rows_unless_the_user_says(fake, metrika):
    """0.3.0: 1000-row report pages; a 1,000,000-row report took 1000 requests and met the quota."""
    fake.accounts[TOKEN].counters[0]["report_rows"] = 120_000
    args = ("api", "/stat/v1/data", "-f", "ids=101", "-f", "metrics=ym:s:visits", "-f", "dimensions=ym:s:date")
    slow_machine = as_token(METRIKA_TIMEOUT="60")  # 100,000 rows a page, built by the fake in Python
    result = metrika(*args, "--paginate", env=slow_machine)
    assert result.code == 0, result.stderr
    paths = [r.path for r in fake.requests_to("/stat/")]
    assert len(paths) == 2 and all("limit=100000" in path for path in paths)
    assert sum(len(json.loads(line)["data"]) for line in result.stdout.splitlines()) == 120_000
    fake.requests.clear()
    own = metrika(*args, "--paginate", "-f", "limit=50000", env=slow_machine)
    assert own.code == 0 and len(fake.requests_to("/stat/")) == 3
    assert all("limit=50000" in r.path for r in fake.requests_to("/stat/"))


def test_a_rounded_total_decides_nothing():
    """0.3.0 believed total_rows even when total_rows_rounded said it was approximate."""
    handler, seen = report_server(rows=250, claimed=200, rounded=True)
    pages, pager = pages_of(mock_env(handler), [("limit", "100")])
    assert sum(len(page.data["data"]) for page in pages) == 250 and pager.failed is None
    handler, seen = report_server(rows=250, claimed=200, rounded=False)
    pages, _pager = pages_of(mock_env(handler), [("limit", "100")])
    assert sum(len(page.data["data"]) for page in pages) == 200  # an exact total ends a full page


def test_a_short_page_ends_the_list_whatever_the_total_claims():
    handler, seen = report_server(rows=150, claimed=10**9, rounded=False)
    pages, pager = pages_of(mock_env(handler), [("limit", "100")])
    assert sum(len(page.data["data"]) for page in pages) == 150 and pager.more_from is None
    assert len(seen) <= 1 + pager.ahead  # what was asked for ahead of time, no more


@pytest.mark.parametrize("total", ["1" + "0" * 400, "-5", "1.5", "true"])
def test_absurd_numbers_in_paging_fields_are_unexpected_response(fake, metrika, total):
    """0.3.0: rows = 10^400 ended --paginate in an OverflowError."""
    original = fake._counters

    def lying(call):
        reply = original(call)
        body = reply.body.decode().replace('"rows": 3', f'"rows": {total}')
        return reply._replace(body=body.encode())

    fake._counters = lying
    result = metrika("api", "/management/v1/counters", "--paginate", env=as_token())
    assert result.code == 1 and "Traceback" not in result.stderr
    assert "no list can have" in result.stderr


def test_a_csv_report_with_paginate_says_why_and_how(fake, metrika):
    result = metrika("api", "/stat/v1/data.csv", "--paginate", "-f", "ids=101", env=as_token())
    assert result.code == 2 and fake.requests == []
    assert "CSV in one piece" in result.stderr and "limit=100000" in result.stderr


# ---- the pacer -------------------------------------------------------------------------------


def test_the_pacer_keeps_the_reports_quota_per_user():
    pacer = Pacer(per_second=10_000, reports=10, reports_window=0.5, margin=1.0)

    async def go() -> list[float]:
        loop = asyncio.get_running_loop()
        starts = []
        for _ in range(12):
            async with pacer.slot("u", "reports"):
                starts.append(loop.time())
        return starts

    starts = asyncio.run(go())
    assert starts[10] - starts[0] >= 0.49  # the 11th waits until the first leaves the window


def test_the_pacer_keeps_the_logs_api_rate():
    pacer = Pacer(per_second=10_000, logs_per_second=20, margin=1.0)

    async def go() -> list[float]:
        loop = asyncio.get_running_loop()
        starts = []
        for n in range(6):
            async with pacer.slot(f"u{n}", "logs"):
                starts.append(loop.time())
        return starts

    starts = asyncio.run(go())
    assert starts[-1] - starts[0] >= 5 * 0.05 * 0.98


# ---- bodies and headers ----------------------------------------------------------------------


def test_a_200_with_broken_json_is_unexpected_response(fake, metrika):
    """0.3.0: `{"rows": 3, "counters": [` from a 200 exited 0."""
    fake.fail("/management/v1/counters", "broken_json")
    result = metrika("api", "/management/v1/counters", env=as_token())
    assert result.code == 1 and "not the JSON it says it is" in result.stderr


def test_a_200_nested_beyond_reason_is_unexpected_response(fake, metrika):
    fake.fail("/management/v1/counters", "encoded", encoding="identity", body=b"[" * 200_000 + b"]" * 200_000)
    result = metrika("api", "/management/v1/counters", env=as_token())
    assert result.code == 1 and "not the JSON it says it is" in result.stderr


def test_two_layers_of_gzip_are_refused_before_decoding(fake, metrika):
    """0.3.0: `Content-Encoding: gzip, gzip` in 3.5 KB drove metrika to 4.2 GB of memory."""
    body = gzip.compress(gzip.compress(b"0" * 50_000_000))
    fake.fail("/management/v1/counters", "encoded", encoding="gzip, gzip", body=body)
    result = metrika("api", "/management/v1/counters", env=as_token())
    assert result.code == 1 and "'gzip, gzip'" in result.stderr


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, br"])
def test_an_encoding_not_asked_for_is_refused(fake, metrika, encoding):
    fake.fail("/management/v1/counters", "encoded", encoding=encoding, body=b"whatever")
    result = metrika("api", "/management/v1/counters", env=as_token())
    assert result.code == 1 and "decodes nothing else" in result.stderr


def test_one_layer_of_gzip_or_deflate_is_decoded(fake, metrika):
    import zlib

    document = {"rows": 0, "counters": []}
    for encoding, body in (("gzip", gzip.compress(json.dumps(document).encode())), ("deflate", zlib.compress(b"{}"))):
        fake.fail("/management/v1/counters", "encoded", encoding=encoding, body=body, times=1)
        result = metrika("api", "/management/v1/counters", env=as_token())
        assert result.code == 0, result.stderr
        assert json.loads(result.stdout) in (document, {})


def test_a_gzip_bomb_is_stopped_at_the_cap_within_the_timeout(metrika):
    with HostileServer({"/info": identity(), "/management/": gzip_bomb(4 * 1024 * 1024)}) as server:
        environ = {"METRIKA_TOKEN": TOKEN, "METRIKA_API_URL": server.url, "METRIKA_LOGIN_URL": server.url}
        started = time.monotonic()
        result = metrika("api", "/management/v1/counters", env={**environ, "METRIKA_TIMEOUT": "30"})
        assert time.monotonic() - started < 15  # stopped at the cap, long before the time-out
    assert result.code == 1 and "larger than 16 MiB" in result.stderr


@pytest.mark.parametrize("token", [TOKEN, *OTHER_SHAPES])
def test_include_redacts_the_token_in_headers(fake, metrika, token):
    """0.3.0 printed the response headers unredacted."""
    fake.add_token(token, **{k: v for k, v in vars(fake.accounts[TOKEN]).items() if k != "represents"})
    fake.fail("/management/v1/counters", "status", status=404, error_type="not_found", headers={"X-Echo": token})
    result = metrika("api", "/management/v1/counters", "--include", env={"METRIKA_TOKEN": token})
    assert "x-echo: sha256:" in result.stderr.lower() and token not in result.stderr


# ---- --output --------------------------------------------------------------------------------

PART = "/management/v1/counter/101/logrequest/7/part/0/download"


def test_output_streams_a_logs_api_part_past_16_mib_to_the_file(fake, metrika, tmp_path):
    """0.3.0 held every body in memory and refused one over 16 MiB."""
    fake.log_part_size = 20 * 1024 * 1024
    target = tmp_path / "part0.tsv"
    result = metrika("api", PART, "--output", str(target), env=as_token())
    assert result.code == 0, result.stderr
    assert result.stdout == "" and target.stat().st_size == 20 * 1024 * 1024
    assert target.read_bytes()[:12] == b"ym:s:visitID"
    assert [p.name for p in tmp_path.iterdir()] == ["part0.tsv"]


def test_a_failed_download_leaves_the_file_as_it_was(fake, metrika, tmp_path, monkeypatch):
    # every try is cut; the retries are kept, their waits (1 + 2 + 4 s) are not the point
    monkeypatch.setattr(api, "API", dataclasses.replace(api.API, backoff=(0.0,)))
    target = tmp_path / "part0.tsv"
    target.write_text("yesterday's part\n")
    fake.fail(PART, "cut")
    result = metrika("api", PART, "--output", str(target), env=as_token())
    assert result.code == 6
    assert target.read_text() == "yesterday's part\n" and [p.name for p in tmp_path.iterdir()] == ["part0.tsv"]


def test_output_dash_is_stdout(fake, metrika):
    fake.log_part_size = 100_000
    result = metrika("api", PART, "--output", "-", env=as_token())
    assert result.code == 0 and len(result.stdout) == 100_000


def test_output_into_a_missing_folder_is_bad_input_before_sending(fake, metrika, tmp_path):
    result = metrika("api", PART, "--output", str(tmp_path / "no" / "file"), env=as_token())
    assert result.code == 2 and fake.requests == []


def test_output_waits_metrika_timeout_for_each_piece_not_for_the_whole_body(metrika, tmp_path):
    """A part that takes longer than METRIKA_TIMEOUT to arrive, each piece within it, is kept."""
    target = tmp_path / "part0.tsv"
    with HostileServer({"/management/": drip(every=0.15, length=6)}) as server:
        environ = {"METRIKA_TOKEN": TOKEN, "METRIKA_API_URL": server.url, "METRIKA_TIMEOUT": "0.5"}
        result = metrika("api", PART, "--output", str(target), env=environ)
    assert result.code == 0, result.stderr
    assert target.read_bytes() == b" " * 6


def test_output_that_stops_arriving_for_metrika_timeout_fails_and_leaves_the_file(metrika, tmp_path, monkeypatch):
    monkeypatch.setattr(api, "API", dataclasses.replace(api.API, backoff=(0.0,)))
    target = tmp_path / "part0.tsv"
    target.write_text("yesterday's part\n")
    with HostileServer({"/management/": drip(every=30, length=8)}) as server:
        environ = {"METRIKA_TOKEN": TOKEN, "METRIKA_API_URL": server.url, "METRIKA_TIMEOUT": "0.5"}
        started = time.monotonic()
        result = metrika("api", PART, "--output", str(target), env=environ)
    assert result.code == 6 and "0.5 s" in result.stderr, result.stderr
    assert time.monotonic() - started < 10  # four tries of half a second, not the drip's four minutes
    assert target.read_text() == "yesterday's part\n" and [p.name for p in tmp_path.iterdir()] == ["part0.tsv"]


def test_output_onto_a_full_disk_says_so_and_leaves_the_file(fake, metrika, tmp_path, monkeypatch):
    import tempfile

    real = tempfile.NamedTemporaryFile

    class FillsUp:
        """The temporary file beside FILE, on a disk that is full after 3 MiB."""

        def __init__(self, inner: Any) -> None:
            self.inner, self.name, self.written = inner, inner.name, 0

        def write(self, data: bytes) -> int:
            self.written += len(data)
            if self.written > 3 * 1024 * 1024:
                raise OSError(28, "No space left on device")
            return self.inner.write(data)

        def close(self) -> None:
            self.inner.close()

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", lambda *args, **kwargs: FillsUp(real(*args, **kwargs)))
    fake.log_part_size = 8 * 1024 * 1024
    target = tmp_path / "part0.tsv"
    target.write_text("yesterday's part\n")
    result = metrika("api", PART, "--output", str(target), env=as_token())
    assert result.code == 1 and "no space left" in result.stderr and "Traceback" not in result.stderr
    assert target.read_text() == "yesterday's part\n" and [p.name for p in tmp_path.iterdir()] == ["part0.tsv"]


def test_a_read_takes_what_came_up_to_read_size_and_waits_at_most_its_time_out():
    """httpcore asks for 64 KiB a read: a 256 MiB part took 4,096 trips through the event loop."""

    async def go() -> tuple[bytes, bytes, float]:
        receiver = connections.Receiver()
        receiver.connection_made(asyncio.Transport())
        stream = connections.LoopStream(receiver.transport, receiver)
        receiver.data_received(b"x" * (connections.READ_SIZE + 10))
        first, second = await stream.read(65536, 1.0), await stream.read(65536, 1.0)
        started = time.monotonic()
        with pytest.raises(httpcore.ReadTimeout):
            await stream.read(65536, 0.2)
        return first, second, time.monotonic() - started

    first, second, waited = asyncio.run(go())
    assert (len(first), len(second)) == (connections.READ_SIZE, 10) and connections.READ_SIZE >= 1024 * 1024
    assert 0.15 < waited < 2


def test_a_connection_stops_reading_while_buffered_bytes_wait_and_reads_on_once_they_are_taken():
    """Bounded memory: a reader slower than the network (a slow disk) holds BUFFERED bytes at most."""
    calls = []

    class Transport(asyncio.Transport):
        def pause_reading(self) -> None:
            calls.append("pause")

        def resume_reading(self) -> None:
            calls.append("resume")

    receiver = connections.Receiver()
    receiver.connection_made(Transport())
    piece = b"x" * (256 * 1024)
    for _ in range(connections.BUFFERED // len(piece) + 2):
        receiver.data_received(piece)
    assert calls == ["pause"]
    while receiver.size > connections.BUFFERED // 2:
        receiver.take(connections.READ_SIZE)
    assert calls == ["pause", "resume"]


def test_a_connection_cut_mid_read_is_a_read_error_and_its_end_is_eof():
    async def go() -> tuple[bytes, bytes]:
        cut, closed = connections.Receiver(), connections.Receiver()
        for receiver in (cut, closed):
            receiver.connection_made(asyncio.Transport())
            receiver.data_received(b"rows")
        cut.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
        closed.eof_received()
        first = await connections.LoopStream(cut.transport, cut).read(65536)
        with pytest.raises(httpcore.ReadError, match="reset"):
            await connections.LoopStream(cut.transport, cut).read(65536)
        ended = connections.LoopStream(closed.transport, closed)
        return first, (await ended.read(65536)) + (await ended.read(65536))

    assert asyncio.run(go()) == (b"rows", b"rows")


# ---- --form ----------------------------------------------------------------------------------


def test_form_uploads_a_csv_as_multipart(fake, metrika, tmp_path):
    csv = tmp_path / "conversions.csv"
    csv.write_text("ClientId,Target,DateTime\n1,paid,1700000000\n2,paid,1700000001\n")
    path = "/management/v1/counter/101/offline_conversions/upload"
    result = metrika("api", path, "--form", f"file=@{csv}", "--form", "comment=november", env=as_token())
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["uploading"]["line_quantity"] == 2
    (upload,) = fake.uploads
    assert upload.files["file"] == ("conversions.csv", csv.read_bytes())
    assert upload.fields == {"comment": "november"}
    assert fake.requests[0].method == "POST"


@pytest.mark.parametrize(
    "args",
    [("--form", "file=@/no/such/file.csv"), ("--form", "novalue"), ("-X", "GET", "--form", "a=b")],
)
def test_form_mistakes_are_bad_input_before_sending(fake, metrika, args):
    result = metrika("api", "/management/v1/counter/101/expense/upload", *args, env=as_token())
    assert result.code == 2 and fake.requests == []


# ---- time bounds -----------------------------------------------------------------------------


def test_metrika_deadline_bounds_a_command_against_a_hanging_server(fake, metrika):
    fake.fail("/management/", "hang", seconds=30)
    started = time.monotonic()
    result = metrika("api", "/management/v1/counters", env=as_token(METRIKA_DEADLINE="1.5"))
    assert time.monotonic() - started < 6
    assert result.code == 6 and "METRIKA_DEADLINE" in result.stderr


def test_metrika_deadline_stops_retries_of_a_retrying_server(fake, metrika):
    path = "/management/v1/counter/101"
    fake.fail(path, "status", status=429, error_type="quota_requests_by_ip", headers={"Retry-After": "2"})
    started = time.monotonic()
    result = metrika("api", path, env=as_token(METRIKA_DEADLINE="3"))
    assert time.monotonic() - started < 6 and result.code == 6
    assert len(fake.requests_to(path)) == 2  # a third try would start past the deadline


def test_a_bad_metrika_deadline_is_bad_input(fake, metrika):
    result = metrika("api", "/management/v1/counters", env=as_token(METRIKA_DEADLINE="soon"))
    assert result.code == 2 and "METRIKA_DEADLINE" in result.stderr and fake.requests == []


def test_a_dead_host_stops_trying_after_the_first_failures():
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.host)
        raise httpx.ConnectError("[Errno 111] Connection refused")

    env = mock_env(refuse)

    async def go() -> list[Reply]:
        transport = api.SharedTransport(env)
        replies = []
        for _ in range(10):
            async with Client(env, TOKEN, transport=transport) as client:
                replies.append(await client.request("GET", "https://api.test/x", PROBE))
        return replies

    replies = asyncio.run(go())
    assert [reply.network for reply in replies] == ["refused"] * 10
    assert len(calls) == api.DEAD_AFTER


# ---- OAuth form posts ------------------------------------------------------------------------


def test_oauth_post_sends_a_form_without_authorization_and_traces_it_redacted():
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(400, json={"error": "invalid_grant"})

    env = mock_env(handler, METRIKA_OAUTH_URL="https://oauth.test", METRIKA_DEBUG="1")
    form = {"grant_type": "refresh_token", "refresh_token": "1:secret-refresh", "client_secret": "s3cr3t-app"}
    reply = asyncio.run(api.oauth_post(env, "/token", form))
    assert reply.status == 400 and len(sent) == 1  # a 4xx is never retried
    assert "authorization" not in sent[0].headers
    assert sent[0].headers["content-type"] == "application/x-www-form-urlencoded"
    trace = env.stderr.getvalue()
    assert "grant_type=refresh_token" in trace
    assert "secret-refresh" not in trace and "s3cr3t-app" not in trace and "refresh_token=[redacted]" in trace


def test_no_exit_code_literal_outside_the_enum():
    source = Path(api.__file__).parent
    for name in ("commands/api.py", "output.py", "launch.py"):
        text = (source / name).read_text()
        for literal in ("= 141", "= 127, 126", "return 6", "return 1\n", "return 5", "return 4"):
            assert literal not in text, (name, literal)
    assert os.path.exists(source / "errors.py")


class CountingTransport(httpx.AsyncBaseTransport):
    """The network as it is, counting the requests that reach it."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_status_over_a_dead_host_gives_every_profile_the_network_error_after_the_first_failures(isolated):
    from test_status import store_profiles, token_for

    from metrika_cli.commands.status import AT_ONCE
    from metrika_cli.main import main

    count = 40
    store_profiles(isolated, {f"p{n:02d}": {"token": token_for(n), "login": f"l{n}"} for n in range(count)})
    transport = CountingTransport()
    env = Env.for_test(dict(os.environ), transport=transport)
    code = main(["status", "--json"], env=env)
    document = json.loads(env.stdout.getvalue())
    assert code == 6
    assert {item["diagnosis"] for item in document["profiles"]} == {"network_error"}
    assert all("refused" in item["summary"] for item in document["profiles"])
    # the first profiles' requests were on their way together; after them, none reached the network
    assert transport.sent <= 3 * AT_ONCE + api.DEAD_AFTER < 3 * count


class CountingPacer(Pacer):
    """The pacer as it is, counting the slots it grants (each after its wait)."""

    granted = 0

    @contextlib.asynccontextmanager
    async def slot(self, user: str = "", kind: str = "management") -> AsyncIterator[None]:
        async with super().slot(user, kind):
            self.granted += 1
            yield


def test_status_over_a_dead_host_does_not_keep_the_profiles_left_waiting_for_the_pacer(isolated):
    """Once the host is known dead, every request still queued for a pacer slot gets the network
    error at once: at 5 requests a second, 40 profiles' 80 Metrika requests would take 17 s."""
    from test_status import store_profiles, token_for

    from metrika_cli.main import main

    count = 40
    store_profiles(isolated, {f"p{n:02d}": {"token": token_for(n), "login": f"l{n}"} for n in range(count)})
    env = Env.for_test(dict(os.environ), transport=CountingTransport())
    pacer = CountingPacer(per_second=5)
    env.pacer = lambda burst=1: pacer  # type: ignore[method-assign]
    code = main(["status", "--json"], env=env)
    document = json.loads(env.stdout.getvalue())
    assert code == 6 and len(document["profiles"]) == count
    assert {item["diagnosis"] for item in document["profiles"]} == {"network_error"}
    assert all("refused" in item["summary"] for item in document["profiles"])
    # Yandex ID (never paced) finds the host dead within milliseconds: at most the slots granted
    # before that (the first needs no wait), not one for each of the 2 * 40 Metrika requests
    assert pacer.granted <= api.DEAD_AFTER


def test_one_call_and_its_retries_end_within_the_policy_total():
    sent = []

    def retrying(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        return httpx.Response(
            429, headers={"Retry-After": "0.2"}, json={"errors": [{"error_type": "quota_requests_by_ip"}]}
        )

    policy = api.RetryPolicy("test", tries=100, longest_wait=1.0, longest_total=0.5, backoff=(0.2,))
    env = mock_env(retrying, METRIKA_TIMEOUT="0.3")

    async def go() -> Reply:
        async with Client(env, TOKEN, Pacer(per_second=10_000)) as client:
            return await client.request("GET", "https://api.test/management/v1/counters", policy)

    started = time.monotonic()
    reply = asyncio.run(go())
    # at 0, 0.2 and 0.4 s (fewer on a busy machine): no try starts where its wait would end past 0.5 s
    assert reply.status == 429 and 2 <= len(sent) <= 3 and sent[-1] - sent[0] < 0.5
    assert time.monotonic() - started < 2.0  # 100 tries would take 20 s


def test_output_shows_a_progress_bar_with_bytes_and_rate_on_a_terminal_only(fake, tmp_path):
    from conftest import process_environment

    from metrika_cli.main import main

    fake.log_part_size = 3 * 1024 * 1024
    environ = {**os.environ, **as_token()}
    for tty in (True, False):
        streams = Env.for_test(environ, stderr_tty=tty)
        with process_environment(environ):
            code = main(["api", PART, "--output", str(tmp_path / f"part-{tty}.tsv")], env=streams)
        assert code == 0 and (tmp_path / f"part-{tty}.tsv").stat().st_size == 3 * 1024 * 1024
        shown = streams.stderr.getvalue()
        assert ("MB" in shown and "/s" in shown) if tty else shown == ""


def test_past_a_rounded_total_pages_are_read_one_at_a_time():
    handler, seen = report_server(rows=1000, claimed=500, rounded=True)
    pages, pager = pages_of(mock_env(handler), [("limit", "100")])
    assert sum(len(page.data["data"]) for page in pages) == 1000
    assert len(seen) == 11  # ten full pages and the empty one that ends the list: none wasted


@pytest.mark.parametrize("command", ["check-access", "whoami", "status"])
def test_a_bad_metrika_deadline_is_refused_by_every_command(fake, metrika, command):
    bad = metrika(command, env=as_token(METRIKA_DEADLINE="-1"))
    assert bad.code == 2 and "METRIKA_DEADLINE" in bad.stderr and fake.requests == []


@pytest.mark.parametrize("command", ["check-access", "whoami"])
def test_metrika_deadline_holds_for_the_checks_too(fake, metrika, command):
    fake.fail("/management/", "hang", seconds=30)
    started = time.monotonic()
    result = metrika(command, env=as_token(METRIKA_DEADLINE="1.5"))
    assert time.monotonic() - started < 8 and result.code == 6
