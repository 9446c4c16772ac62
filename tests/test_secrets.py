"""Secrets stay put: a base URL the token may not go to is refused before anything is sent; a
proxy's user:password is never shown; a token typed into the wrong place is named only by its
fingerprint; no core dump can hold the token; a server cannot drive the terminal."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from conftest import CLIENT_ID, TOKEN, closed_port

from metrika_cli.text import fingerprint

PIECES = {TOKEN[i : i + 8] for i in range(len(TOKEN) - 7)}
HTTPS_BASES = {"METRIKA_API_URL": "https://api-metrika.yandex.net", "METRIKA_LOGIN_URL": "https://login.yandex.ru"}


def own_address() -> str:
    """This machine's address on its network (not loopback), or the documentation address if it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # UDP: picks the route, sends nothing
            address = probe.getsockname()[0]
        except OSError:
            return "192.0.2.2"
    return "192.0.2.2" if address.startswith("127.") else address


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP port listening on every interface: whatever connects to it is seen."""
    with socket.create_server(("0.0.0.0", 0)) as server:
        server.setblocking(False)
        yield server


def connections(server: socket.socket) -> int:
    count = 0
    while True:
        try:
            server.accept()[0].close()
            count += 1
        except BlockingIOError:
            return count


# ---- base URLs -------------------------------------------------------------------------


def test_a_plain_http_base_url_off_this_machine_is_refused_before_any_connection(fake, metrika, listener):
    url = f"http://{own_address()}:{listener.getsockname()[1]}"
    for variable in ("METRIKA_API_URL", "METRIKA_LOGIN_URL"):
        started = time.monotonic()
        result = metrika("check-access", "--json", env={"METRIKA_TOKEN": TOKEN, variable: url})
        assert time.monotonic() - started < 1
        assert result.code == 2, result.output
        document = json.loads(result.stdout)
        assert document["diagnosis"] == "bad_input" and variable in document["summary"]
        assert "Nothing was sent" in document["summary"]
    assert connections(listener) == 0
    assert fake.requests == []  # the other service (the fake) was not asked either


def test_the_same_listener_does_see_a_connection_from_this_machine(metrika, listener):
    """The listener above can fail: plain http to loopback is allowed, and it arrives."""
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    metrika("check-access", env={"METRIKA_TOKEN": TOKEN, "METRIKA_API_URL": url, "METRIKA_TIMEOUT": "0.3"})
    assert connections(listener) >= 1


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://vasya:Pa55w0rdSecret@api-metrika.yandex.net", "https://***@api-metrika.yandex.net"),
        ("https://vasya:Pa55w0rdSecret@api-metrika.yandex.net/a/b@c", "***@"),
        ("https://api-metrika.yandex.net:99999", "99999"),
        ("https://api-metrika.yandex.net:0", ":0"),
        ("ftp://api-metrika.yandex.net", "ftp://"),
        ("https://", "https://"),
    ],
)
def test_a_base_url_with_a_password_or_an_impossible_port_exits_2_without_showing_the_password(
    fake, metrika, url, shown
):
    login = ("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID)
    for args in (("check-access",), ("whoami", "--json"), login):
        result = metrika(*args, input=TOKEN, env={"METRIKA_TOKEN": TOKEN, "METRIKA_API_URL": url})
        assert result.code == 2, (args, result.output)
        assert "METRIKA_API_URL" in result.output and shown in result.output
        assert "Pa55w0rd" not in result.output and "Secret" not in result.output
        assert "Traceback" not in result.output
    assert fake.requests == []


# ---- proxies ---------------------------------------------------------------------------


def assert_secret_nowhere(result) -> None:
    for word in ("Secret", "Secr", "cret", "user:"):
        assert word not in result.output, (word, result.output)


def test_a_dead_https_proxy_is_named_by_its_variable_with_its_password_hidden(metrika):
    proxy = f"http://user:Secret@127.0.0.1:{closed_port()}"
    env = {**HTTPS_BASES, "METRIKA_TOKEN": TOKEN, "HTTPS_PROXY": proxy, "METRIKA_DEBUG": "1"}
    for args in (("check-access", "--json"), ("check-access",), ("whoami", "--json"), ("whoami",)):
        result = metrika(*args, env=env)
        assert result.code == 6, (args, result.output)
        assert_secret_nowhere(result)
        assert "http://***@127.0.0.1:" in result.output and "HTTPS_PROXY" in result.output
        assert "metrika: > GET https://" in result.stderr  # the debug traces are there, and clean
        if "--json" in args:
            document = json.loads(result.stdout)
            assert document["diagnosis"] == "network_error" and "***@" in document["summary"]
            assert any("HTTPS_PROXY" in step for step in document["fix"])


def test_http_proxy_for_a_plain_http_base_url_is_named_http_proxy(fake, metrika):
    proxy = f"http://user:Secret@127.0.0.1:{closed_port()}"
    result = metrika("check-access", "--json", env={"METRIKA_TOKEN": TOKEN, "HTTP_PROXY": proxy, "METRIKA_DEBUG": "1"})
    assert result.code == 6, result.output
    document = json.loads(result.stdout)
    assert document["diagnosis"] == "network_error" and "proxy" in document["summary"]
    assert any("HTTP_PROXY" in step for step in document["fix"])
    assert "HTTPS_PROXY" not in result.output
    assert_secret_nowhere(result)
    assert fake.requests == []  # it went to the proxy, not around it


@pytest.mark.parametrize(
    "proxy",
    [
        "socks5://user:Secret@127.0.0.1:1080",
        "socks5h://user:Secret@127.0.0.1:1080",
        "http://user:Secret@127.0.0.1:99999",
        "http://user:Secret@127.0.0.1:0",
        "http://user:Secret@[::1",
        "http://user:Secret@:3128",
        "http://user:Se/cret@127.0.0.1:3128",
        "http://user:Sec#ret@127.0.0.1:3128",
        "http://user:Secret@256.256.256.256:3128",
        "http://user:Secret@127.0.0.1:3128\n",
        "::::",
    ],
)
def test_an_unusable_proxy_exits_2_with_a_clear_message_and_its_password_hidden(fake, metrika, proxy):
    env = {**HTTPS_BASES, "METRIKA_TOKEN": TOKEN, "HTTPS_PROXY": proxy, "METRIKA_DEBUG": "1"}
    for args in (("check-access", "--json"), ("whoami",)):
        result = metrika(*args, env=env)
        assert result.code == 2, (args, result.output)
        assert "HTTPS_PROXY is not a proxy metrika can use" in result.output
        assert "Traceback" not in result.output
        for word in ("Secret", "Secr", "cret", "Sec#", "Se/"):
            assert word not in result.output, (word, result.output)


# ---- a token typed into the wrong place ------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("check-access", TOKEN),
        ("check-access", "101", f"202,{TOKEN}"),
        ("check-access", "--need", TOKEN),
        ("check-access", "--login", TOKEN),
        ("check-access", f"--login={TOKEN}"),
        ("whoami", "--json", TOKEN),
        ("whoami", "--profile", TOKEN),
        ("--profile", TOKEN, "whoami"),
        ("--profile", TOKEN, "check-access", "--json"),
        ("token", "--profile", TOKEN),
        ("token", TOKEN),
        ("logout", "--profile", TOKEN),
        (TOKEN,),
        ("auth-url", "--client-id", CLIENT_ID, "--login-hint", TOKEN),
        ("auth-url", "--client-id", CLIENT_ID, "--scope", TOKEN),
    ],
)
def test_a_token_typed_where_something_else_belongs_is_shown_only_by_fingerprint(fake, metrika, args):
    result = metrika(*args)
    assert result.code == 2, result.output
    assert sorted(piece for piece in PIECES if piece in result.output) == []
    assert fingerprint(TOKEN) in result.output
    assert "Traceback" not in result.output
    assert fake.requests == []


# ---- core dumps ------------------------------------------------------------------------


def core_limit(pid: int) -> str:
    for line in open(f"/proc/{pid}/limits").read().splitlines():
        if line.startswith("Max core file size"):
            return " ".join(line.split()[4:6])
    raise AssertionError("no core limit line")


ALLOWING_CORE_DUMPS = (
    "import resource, runpy, sys; "
    "resource.setrlimit(resource.RLIMIT_CORE, (1 << 30, resource.RLIM_INFINITY)); "
    "sys.argv = ['metrika', *sys.argv[1:]]; "
    "runpy.run_module(sys.argv.pop(1), run_name='__main__')"
)


def started_with_core_dumps_allowed(module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`python -m MODULE ARGS` in a process whose core limit was 1 GiB (hard: unlimited) when it started."""
    return subprocess.Popen(
        [sys.executable, "-c", ALLOWING_CORE_DUMPS, module, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def test_a_running_metrika_can_write_no_core_dump(fake):
    fake.fail("/", "hang", seconds=10)
    process = started_with_core_dumps_allowed("metrika_cli", "check-access", env={"METRIKA_TOKEN": TOKEN})
    try:
        deadline = time.monotonic() + 20
        while not fake.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake.requests, "metrika never asked the fake"
        assert core_limit(process.pid) == "0 0"  # soft and hard: not even metrika can raise it again
    finally:
        process.kill()
        process.wait()


def test_the_test_above_would_see_a_core_limit():
    """The same start without metrika: the limit it was given is what /proc shows."""
    process = started_with_core_dumps_allowed("http.server", "0", "--bind", "127.0.0.1")
    try:
        deadline = time.monotonic() + 20
        while core_limit(process.pid) != "1073741824 unlimited" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert core_limit(process.pid) == "1073741824 unlimited"
    finally:
        process.kill()
        process.wait()


# ---- terminal escapes ------------------------------------------------------------------

LOGIN = "\x1b]0;pwned\x07vasya"


def test_a_login_with_terminal_escapes_is_shown_escaped(fake, metrika, isolated):
    fake.accounts[TOKEN].login = LOGIN
    fake.accounts[TOKEN].counters[0]["name"] = "Shop\x1b[31m"
    outputs = [
        metrika("login", "--with-token", "--client-id", CLIENT_ID, "--insecure-storage", input=TOKEN),
        metrika("whoami"),
        metrika("check-access", "101"),
        metrika("check-access", "101", "--login", "petya"),
    ]
    assert [result.code for result in outputs] == [0, 0, 0, 5]
    for result in outputs:
        assert "\x1b" not in result.output and "\x07" not in result.output, repr(result.output)
        assert r"\x1b]0;pwned\x07vasya" in result.output
    document = json.loads(metrika("whoami", "--json").stdout)
    assert document["identity"]["login"] == LOGIN  # JSON keeps the value itself (escaped by JSON)


def test_an_error_type_with_terminal_escapes_is_shown_escaped(fake, metrika):
    fake.fail("/management/", "status", status=403, error_type="\x1b[2J")
    for args in (("check-access", "101"), ("whoami",)):
        result = metrika(*args, env={"METRIKA_TOKEN": TOKEN})
        assert result.code == 1, result.output
        assert "\x1b" not in result.output and r"HTTP 403 \x1b[2J" in result.output
    result = metrika("check-access", "--json", env={"METRIKA_TOKEN": TOKEN})
    assert "\x1b" not in result.stdout and json.loads(result.stdout)["api"]["error_type"] == "\x1b[2J"


@pytest.mark.parametrize("name", ["work\x1b[2J", "a\x07b", "tab\there", "new\nline", "bidi\u202etxt.exe"])
def test_a_profile_name_cannot_hold_control_characters(metrika, isolated, name):
    for args in (("whoami", "--profile", name), ("--profile", name, "token"), ("token", "--profile", name)):
        result = metrika(*args)
        assert result.code == 2, result.output
        assert not any(ch in result.output for ch in "\x1b\x07\t\u202e"), repr(result.output)
    assert not isolated.exists()
