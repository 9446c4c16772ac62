"""Servers that misbehave on purpose (tests/hostile_server.py): every request is bounded in time
from start to end, every answer in size after decompression, paging has a ceiling, and odd
answers are a diagnosis, never a crash. Retry-After is honoured in the advice, and pacing keeps
a command with thousands of counters under Metrika's quotas."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from conftest import CLIENT_ID, TOKEN
from hostile_server import HostileServer, counters, drip, endless, gzip_bomb, identity, nested

from metrika_cli import api


def on(server: HostileServer) -> dict[str, str]:
    return {"METRIKA_TOKEN": TOKEN, "METRIKA_API_URL": server.url, "METRIKA_LOGIN_URL": server.url}


def test_a_server_that_drips_its_body_is_cut_off_at_metrika_timeout(metrika):
    with HostileServer({"/info": drip(), "/management/": drip()}) as server:
        started = time.monotonic()
        result = metrika("check-access", "--json", env={**on(server), "METRIKA_TIMEOUT": "1"})
        elapsed = time.monotonic() - started
        assert server.bytes_sent > 0  # it did start answering, byte by byte
    assert elapsed < 5, elapsed  # the whole answer would drip for 200 s
    document = json.loads(result.stdout)
    assert (result.code, document["diagnosis"]) == (6, "network_error")
    assert "did not answer within 1 s" in document["summary"]


def test_a_dripping_server_at_login_stores_nothing(metrika, isolated):
    with HostileServer({"/info": identity(), "/management/": drip()}) as server:
        started = time.monotonic()
        result = metrika(
            "login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID,
            input=TOKEN, env={**on(server), "METRIKA_TOKEN": "", "METRIKA_TIMEOUT": "0.5"},
        )  # fmt: skip
    assert time.monotonic() - started < 5  # the whole answer would drip for 200 s
    assert result.code == 6 and "Nothing was stored" in result.stderr
    assert not (isolated / "credentials.toml").exists()


def test_a_gzip_bomb_is_refused_past_16_mib_and_memory_stays_sane():
    with HostileServer({"/info": identity(), "/management/": gzip_bomb()}) as server:
        process = subprocess.Popen(
            [sys.executable, "-m", "metrika_cli", "check-access", "--json"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **on(server)},
        )
        stdout = process.stdout.read()
        process.stderr.read()
        _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    document = json.loads(stdout)
    assert (process.returncode, document["diagnosis"]) == (1, "unexpected_response")
    assert "larger than 16 MiB" in document["summary"] and "Metrika" in document["summary"]
    assert usage.ru_maxrss < 300 * 1024, f"{usage.ru_maxrss // 1024} MiB"  # ru_maxrss is in KiB; 2 GiB inflated
    print(f"max RSS {usage.ru_maxrss // 1024} MiB")


def test_a_100_mb_body_is_refused_without_being_read_to_the_end(metrika):
    with HostileServer({"/info": identity(), "/management/": endless(100 * 1024 * 1024)}) as server:
        result = metrika("whoami", "--json", env=on(server))
        time.sleep(0.1)
        sent = server.bytes_sent
    document = json.loads(result.stdout)
    assert (result.code, document["diagnosis"]) == (1, "unexpected_response")
    assert "larger than 16 MiB" in document["summary"]
    # whoami reads two Metrika answers at once (the counters and the accounts list), each cut
    # off past 16 MiB: far from the 200 MiB the server would send to two readers to the end.
    assert 16 * 1024 * 1024 < sent < 70 * 1024 * 1024, sent


def test_a_server_claiming_a_billion_counters_gets_at_most_max_pages_requests(metrika):
    full_page = [{"id": n, "permission": "own"} for n in range(1, api.PAGE_SIZE + 1)]  # every page full
    with HostileServer({"/info": identity(), "/management/v1/counters": counters(10**9, full_page)}) as server:
        # the ceiling is the point, not the pace: the Env's pacer lets 10,000 a second through
        result = metrika("whoami", "--json", env=on(server), quota_per_second=10_000)
        pages = server.requests_to("/management/v1/counters")
    assert result.code == 0, result.output
    assert 1 < len(pages) <= api.MAX_PAGES + 1, len(pages)
    offsets = sorted(int(m.group(1)) for target in pages if (m := re.search(r"offset=(\d+)", target)))
    assert offsets[-1] <= api.MAX_PAGES * api.PAGE_SIZE


@pytest.mark.parametrize("where", ["/info", "/management/"])
def test_json_nested_100000_deep_is_an_unexpected_response(metrika, where):
    answers = {"/info": identity(), "/management/": counters(1)}
    answers[where] = nested(100_000)
    with HostileServer(answers) as server:
        for args in (("check-access", "--json"), ("whoami",)):
            result = metrika(*args, env=on(server))
            assert result.code == 1, (args, result.output)
            assert "Traceback" not in result.output and "RecursionError" not in result.output
            assert "unexpected_response" in result.output and "not the expected JSON" in result.output


def test_a_null_client_id_from_yandex_id_is_no_crash(fake, metrika, isolated):
    fake.accounts[TOKEN].client_id = None
    for args in (("check-access", "101", "--json"), ("whoami",), ("whoami", "--json")):
        result = metrika(*args, env={"METRIKA_TOKEN": TOKEN})
        assert result.code == 0, (args, result.output)
        assert "Traceback" not in result.output
    result = metrika("login", "--with-token", "--insecure-storage", input=TOKEN)
    assert result.code == 0 and "Traceback" not in result.output, result.output
    assert metrika("whoami").code == 0
    assert metrika("check-access", "--json", env={"METRIKA_CLIENT_ID": CLIENT_ID}).code in (0, 5)


@pytest.mark.parametrize("header, seconds", [("120", 120), ("http-date", 120)])
def test_retry_after_is_in_the_advice(fake, metrika, header, seconds):
    if header == "http-date":
        header = format_datetime(datetime.now(UTC) + timedelta(seconds=seconds + 1), usegmt=True)
    fake.fail("/management/", "status", status=429, error_type="quota_requests_by_ip", headers={"Retry-After": header})
    result = metrika("check-access", "--json", env={"METRIKA_TOKEN": TOKEN})
    document = json.loads(result.stdout)
    assert (result.code, document["diagnosis"]) == (6, "rate_limited")
    advice = " ".join(document["fix"])
    said = int(re.search(r"Retry in (\d+) s", advice).group(1))
    assert seconds - 2 <= said <= seconds + 1, advice
    assert "Retry-After" in advice


def test_thousands_of_counters_are_paced_under_the_quotas(metrika):
    from fake_yandex import FakeYandex

    ids = list(range(1, 3201))
    with FakeYandex(quota=True) as fake:
        fake.per_ip_per_second = 4 * 30  # both sides at 4 times Metrika's rate: the same schedule, faster
        fake.add_token(
            TOKEN, login="vasya", client_id=CLIENT_ID, counters=[{"id": i, "permission": "view"} for i in ids]
        )
        env = {"METRIKA_TOKEN": TOKEN, "METRIKA_API_URL": fake.url, "METRIKA_LOGIN_URL": fake.url}
        result = metrika("check-access", *map(str, ids), "--json", env=env, quota_per_second=4 * 30)
        assert fake.quota_rejections == []
        assert len(fake.requests_to("/management/v1/counters")) == 32
    document = json.loads(result.stdout)
    assert result.code == 0, document["summary"]
    assert len(document["counters"]) == 3200 and all(counter["ok"] for counter in document["counters"])
