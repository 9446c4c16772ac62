"""`metrika api` against the loopback fake: paths, methods, fields, bodies, pages, retries, and a
failing call explaining itself with check-access's diagnosis."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import CLIENT_ID, TOKEN, Result, closed_port, process_environment

import metrika_cli.api as client
from metrika_cli.env import Env
from metrika_cli.main import main
from metrika_cli.pacing import PARALLEL

ANSI = "\x1b["
GOAL = {"goal": {"name": "Thanks page", "type": "url", "conditions": [{"type": "contain", "url": "thanks"}]}}


def as_token(**extra: str) -> dict[str, str]:
    return {"METRIKA_TOKEN": TOKEN, **extra}


@pytest.fixture
def quick_retries(monkeypatch):
    """Back-off of 10 ms instead of 1, 2 and 4 s, where the server sends no Retry-After."""
    monkeypatch.setattr(client, "API", dataclasses.replace(client.API, backoff=(0.01, 0.01, 0.01)))


def direct(fake, path: str) -> bytes:
    """What the fake answers to `path` for TOKEN, fetched without metrika."""
    request = urllib.request.Request(fake.url + path, headers={"Authorization": f"OAuth {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def query_of(recorded) -> dict[str, list[str]]:
    return parse_qs(urlsplit(recorded.path).query, keep_blank_values=True)


def many_counters(fake, count: int = 23, report_rows: int = 25) -> list[int]:
    ids = list(range(1001, 1001 + count))
    fake.accounts[TOKEN].counters += [{"id": cid, "permission": "own", "report_rows": report_rows} for cid in ids]
    return [101, 202, 303, *ids]


def call_terminal(*args: str, env: dict[str, str], stdout_tty: bool, stderr_tty: bool) -> Result:
    """metrika in-process with stdout and/or stderr said to be a terminal."""
    environ = {**os.environ, **env}
    streams = Env.for_test(environ, stdout_tty=stdout_tty, stderr_tty=stderr_tty)
    with process_environment(environ):
        code = main(list(args), env=streams)
    return Result(code, streams.stdout.getvalue(), streams.stderr.getvalue())


# ---- paths and hosts -------------------------------------------------------------------


def test_the_body_goes_to_stdout_unchanged_and_nothing_else(fake, metrika):
    result = metrika("api", "/management/v1/counters", env=as_token())
    assert (result.code, result.stderr) == (0, "")
    assert [r.path for r in fake.requests] == ["/management/v1/counters"]
    assert fake.requests[0].headers["Authorization"] == f"OAuth {TOKEN}"
    assert result.stdout == direct(fake, "/management/v1/counters").decode()


@pytest.mark.parametrize("path", ["management/v1/counters", "/management/v1/counters", "//management/v1/counters"])
def test_the_leading_slash_is_optional(fake, metrika, path):
    result = metrika("api", path, env=as_token())
    assert result.code == 0 and json.loads(result.stdout)["rows"] == 3
    assert [r.path for r in fake.requests] == ["/management/v1/counters"]


def test_a_query_in_path_is_kept_and_fields_are_added(fake, metrika):
    result = metrika("api", "/management/v1/counters?per_page=1", "-f", "offset=2", env=as_token())
    assert result.code == 0
    assert [c["id"] for c in json.loads(result.stdout)["counters"]] == [202]
    assert query_of(fake.requests[0]) == {"per_page": ["1"], "offset": ["2"]}


def test_a_full_url_on_the_api_host_is_accepted(fake, metrika):
    result = metrika("api", f"{fake.url}/management/v1/counter/101", env=as_token())
    assert result.code == 0 and json.loads(result.stdout)["counter"]["id"] == 101


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/management/v1/counters",
        "http://evil.example/management/v1/counters",
        "{scheme_s}/management/v1/counters",  # https on the fake's host and port
        "http://localhost:{port}/management/v1/counters",  # same machine, another host name
        "http://127.0.0.1:{other}/management/v1/counters",  # another port
        "http://user:pw@127.0.0.1:{port}/management/v1/counters",
        "ftp://127.0.0.1:{port}/x",
        "http://127.0.0.1:99999/x",
    ],
)
def test_a_url_on_another_host_scheme_or_port_is_refused_before_anything_is_sent(fake, metrika, url):
    port = urlsplit(fake.url).port
    url = url.format(scheme_s=fake.url.replace("http://", "https://"), port=port, other=closed_port())
    result = metrika("api", url, env=as_token())
    assert result.code == 2, result.output
    assert "Nothing was sent" in result.stderr and result.stdout == ""
    assert fake.requests == []
    assert "pw" not in result.stderr


@pytest.mark.parametrize("path", ["", " ", "/management/v1/counters\n", "/a b"])
def test_a_path_with_spaces_or_control_characters_is_bad_input(fake, metrika, path):
    assert metrika("api", path, env=as_token()).code == 2
    assert fake.requests == []


# ---- methods, fields and bodies ------------------------------------------------------------


@pytest.mark.parametrize("method", ["PATCH", "HEAD", "", "GETS"])
def test_an_unknown_method_is_bad_input(fake, metrika, method):
    result = metrika("api", "-X", method, "/management/v1/counters", env=as_token())
    assert result.code == 2 and "GET, POST, PUT or DELETE" in result.stderr
    assert fake.requests == []


@pytest.mark.parametrize("field", ["novalue", "=value", ""])
def test_a_malformed_field_is_bad_input(fake, metrika, field):
    result = metrika("api", "/management/v1/counters", "-f", field, env=as_token())
    assert result.code == 2 and "KEY=VALUE" in result.stderr
    assert fake.requests == []


def test_fields_of_a_get_are_query_parameters_and_may_repeat(fake, metrika):
    result = metrika(
        "api", "/management/v1/counters", "-f", "permission=own", "-f", "permission=edit", "-f", "x=a=b", env=as_token()
    )
    assert result.code == 0
    assert sorted(c["id"] for c in json.loads(result.stdout)["counters"]) == [101, 303]
    assert query_of(fake.requests[0]) == {"permission": ["own", "edit"], "x": ["a=b"]}


def test_fields_of_a_post_are_a_json_body_of_strings(fake, metrika):
    result = metrika(
        "api", "-X", "post", "/management/v1/counter/101/goals", "-f", "name=Thanks", "-f", "depth=3", env=as_token()
    )
    # the fake wants {"goal": {...}}: a flat body is a 400, shown and explained
    assert result.code == 1
    assert json.loads(result.stdout)["errors"][0]["error_type"] == "invalid_parameter"
    assert result.stderr == "error: Metrika answered HTTP 400 invalid_parameter (Invalid parameter).\n"
    [request] = fake.requests_to("/management/v1/counter/101/goals", method="POST")
    assert json.loads(request.body) == {"name": "Thanks", "depth": "3"}
    assert request.headers["Content-Type"] == "application/json"


def test_a_field_given_twice_in_a_body_is_bad_input(fake, metrika):
    result = metrika("api", "-X", "PUT", "/management/v1/accounts", "-f", "a=1", "-f", "a=2", env=as_token())
    assert result.code == 2 and fake.requests == []


def test_input_file_is_sent_as_it_is_and_fields_go_to_the_query(fake, metrika, tmp_path):
    goal = tmp_path / "goal.json"
    goal.write_bytes(b'{ "goal" : {"name": "Thanks page", "type": "url"} }\n')
    result = metrika(
        "api", "-X", "POST", "/management/v1/counter/101/goals", "--input", str(goal), "-f", "k=v", env=as_token()
    )
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {"goal": {"id": 1, "name": "Thanks page", "type": "url"}}
    [request] = fake.requests_to("/management/v1/counter/101/goals", method="POST")
    assert request.body == goal.read_bytes()
    assert query_of(request) == {"k": ["v"]}
    assert fake.goals[101] == [{"id": 1, "name": "Thanks page", "type": "url"}]


def test_input_dash_reads_standard_input(fake, metrika):
    result = metrika(
        "api", "-X", "POST", "/management/v1/counter/303/goals", "--input", "-", input=json.dumps(GOAL), env=as_token()
    )
    assert result.code == 0, result.stderr
    assert json.loads(fake.requests[0].body) == GOAL


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"a": 1} trailing', b"\xff\xfe\x00"])
def test_input_that_is_not_json_is_bad_input(fake, metrika, tmp_path, content):
    path = tmp_path / "body.json"
    path.write_bytes(content)
    result = metrika("api", "-X", "POST", "/management/v1/counter/101/goals", "--input", str(path), env=as_token())
    assert result.code == 2 and "is not JSON" in result.stderr
    assert fake.requests == []


def test_input_that_cannot_be_read_is_bad_input(fake, metrika, tmp_path):
    for path in (tmp_path / "missing.json", tmp_path):
        result = metrika("api", "-X", "POST", "/management/v1/counter/101/goals", "--input", str(path), env=as_token())
        assert result.code == 2 and "Cannot read --input" in result.stderr
    assert fake.requests == []


def test_delete_sends_its_fields_as_query_parameters(fake, metrika):
    assert (
        metrika(
            "api",
            "-X",
            "POST",
            "/management/v1/counter/101/goals",
            "--input",
            "-",
            input=json.dumps(GOAL),
            env=as_token(),
        ).code
        == 0
    )
    result = metrika("api", "-X", "delete", "/management/v1/counter/101/goal/1", "-f", "note=x", env=as_token())
    assert result.code == 0 and json.loads(result.stdout) == {"success": True}
    [request] = fake.requests_to("/management/v1/counter/101/goal/1", method="DELETE")
    assert query_of(request) == {"note": ["x"]} and request.body == b""
    assert fake.goals[101] == []


def test_ulogin_acts_for_a_represented_account(fake, metrika):
    fake.add_represented(TOKEN, "client-a", counters=[{"id": 777, "permission": "edit"}])
    result = metrika("api", "/management/v1/counters", "--ulogin", "client-a", env=as_token())
    assert result.code == 0
    assert [c["id"] for c in json.loads(result.stdout)["counters"]] == [777]
    assert query_of(fake.requests[0]) == {"ulogin": ["client-a"]}


def test_ulogin_of_an_account_not_represented_is_explained(fake, metrika):
    result = metrika("api", "/management/v1/counters", "--ulogin", "stranger", env=as_token())
    assert result.code == 5
    assert json.loads(result.stdout)["errors"][0]["error_type"] == "access_denied"
    assert "Metrika refused this call: HTTP 403 access_denied (Access is denied)" in result.stderr
    assert "stranger is among the accounts you represent" in result.stderr


def test_include_puts_the_status_line_and_headers_on_stderr(fake, metrika):
    result = metrika("api", "-i", "/management/v1/counter/101", env=as_token())
    assert result.code == 0
    assert result.stderr.startswith("HTTP 200 OK\n")
    assert re.search(r"(?im)^content-type: application/json", result.stderr)
    assert result.stderr.endswith("\n\n")
    assert json.loads(result.stdout)["counter"]["id"] == 101


# ---- the token ---------------------------------------------------------------------------


def test_no_token_is_exit_3_and_nothing_is_sent(fake, metrika):
    result = metrika("api", "/management/v1/counters")
    assert result.code == 3 and result.stdout == ""
    assert result.stderr.startswith("error: No token for profile default: run `metrika login`")
    assert fake.requests == []


def test_a_malformed_token_is_exit_4_and_nothing_is_sent(fake, metrika):
    result = metrika("api", "/management/v1/counters", env={"METRIKA_TOKEN": f"OAuth {TOKEN}"})
    assert result.code == 4 and fake.requests == []


def test_the_stored_token_is_used(fake, metrika):
    stored = metrika("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID, input=TOKEN)
    assert stored.code == 0
    result = metrika("api", "/management/v1/counter/303")
    assert result.code == 0 and json.loads(result.stdout)["counter"]["id"] == 303


def test_a_profile_with_a_bad_name_is_bad_input(fake, metrika):
    assert metrika("api", "/management/v1/counters", "--profile", "a b", env=as_token()).code == 2
    assert fake.requests == []


# ---- pages -----------------------------------------------------------------------------


def test_paginate_a_management_list_prints_every_page_in_order(fake, metrika):
    ids = many_counters(fake)
    result = metrika("api", "/management/v1/counters", "--paginate", "-f", "per_page=5", env=as_token())
    assert result.code == 0, result.stderr
    pages = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(pages) == 6 and all(page["rows"] == 26 for page in pages)
    assert [c["id"] for page in pages for c in page["counters"]] == ids
    assert all(line == json.dumps(json.loads(line), separators=(",", ":")) for line in result.stdout.splitlines())
    offsets = sorted(int(query_of(r)["offset"][0]) for r in fake.requests)
    assert offsets == [1, 6, 11, 16, 21, 26]
    assert all(query_of(r)["per_page"] == ["5"] for r in fake.requests)


def test_paginate_a_report_prints_every_row_exactly_once(fake, metrika):
    fake.accounts[TOKEN].counters[0]["report_rows"] = 47
    args = ("api", "stat/v1/data", "--paginate", "-f", "ids=101", "-f", "metrics=ym:s:visits")
    result = metrika(*args, "-f", "dimensions=ym:s:date", "-f", "limit=10", env=as_token())
    assert result.code == 0, result.stderr
    pages = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(pages) == 5
    assert [row["dimensions"][0]["name"] for page in pages for row in page["data"]] == [
        f"row-{n}" for n in range(1, 48)
    ]
    assert len(fake.requests) == 5


def test_paginate_starts_at_the_offset_given(fake, metrika):
    many_counters(fake)
    result = metrika(
        "api", "/management/v1/counters", "--paginate", "-f", "per_page=10", "-f", "offset=11", env=as_token()
    )
    assert result.code == 0
    ids = [c["id"] for line in result.stdout.splitlines() for c in json.loads(line)["counters"]]
    assert ids == list(range(1008, 1024))


def test_paginate_without_a_page_size_asks_for_a_thousand(fake, metrika):
    result = metrika("api", "/management/v1/counters", "--paginate", env=as_token())
    assert result.code == 0 and len(result.stdout.splitlines()) == 1
    assert query_of(fake.requests[0]) == {"offset": ["1"], "per_page": ["1000"]}


def test_paginate_of_something_that_is_not_a_list_prints_it_once_with_a_warning(fake, metrika):
    result = metrika("api", "/management/v1/counter/101", "--paginate", env=as_token())
    assert result.code == 0 and len(result.stdout.splitlines()) == 1
    assert "warning: The answer has no counters list" in result.stderr
    assert len(fake.requests) == 1


def test_paginate_never_goes_past_the_page_ceiling(fake, metrika, monkeypatch):
    many_counters(fake)
    monkeypatch.setattr(client, "MAX_PAGES", 3)
    result = metrika("api", "/management/v1/counters", "--paginate", "-f", "per_page=5", env=as_token())
    assert result.code == 1
    assert len(result.stdout.splitlines()) == 3 and len(fake.requests) == 3
    assert "Stopped after 3 pages" in result.stderr and "offset 16" in result.stderr


def test_paginate_never_trusts_a_total_alone(fake, metrika, monkeypatch):
    """A server claiming two billion rows while its pages run dry costs one more request, not
    MAX_PAGES: an empty page ends the list whatever the total says."""
    original = fake._counters

    def lying(call):
        reply = original(call)
        body = json.loads(reply.body)
        body["rows"] = 2_000_000_000
        return reply._replace(body=json.dumps(body).encode())

    fake._counters = lying
    result = metrika("api", "/management/v1/counters", "--paginate", "-f", "per_page=1000", env=as_token())
    assert result.code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
    assert len(fake.requests) <= 1 + 2 * PARALLEL  # the first page, then at most the pages asked for ahead


@pytest.mark.parametrize("args", [("-X", "POST"), ("-X", "delete"), ("-f", "offset=0"), ("-f", "per_page=x")])
def test_paginate_refuses_a_write_or_a_bad_offset_before_sending(fake, metrika, args):
    result = metrika("api", "/management/v1/counters", "--paginate", *args, env=as_token())
    assert result.code == 2 and fake.requests == []


def test_paginate_sends_three_at_a_time_under_the_quotas(fake, metrika):
    many_counters(fake, count=40)
    fake.quota, fake.latency = True, 0.1
    result = metrika("api", "/management/v1/counters", "--paginate", "-f", "per_page=4", env=as_token())
    assert result.code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 11 and len(fake.requests) == 11
    assert fake.quota_rejections == []
    assert fake.most_in_flight() == 3


def test_a_page_that_fails_stops_the_rest_and_is_explained(fake, metrika):
    many_counters(fake)
    fake.fail("/management/v1/counters?offset=11", "status", status=400, error_type="invalid_parameter")
    result = metrika("api", "/management/v1/counters", "--paginate", "-f", "per_page=5", env=as_token())
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and json.loads(lines[-1])["errors"][0]["error_type"] == "invalid_parameter"
    assert "HTTP 400 invalid_parameter" in result.stderr


# ---- retries -----------------------------------------------------------------------------


def test_a_429_is_waited_out_as_retry_after_says_then_retried(fake, metrika):
    fake.fail(
        "/management/v1/counters",
        "status",
        status=429,
        error_type="quota_requests_by_ip",
        headers={"Retry-After": "1"},
        times=1,
    )
    result = metrika("api", "/management/v1/counters", env=as_token())
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["rows"] == 3
    first, second = fake.requests
    assert (first.status, second.status) == (429, 200)
    assert second.started - first.finished >= 0.95
    assert "retrying in 1 s (1 of 3)" in result.stderr


def test_a_quota_429_from_the_fake_s_own_quota_is_retried(fake, metrika):
    fake.quota, fake.retry_after = True, "0"
    fake.parallel_per_login = 0  # every request is over the parallel quota
    result = metrika("api", "/management/v1/counter/101", env=as_token())
    assert len(fake.requests_to("/management/v1/counter/101")) == 4  # the call and 3 retries
    assert result.code == 6
    assert result.stderr.endswith(
        "error: rate_limited: Metrika refused the request: the limit of parallel requests per user (3 at once) was exceeded.\n"
        "What to do:\n  1. Retry in 0 s, as the server asks (Retry-After).\n"
    )
    assert json.loads(result.stdout)["errors"][0]["error_type"] == "quota_parallel_requests"


def test_a_daily_quota_is_never_retried_and_says_when_it_resets_at_once(fake, metrika):
    """0.3.0 retried quota_requests_by_uid three times (7.6 s) before saying anything."""
    fake.fail("/management/", "status", status=429, error_type="quota_requests_by_uid", headers={"Retry-After": "0"})
    result = metrika("api", "/management/v1/counter/101", env=as_token())
    assert result.code == 6
    assert len(fake.requests_to("/management/v1/counter/101")) == 1 and "retrying" not in result.stderr
    assert "rate_limited: Metrika refused the request: the daily limit of requests per user" in result.stderr
    assert "It resets at 00:00 UTC, in " in result.stderr
    assert json.loads(result.stdout)["errors"][0]["error_type"] == "quota_requests_by_uid"


def test_a_429_the_checks_do_not_explain_says_what_metrika_answered(fake, metrika):
    fake.fail(
        "/management/v1/counter/101",
        "status",
        status=429,
        error_type="quota_requests_by_counter_id",
        headers={"Retry-After": "0"},
    )
    result = metrika("api", "/management/v1/counter/101", env=as_token())
    assert result.code == 6
    assert "Metrika refused this call: HTTP 429 quota_requests_by_counter_id (Quota exceeded)" in result.stderr
    assert "the limit of requests per counter was exceeded" in result.stderr
    assert "Retry in 0 s" in result.stderr


def test_a_429_on_a_write_is_retried_too(fake, metrika):
    fake.fail(
        "/management/v1/counter/101/goals",
        "status",
        status=429,
        error_type="quota_parallel_requests",
        headers={"Retry-After": "0"},
        times=1,
    )
    result = metrika(
        "api", "-X", "POST", "/management/v1/counter/101/goals", "--input", "-", input=json.dumps(GOAL), env=as_token()
    )
    assert result.code == 0, result.stderr
    assert [r.status for r in fake.requests_to("/management/v1/counter/101/goals", method="POST")] == [429, 200]
    assert len(fake.goals[101]) == 1


@pytest.mark.parametrize("mode", ["status", "html", "cut"])
def test_a_get_that_fails_in_passing_is_retried(fake, metrika, quick_retries, mode):
    fake.fail("/management/v1/counters", mode, status=503, times=2)
    result = metrika("api", "/management/v1/counters", env=as_token())
    assert result.code == 0, result.stderr
    assert len(fake.requests) == 3 and json.loads(result.stdout)["rows"] == 3


def test_a_get_that_keeps_failing_is_exit_6_with_the_last_body(fake, metrika, quick_retries):
    fake.fail("/management/v1/counters", "status", status=503)
    result = metrika("api", "/management/v1/counters", env=as_token())
    assert result.code == 6 and len(fake.requests) == 4
    assert json.loads(result.stdout)["errors"][0]["error_type"] == "backend_error"
    assert result.stderr.endswith("error: Metrika answered HTTP 503 backend_error (Internal server error).\n")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_a_write_is_never_retried_after_a_5xx_or_a_cut(fake, metrika, quick_retries, method):
    path = {
        "POST": "/management/v1/counter/101/goals",
        "PUT": "/management/v1/accounts",
        "DELETE": "/management/v1/counter/101/goal/1",
    }[method]
    for mode in ("status", "cut"):
        fake.requests.clear()
        fake.fail(path, mode, status=503, times=1)
        result = metrika("api", "-X", method, path, "--input", "-", input=json.dumps(GOAL), env=as_token())
        assert result.code == 6, (mode, result.output)
        assert len(fake.requests) == 1, mode


def test_a_refused_connection_is_exit_6_after_the_retries(metrika, quick_retries):
    result = metrika("api", "/management/v1/counters", env=as_token())
    assert result.code == 6 and result.stdout == ""
    assert "Network error talking to Metrika: the connection to 127.0.0.1 was refused" in result.stderr
    assert result.stderr.count("retrying") == 3


def test_a_long_retry_after_is_not_waited_out(fake, metrika):
    fake.fail("/management/", "status", status=429, error_type="quota_requests_by_ip", headers={"Retry-After": "3600"})
    result = metrika("api", "/management/v1/counters", env=as_token())
    assert result.code == 6 and "retrying" not in result.stderr
    assert len(fake.requests_to("/management/")) == 2  # the call, then the diagnosis's one request
    assert "Retry in 3600 s" in result.stderr


# ---- a failing call explains itself -------------------------------------------------------


def test_403_on_a_counter_without_access_is_no_counter_access(fake, metrika):
    result = metrika("api", "/management/v1/counter/999", env=as_token())
    assert result.code == 5
    assert json.loads(result.stdout) == json.loads(direct_error(fake, "/management/v1/counter/999"))
    assert result.stderr.startswith("error: no_counter_access: vasya has no access to counter 999")
    assert "What to do:" in result.stderr
    probe = fake.requests_to("/management/v1/counters")
    assert [query_of(r)["counter_ids"] for r in probe] == [["999"]]


def direct_error(fake, path: str) -> bytes:
    try:
        direct(fake, path)
    except urllib.error.HTTPError as error:
        return error.read()
    raise AssertionError("expected an error")


def test_a_report_on_a_counter_without_access_names_the_counter(fake, metrika):
    result = metrika("api", "/stat/v1/data", "-f", "ids=101,999", "-f", "metrics=ym:s:visits", env=as_token())
    assert result.code == 5
    assert "no_counter_access: vasya has no access to counter 999" in result.stderr


def test_a_report_on_several_counters_without_access_names_each(fake, metrika):
    ids = "ids=101,998,202,999"
    result = metrika("api", "/stat/v1/data", "-f", ids, "-f", "metrics=ym:s:visits", env=as_token())
    assert result.code == 5
    assert "no_counter_access: vasya has no access to counters 998 and 999, or they do not exist." in result.stderr
    assert "Ask the owner of each of counters 998 and 999 to grant access" in result.stderr


def test_a_write_on_a_counter_with_view_access_is_insufficient_permission(fake, metrika):
    result = metrika(
        "api", "-X", "POST", "/management/v1/counter/202/goals", "--input", "-", input=json.dumps(GOAL), env=as_token()
    )
    assert result.code == 5
    assert result.stderr.startswith('error: insufficient_permission: vasya has "view" access to counter 202')
    assert "--need" not in result.stderr
    assert json.loads(result.stdout)["errors"][0]["error_type"] == "access_denied"


def test_a_write_without_metrika_write_is_scope_missing(fake, metrika):
    fake.accounts[TOKEN].scopes = ["metrika:read"]
    login = ("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID, "--scope", "metrika:read")
    assert metrika(*login, input=TOKEN).code == 0
    result = metrika("api", "-X", "POST", "/management/v1/counter/101/goals", "--input", "-", input=json.dumps(GOAL))
    assert result.code == 5
    assert result.stderr.startswith("error: scope_missing: Writing needs metrika:write")
    assert json.loads(result.stdout)["errors"][0]["error_type"] == "access_denied"


def test_a_write_refused_although_every_check_passes_says_so_and_points_at_the_scope(fake, metrika):
    fake.accounts[TOKEN].scopes = ["metrika:read"]  # the token's scopes were not recorded: METRIKA_TOKEN
    result = metrika(
        "api", "-X", "POST", "/management/v1/counter/101/goals", "--input", "-", input=json.dumps(GOAL), env=as_token()
    )
    assert result.code == 5
    assert "error: Metrika refused this call: HTTP 403 access_denied (Access is denied)." in result.stderr
    assert "check-access finds nothing wrong with the token" in result.stderr
    assert "metrika:write" in result.stderr


def test_an_invalid_token_is_token_invalid(fake, metrika):
    result = metrika(
        "api",
        "/management/v1/counters",
        env={"METRIKA_TOKEN": "y0__xRevokedTokenNotKnownAnywhere0123456789_abcdefghijklmn"},
    )
    assert result.code == 4 and result.stderr.startswith("error: token_invalid:")


def test_a_401_with_the_header_dropped_is_header_rejected(fake, metrika):
    fake.strip_metrika_auth = True
    result = metrika("api", "/management/v1/counters", env=as_token())
    assert result.code == 4 and result.stderr.startswith("error: header_rejected:")
    assert json.loads(result.stdout)["errors"][0]["error_type"] == "unauthorized"


def test_a_404_is_exit_1_with_one_line(fake, metrika):
    result = metrika("api", "/management/v1/nothing-here", env=as_token())
    assert result.code == 1
    assert result.stderr == "error: Metrika answered HTTP 404 not_found (Entity not found).\n"
    assert json.loads(result.stdout)["errors"][0]["error_type"] == "not_found"


def test_the_diagnosis_speaks_russian_too(fake, metrika):
    result = metrika("api", "/management/v1/counter/999", env=as_token(METRIKA_LANG="ru"))
    assert result.code == 5 and "no_counter_access:" in result.stderr and "Что сделать:" in result.stderr


# ---- terminals -----------------------------------------------------------------------------


def test_on_a_terminal_the_body_is_indented_and_coloured(fake):
    result = call_terminal("api", "/management/v1/counter/101", env=as_token(), stdout_tty=True, stderr_tty=True)
    assert result.code == 0 and ANSI in result.stdout
    assert '\n  "counter": {' in re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)


def test_on_a_terminal_no_color_leaves_it_indented_without_colour(fake):
    env = as_token(NO_COLOR="1")
    result = call_terminal("api", "/management/v1/counter/101", env=env, stdout_tty=True, stderr_tty=True)
    assert result.code == 0 and ANSI not in result.output
    assert json.loads(result.stdout)["counter"]["id"] == 101 and '\n  "counter": {' in result.stdout


def test_a_progress_bar_goes_to_a_terminal_stderr_while_pages_go_to_a_file(fake):
    many_counters(fake)
    args = ("api", "/management/v1/counters", "--paginate", "-f", "per_page=5")
    result = call_terminal(*args, env=as_token(), stdout_tty=False, stderr_tty=True)
    assert result.code == 0 and len(result.stdout.splitlines()) == 6
    assert "pages" in result.stderr and "6/6" in result.stderr
    quiet = call_terminal(*args, env=as_token(), stdout_tty=False, stderr_tty=False)
    assert quiet.stdout == result.stdout and quiet.stderr == ""


def test_help_lists_every_option(metrika):
    result = metrika("api", "--help")
    assert result.code == 0
    for option in ("--method", "-X", "--field", "-f", "--input", "--paginate", "--ulogin", "--include", "--profile"):
        assert option in result.stdout


def test_a_reader_that_goes_away_ends_the_pages_quietly(fake):
    """`metrika api --paginate … | head -1`: exit 141 as a shell's SIGPIPE, no traceback, no message."""
    many_counters(fake, count=100)
    process = subprocess.Popen(
        [sys.executable, "-m", "metrika_cli", "api", "/management/v1/counters", "--paginate", "-f", "per_page=5"],
        env={**os.environ, **as_token()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert json.loads(process.stdout.readline())["rows"] == 103
    process.stdout.close()
    assert process.wait(timeout=60) == 141
    assert process.stderr.read() == b""
    process.stderr.close()
    assert len(fake.requests) < 21


# ---- the token goes in the header only --------------------------------------------------------


@pytest.mark.parametrize(
    "args, stdin",
    [
        ((f"/management/v1/counter/{TOKEN}",), ""),
        ((f"/management/v1/counters?x={TOKEN}",), ""),
        (("/management/v1/counters", "-f", f"oauth_token={TOKEN}"), ""),
        (("-X", "POST", "/management/v1/counter/101/goals", "-f", f"name={TOKEN}"), ""),
        (("-X", "POST", "/management/v1/counter/101/goals", "--input", "-"), json.dumps({"goal": {"name": TOKEN}})),
    ],
)
def test_the_token_in_a_path_field_or_body_is_refused_before_anything_is_sent(fake, metrika, args, stdin):
    result = metrika("api", *args, input=stdin, env=as_token())
    assert result.code == 2, result.output
    assert "in the Authorization header only. Nothing was sent." in result.stderr
    assert fake.requests == [] and TOKEN not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("/management/v1/counters", "-f", TOKEN),
        ("/management/v1/counters", "-f", f"={TOKEN}"),
        ("-X", TOKEN, "/management/v1/counters"),
        ("/management/v1/counters", "--ulogin", f"{TOKEN} "),
        ("/management/v1/counters", "--paginate", "-f", f"offset={TOKEN}"),
    ],
)
def test_a_token_typed_where_something_else_belongs_is_named_by_its_fingerprint(fake, metrika, args):
    result = metrika("api", *args, env=as_token())
    assert result.code == 2 and fake.requests == []
    assert TOKEN not in result.output and "sha256:" in result.stderr


def test_a_foreign_url_is_named_by_its_origin_only(fake, metrika):
    result = metrika("api", f"https://evil.example:8443/x?oauth_token={TOKEN}#frag", env=as_token())
    assert result.code == 2 and "https://evil.example:8443 is not on" in result.stderr
    assert TOKEN not in result.output and "oauth_token" not in result.output


def test_on_a_terminal_a_server_s_control_characters_are_escaped_but_a_pipe_gets_them_as_sent(fake, metrika):
    fake.accounts[TOKEN].counters[0]["name"] = "Shop\x1b]0;pwned\x07\u202e\x9b2J"
    piped = metrika("api", "/management/v1/counter/101", env=as_token())
    assert json.loads(piped.stdout)["counter"]["name"] == "Shop\x1b]0;pwned\x07\u202e\x9b2J"
    for colour in ({}, {"NO_COLOR": "1"}):
        shown = call_terminal(
            "api", "/management/v1/counter/101", env=as_token(**colour), stdout_tty=True, stderr_tty=True
        )
        plain = re.sub(r"\x1b\[[0-9;]*m", "", shown.stdout)
        assert "\x07" not in plain and "\u202e" not in plain and "\x9b" not in plain and "]0;pwned" in plain
        assert not re.search(r"\x1b[^\[]", shown.stdout)
    paged = call_terminal(
        "api", "/management/v1/counters", "--paginate", env=as_token(), stdout_tty=True, stderr_tty=True
    )
    assert "\u202e" not in paged.stdout and "\\u202e" in paged.stdout
