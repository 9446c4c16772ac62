"""The Env is the only route to the outside: the HTTP client takes its proxies from env.environ
(never os.environ), and a Retry-After date is read against the Env's clock."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from unittest import mock

import httpx
from conftest import TOKEN, closed_port

from metrika_cli.api import PROBE, Client, Outgoing
from metrika_cli.env import Env


def ask(env: Env, url: str):
    async def go():
        async with Client(env, TOKEN) as client:
            return await client.request("GET", url, PROBE)

    return asyncio.run(go())


def test_a_proxy_in_the_process_environment_but_not_in_the_env_s_is_not_used(fake):
    proxy = f"http://127.0.0.1:{closed_port()}"
    env = Env.for_test({"METRIKA_API_URL": fake.url, "METRIKA_LOGIN_URL": fake.url})
    with mock.patch.dict(os.environ, {"HTTP_PROXY": proxy, "ALL_PROXY": proxy}):
        reply = ask(env, f"{fake.url}/info?format=json")
    assert (reply.network, reply.status, reply.data["login"]) == (None, 200, "vasya")  # straight to the fake


def test_a_proxy_in_the_env_s_environ_is_used_and_named(fake):
    proxy = f"http://127.0.0.1:{closed_port()}"
    env = Env.for_test({"METRIKA_API_URL": fake.url, "METRIKA_LOGIN_URL": fake.url, "HTTP_PROXY": proxy})
    with mock.patch.dict(os.environ, {}, clear=False):
        os.environ.pop("HTTP_PROXY", None)
        reply = ask(env, f"{fake.url}/info?format=json")
    assert reply.network == "proxy" and reply.status is None


def test_a_retry_after_date_is_read_against_the_env_s_clock():
    now = datetime(2025, 3, 14, 12, 0, 0, tzinfo=UTC)

    def quota(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "Fri, 14 Mar 2025 12:00:03 GMT"}, json={"errors": []})

    env = Env.for_test(
        {"METRIKA_API_URL": "https://api.test", "METRIKA_LOGIN_URL": "https://login.test"},
        transport=httpx.MockTransport(quota),
        clock=lambda: now,
    )

    async def go():
        async with Client(env, TOKEN) as client:
            return await client.send("Metrika", "GET", "https://api.test/management/v1/counters", Outgoing())

    assert asyncio.run(go()).retry_after == 3.0


def test_the_certificates_to_trust_come_from_the_env_s_environ(tmp_path):
    import ssl

    import certifi

    from metrika_cli.api import verify

    assert verify({}) is True  # httpx's own
    assert isinstance(verify({"SSL_CERT_FILE": certifi.where()}), ssl.SSLContext)
    assert isinstance(verify({"SSL_CERT_DIR": str(tmp_path)}), ssl.SSLContext)
    assert verify({"SSL_CERT_FILE": str(tmp_path / "missing.pem")}) is True
