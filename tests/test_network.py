"""A broken network, each way it breaks: the right diagnosis, the right exit code, no traceback.
Nothing here leaves the machine: loopback ports, a closed port, a name under .invalid that
fails before any resolver is asked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CLIENT_ID, TOKEN, closed_port


def check(metrika, *args: str, env: dict[str, str] | None = None):
    """check-access --json with METRIKA_TOKEN: (exit code, document, human stderr of a second run)."""
    environment = {"METRIKA_TOKEN": TOKEN, **(env or {})}
    result = metrika("check-access", "--json", *args, env=environment, timeout=60)
    assert result.stdout.count("\n}") == 1, result.output  # exactly one JSON object
    human = metrika("check-access", *args, env=environment, timeout=60)
    for output in (result.output, human.output):
        assert "Traceback" not in output
    assert human.code == result.code
    return result.code, json.loads(result.stdout), human.stdout


def both_urls(url: str) -> dict[str, str]:
    return {"METRIKA_API_URL": url, "METRIKA_LOGIN_URL": url}


def test_a_refused_connection_is_a_network_error(metrika):
    port = closed_port()
    code, document, human = check(metrika, env=both_urls(f"http://127.0.0.1:{port}"))
    assert (code, document["diagnosis"]) == (6, "network_error")
    assert "refused" in document["summary"] and "127.0.0.1" in document["summary"]
    assert "network_error" in human and "refused" in human


def test_an_unknown_host_is_a_dns_error(metrika):
    # The name fails in getaddrinfo itself (tests/no_resolver): no query reaches any resolver.
    no_resolver = str(Path(__file__).with_name("no_resolver"))
    env = {**both_urls("https://metrika-cli-test.invalid"), "PYTHONPATH": no_resolver}
    code, document, human = check(metrika, env=env)
    assert (code, document["diagnosis"]) == (6, "network_error")
    assert "DNS" in document["summary"] and "metrika-cli-test.invalid" in document["summary"]


def test_https_to_a_plain_http_server_is_a_tls_failure(fake, metrika):
    code, document, human = check(metrika, env=both_urls(fake.url.replace("http://", "https://")))
    assert (code, document["diagnosis"]) == (6, "network_error")
    assert "TLS" in document["summary"]
    assert fake.requests == []  # the handshake never became a request


def test_a_dead_proxy_is_named_as_the_proxy(metrika):
    proxy = f"http://127.0.0.1:{closed_port()}"
    env = {
        "HTTPS_PROXY": proxy,
        "METRIKA_API_URL": "https://api-metrika.yandex.net",
        "METRIKA_LOGIN_URL": "https://login.yandex.ru",
    }
    assert not any(name in os.environ for name in ("NO_PROXY", "no_proxy"))
    code, document, human = check(metrika, env=env)
    assert (code, document["diagnosis"]) == (6, "network_error")
    assert "proxy" in document["summary"] and proxy in document["summary"]
    assert any("HTTPS_PROXY" in step for step in document["fix"])


def test_no_answer_within_metrika_timeout_is_a_time_out(fake, metrika):
    fake.fail("/", "hang", seconds=10)
    started = time.monotonic()
    code, document, human = check(metrika, env={"METRIKA_TIMEOUT": "0.5"})
    assert time.monotonic() - started < 8  # two runs of about 0.5 s each
    assert (code, document["diagnosis"]) == (6, "network_error")
    assert "did not answer within 0.5 s" in document["summary"]
    assert any("METRIKA_TIMEOUT" in step for step in document["fix"])


def test_a_connection_cut_in_the_middle_of_the_body_is_a_network_error(fake, metrika):
    fake.fail("/management/", "cut")
    code, document, human = check(metrika)
    assert (code, document["diagnosis"]) == (6, "network_error")
    assert "broke in the middle" in document["summary"] and "Metrika" in document["summary"]


def test_an_html_502_from_a_proxy_means_the_service_is_unavailable(fake, metrika):
    fake.fail("/management/", "html", status=502)
    code, document, human = check(metrika)
    assert (code, document["diagnosis"]) == (6, "service_unavailable")
    assert "HTML" in document["summary"] and "502" in document["summary"]
    assert document["api"]["status"] == 502


def test_a_200_with_broken_json_is_an_unexpected_response(fake, metrika):
    fake.fail("/management/", "broken_json")
    code, document, human = check(metrika)
    assert (code, document["diagnosis"]) == (1, "unexpected_response")
    assert "not the expected JSON" in document["summary"]


def test_broken_json_from_yandex_id_is_an_unexpected_response_too(fake, metrika):
    fake.fail("/info", "broken_json")
    code, document, human = check(metrika)
    assert (code, document["diagnosis"]) == (1, "unexpected_response")
    assert "Yandex ID" in document["summary"]


@pytest.mark.parametrize("fault, code", [("cut", 6), ("html", 6), ("broken_json", 1), ("hang", 6)])
def test_a_failing_network_at_login_stores_nothing(fake, metrika, isolated, fault, code):
    fake.fail("/management/", fault, **({"seconds": 10} if fault == "hang" else {}))
    result = metrika(
        "login",
        "--with-token",
        "--insecure-storage",
        "--client-id",
        CLIENT_ID,
        input=TOKEN,
        env={"METRIKA_TIMEOUT": "1"},
    )
    assert result.code == code, result.stderr
    assert "Nothing was stored" in result.stderr and "Traceback" not in result.stderr
    assert not (isolated / "config.toml").exists() and not (isolated / "credentials.toml").exists()


def interrupt_mid_request(fake, args: list[str], stdin, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Start `metrika ARGS`, send SIGINT once its first request reached the (slow) fake."""
    fake.latency = 30
    process = subprocess.Popen(
        [sys.executable, "-m", "metrika_cli", *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        deadline = time.monotonic() + 20
        while not fake.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fake.requests, "the command never reached the fake"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stdout, stderr


def test_ctrl_c_during_a_request_exits_130_and_stores_nothing(fake, isolated, tmp_path):
    pasted = tmp_path / "pasted"
    pasted.write_text(TOKEN)
    with pasted.open() as stdin:
        code, stdout, stderr = interrupt_mid_request(
            fake, ["login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID], stdin
        )
    assert code == 130, stderr
    assert "Interrupted; nothing was stored." in stderr
    assert "Traceback" not in stderr and TOKEN not in stdout + stderr
    assert not (isolated / "config.toml").exists() and not (isolated / "credentials.toml").exists()


def test_ctrl_c_during_check_access_exits_130(fake):
    code, stdout, stderr = interrupt_mid_request(
        fake, ["check-access", "--json"], subprocess.DEVNULL, env={"METRIKA_TOKEN": TOKEN}
    )
    assert code == 130 and "Traceback" not in stderr
    document = json.loads(stdout)
    assert document["diagnosis"] == "interrupted"
    assert document["summary"] == "Interrupted."  # nothing was to be stored: login alone says so
