"""`metrika check-access` end to end against the loopback fake: every diagnosis, human and --json."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import CLIENT_ID, OTHER_CLIENT_ID, OTHER_TOKEN, TOKEN, closed_port

INSECURE = ("login", "--with-token", "--insecure-storage")
COMMON_KEYS = {"schema", "ok", "diagnosis", "exit_code", "profile", "token", "identity", "summary", "fix"}
CHECK_ACCESS_KEYS = COMMON_KEYS | {"api", "counters"}
UNKNOWN_TOKEN = "y0__xRevokedTokenNotKnownAnywhere0123456789_abcdefghijklmn"


def as_token(token: str = TOKEN, **extra: str) -> dict[str, str]:
    return {"METRIKA_TOKEN": token, **extra}


# Each scenario prepares the fake (and the store) and returns (arguments, environment).
def ok(fake, metrika, tmp_path):
    return ["101", "202"], as_token()


def no_token(fake, metrika, tmp_path):
    return [], {}


def token_malformed(fake, metrika, tmp_path):
    return [], as_token("OAuth " + TOKEN)


def token_malformed_file(fake, metrika, tmp_path):
    path = tmp_path / "token.txt"
    path.write_text(f'"{TOKEN}" and more\n')
    return [], {"METRIKA_TOKEN_FILE": str(path)}


def header_rejected(fake, metrika, tmp_path):
    fake.strip_metrika_auth = True
    return [], as_token()


def token_invalid_403(fake, metrika, tmp_path):
    return [], as_token(UNKNOWN_TOKEN)


def token_invalid_401(fake, metrika, tmp_path):
    fake.invalid_token_status = 401
    return [], as_token(UNKNOWN_TOKEN)


def wrong_app(fake, metrika, tmp_path):
    fake.add_token(OTHER_TOKEN, login="vasya", client_id=OTHER_CLIENT_ID, metrika=False)
    return ["101"], as_token(OTHER_TOKEN, METRIKA_CLIENT_ID=CLIENT_ID)


def scope_missing(fake, metrika, tmp_path):
    fake.add_token(OTHER_TOKEN, login="vasya", client_id=CLIENT_ID, metrika=False)
    return [], as_token(OTHER_TOKEN, METRIKA_CLIENT_ID=CLIENT_ID)


def scope_missing_russian(fake, metrika, tmp_path):
    fake.russian = True
    return scope_missing(fake, metrika, tmp_path)


def wrong_account_saved_login(fake, metrika, tmp_path):
    assert metrika(*INSECURE, "--client-id", CLIENT_ID, input=TOKEN).code == 0
    fake.accounts[TOKEN].login = "petya"  # the same token now answers as another account
    return [], {}


def wrong_account_option(fake, metrika, tmp_path):
    return ["--login", "kolya"], as_token()


def no_counter_access(fake, metrika, tmp_path):
    return ["101", "999"], as_token()


def insufficient_permission(fake, metrika, tmp_path):
    return ["303", "202", "--need", "write"], as_token()


def rate_limited(fake, metrika, tmp_path):
    fake.fail("/management/", "status", status=429, error_type="quota_requests_by_uid")
    return [], as_token()


def service_unavailable_html(fake, metrika, tmp_path):
    fake.fail("/management/", "html", status=502)
    return [], as_token()


def service_unavailable_503(fake, metrika, tmp_path):
    fake.fail("/management/", "status", status=503, error_type="backend_error")
    return [], as_token()


def network_error(fake, metrika, tmp_path):
    return [], as_token(METRIKA_API_URL=f"http://127.0.0.1:{closed_port()}")


def unexpected_response(fake, metrika, tmp_path):
    fake.fail("/management/", "status", status=400, error_type="invalid_parameter")
    return [], as_token()


# scenario, diagnosis, exit code, words the human output must contain
SCENARIOS = [
    (ok, "ok", 0, ["passed   access to counter 202 (view)", "ok: The token works for Metrika"]),
    (no_token, "no_token", 3, ["failed   a token is present", "metrika login"]),
    (token_malformed, "token_malformed", 4, ['starts with "OAuth "', "Set METRIKA_TOKEN to the token alone"]),
    (token_malformed_file, "token_malformed", 4, ["env:METRIKA_TOKEN_FILE", "Put the token alone in the file"]),
    (header_rejected, "header_rejected", 4, ["failed   the API reads the header", "Yandex ID accepts"]),
    (token_invalid_403, "token_invalid", 4, ["Metrika: HTTP 403 invalid_token", "metrika login"]),
    (token_invalid_401, "token_invalid", 4, ["Metrika: HTTP 401 invalid_token", "replace it there"]),
    (wrong_app, "wrong_app", 5, [f"issued to {OTHER_CLIENT_ID}", f"metrika login --client-id {CLIENT_ID}"]),
    (scope_missing, "scope_missing", 5, [f"https://oauth.yandex.ru/client/{CLIENT_ID}", "metrika:read"]),
    (scope_missing_russian, "scope_missing", 5, ["Metrika: HTTP 403 access_denied"]),
    (wrong_account_saved_login, "wrong_account", 5, ["belongs to petya, not to vasya", "--login-hint vasya"]),
    (wrong_account_option, "wrong_account", 5, ["belongs to vasya, not to kolya"]),
    (no_counter_access, "no_counter_access", 5, ["failed   access to counter 999", "settings?id=999"]),
    (
        insufficient_permission,
        "insufficient_permission",
        5,
        ["passed   access to counter 303 (edit)", "failed   access to counter 202 (view)"],
    ),
    (rate_limited, "rate_limited", 6, ["5,000 a day", "It resets at 00:00 UTC"]),
    (service_unavailable_html, "service_unavailable", 6, ["an HTML page (HTTP 502)"]),
    (service_unavailable_503, "service_unavailable", 6, ["HTTP 503 backend_error", "Retry"]),
    (network_error, "network_error", 6, ["connection to 127.0.0.1 was refused"]),
    (unexpected_response, "unexpected_response", 1, ["HTTP 400 invalid_parameter", "METRIKA_DEBUG=1"]),
]


@pytest.mark.parametrize(("scenario", "diagnosis", "code", "words"), SCENARIOS, ids=[s[0].__name__ for s in SCENARIOS])
def test_check_access_names_the_cause_in_words_and_in_json(fake, metrika, tmp_path, scenario, diagnosis, code, words):
    args, env = scenario(fake, metrika, tmp_path)

    human = metrika("check-access", *args, env=env)
    assert human.code == code, human.output
    assert f"{diagnosis}: " in human.stdout
    for word in words:
        assert word in human.stdout
    if code:
        assert "What to do:" in human.stdout

    machine = metrika("check-access", *args, "--json", env=env)
    assert machine.code == code, machine.output
    document = json.loads(machine.stdout)  # exactly one JSON object, nothing else on stdout
    assert set(document) >= CHECK_ACCESS_KEYS
    assert document["schema"] == 1 and document["profile"] == "default"
    assert document["diagnosis"] == diagnosis and document["exit_code"] == code
    assert document["ok"] is (code == 0)
    assert isinstance(document["summary"], str) and "\n" not in document["summary"]
    assert isinstance(document["fix"], list) and bool(document["fix"]) is (code != 0)
    for output in (human.output, machine.output):
        assert TOKEN not in output and OTHER_TOKEN not in output and UNKNOWN_TOKEN not in output
    if env or scenario is wrong_account_saved_login:
        assert set(document["token"]) == {"source", "fingerprint"}
        assert document["token"]["fingerprint"].startswith("sha256:") and len(document["token"]["fingerprint"]) == 15
    else:
        assert document["token"] is None


def run_json(metrika, *args, env=None) -> dict:
    result = metrika("check-access", *args, "--json", env=env)
    return json.loads(result.stdout)


def test_json_ok_lists_counters_identity_api_status_and_checks(fake, metrika):
    document = run_json(metrika, "101", "202", env=as_token())
    assert document["token"]["source"] == "env:METRIKA_TOKEN"
    assert document["identity"] == {"login": "vasya", "uid": "1000034426", "client_id": CLIENT_ID}
    assert document["api"] == {"status": 200, "error_type": None}
    assert document["counters"] == [
        {"id": 101, "name": "Shop", "permission": "own", "ok": True},
        {"id": 202, "name": "Blog", "permission": "view", "ok": True},
    ]
    assert [c["status"] for c in document["checks"]] == [
        "passed",
        "passed",
        "passed",
        "passed",
        "skipped",
        "passed",
        "skipped",
        "passed",
        "passed",
    ]


def test_json_failure_reports_api_status_error_type_and_unreachable_counters(fake, metrika):
    fake.add_token(OTHER_TOKEN, login="vasya", client_id=OTHER_CLIENT_ID, metrika=False)
    document = run_json(metrika, "101", env=as_token(OTHER_TOKEN, METRIKA_CLIENT_ID=CLIENT_ID))
    assert document["api"] == {"status": 403, "error_type": "access_denied"}
    assert document["identity"]["client_id"] == OTHER_CLIENT_ID
    assert document["counters"] == []


def test_json_counters_say_which_are_ok_for_write(fake, metrika):
    document = run_json(metrika, "101", "202", "999", "--need", "write", env=as_token())
    assert document["diagnosis"] == "no_counter_access"  # no access at all decides over view-only access
    assert document["counters"] == [
        {"id": 101, "name": "Shop", "permission": "own", "ok": True},
        {"id": 202, "name": "Blog", "permission": "view", "ok": False},
        {"id": 999, "name": None, "permission": None, "ok": False},
    ]


def test_network_error_has_no_api_status_and_no_identity(fake, metrika):
    env = as_token(
        METRIKA_API_URL=f"http://127.0.0.1:{closed_port()}", METRIKA_LOGIN_URL=f"http://127.0.0.1:{closed_port()}"
    )
    document = run_json(metrika, env=env)
    assert document["diagnosis"] == "network_error" and document["exit_code"] == 6
    assert document["api"] is None and document["identity"] is None


def test_a_token_of_another_app_with_metrika_rights_is_ok_with_a_warning(fake, metrika):
    fake.add_token(OTHER_TOKEN, login="vasya", client_id=OTHER_CLIENT_ID)
    result = metrika("check-access", env=as_token(OTHER_TOKEN, METRIKA_CLIENT_ID=CLIENT_ID))
    assert result.code == 0, result.output
    assert "warning:" in result.stdout and OTHER_CLIENT_ID in result.stdout
    document = run_json(metrika, env=as_token(OTHER_TOKEN, METRIKA_CLIENT_ID=CLIENT_ID))
    assert document["ok"] is True and any(OTHER_CLIENT_ID in w for w in document["warnings"])


def test_wrong_app_uses_the_client_id_saved_at_login(fake, metrika):
    assert metrika(*INSECURE, "--client-id", CLIENT_ID, input=TOKEN).code == 0
    fake.accounts[TOKEN].client_id = OTHER_CLIENT_ID
    fake.accounts[TOKEN].metrika = False
    result = metrika("check-access")
    assert result.code == 5 and "wrong_app:" in result.stdout, result.output
    assert f"your ClientID is {CLIENT_ID}" in result.stdout


def test_an_environment_token_is_not_held_to_the_login_saved_at_login(fake, metrika):
    assert metrika(*INSECURE, "--client-id", CLIENT_ID, input=TOKEN).code == 0
    fake.add_token(OTHER_TOKEN, login="petya", client_id=CLIENT_ID)
    assert metrika("check-access", env=as_token(OTHER_TOKEN)).code == 0


def test_need_write_with_recorded_read_scope_is_scope_missing(fake, metrika):
    login = metrika(*INSECURE, "--client-id", CLIENT_ID, "--scope", "metrika:read", input=TOKEN)
    assert login.code == 0, login.output
    assert metrika("check-access", "101", "--need", "write").code == 5
    document = run_json(metrika, "101", "--need", "write")
    assert document["diagnosis"] == "scope_missing" and "metrika:write" in document["summary"]
    assert run_json(metrika, "101")["diagnosis"] == "ok"


def test_the_alias_check_works_like_check_access(fake, metrika):
    full = metrika("check-access", "101", "999", env=as_token())
    alias = metrika("check", "101", "999", env=as_token())
    assert (alias.code, alias.stdout) == (full.code, full.stdout) == (5, full.stdout)


@pytest.mark.parametrize("bad", [["abc"], ["0"], ["--need", "admin"]], ids=["letters", "zero", "need"])
def test_bad_arguments_are_bad_input_without_a_traceback(fake, metrika, bad):
    result = metrika("check-access", *bad, "--json", env=as_token())
    assert result.code == 2 and "Traceback" not in result.output
    assert json.loads(result.stdout)["diagnosis"] == "bad_input"


def big_account(fake, count: int = 2500) -> list[int]:
    permissions = ["own", "edit", "view", "analyst", "view"]
    ids = [10_000 + i for i in range(count)]
    fake.add_token(
        OTHER_TOKEN,
        login="agency",
        client_id=CLIENT_ID,
        counters=[{"id": cid, "permission": permissions[i % 5]} for i, cid in enumerate(ids)],
    )
    return ids


def test_check_access_asks_for_the_counters_by_the_counter_ids_filter_not_one_by_one(fake, metrika):
    ids = big_account(fake)
    wanted = ids[::50]  # 50 counters spread over the account
    document = run_json(metrika, *map(str, wanted), env=as_token(OTHER_TOKEN))
    assert document["diagnosis"] == "ok", document
    assert [c["id"] for c in document["counters"]] == wanted
    requests = fake.requests_to("/management/v1/counters")
    assert len(requests) == 1
    query = parse_qs(urlsplit(requests[0].path).query)
    assert sorted(int(i) for i in query["counter_ids"][0].split(",")) == wanted
    assert fake.requests_to("/management/v1/counter/") == []


def test_hundreds_of_counters_take_a_few_filtered_requests(fake, metrika):
    ids = big_account(fake)
    wanted = ids[:250]
    document = run_json(metrika, *map(str, wanted), env=as_token(OTHER_TOKEN))
    assert document["diagnosis"] == "ok" and len(document["counters"]) == 250
    requests = fake.requests_to("/management/v1/counters")
    assert 1 <= len(requests) <= 3
    asked = [int(i) for r in requests for i in parse_qs(urlsplit(r.path).query)["counter_ids"][0].split(",")]
    assert sorted(asked) == wanted


def test_check_access_without_counters_asks_metrika_once(fake, metrika):
    big_account(fake)
    assert metrika("check-access", env=as_token(OTHER_TOKEN)).code == 0
    assert len(fake.requests_to("/management/")) == 1 and len(fake.requests_to("/info")) == 1


def test_yandex_id_and_metrika_are_asked_at_the_same_time(fake, metrika):
    fake.latency = 0.3
    assert metrika("check-access", "101", env=as_token()).code == 0
    (info,) = fake.requests_to("/info")
    (counters,) = fake.requests_to("/management/v1/counters")
    assert info.finished is not None and counters.finished is not None
    assert info.started < counters.finished and counters.started < info.finished
    assert max(info.finished, counters.finished) - min(info.started, counters.started) < 0.55


def test_the_token_travels_only_in_the_authorization_header(fake, metrika):
    metrika("check-access", "101", env=as_token())
    assert fake.requests
    for request in fake.requests:
        assert request.headers["Authorization"] == f"OAuth {TOKEN}"
        assert TOKEN not in request.path


def test_a_token_file_with_a_trailing_newline_works_and_is_named_as_the_source(fake, metrika, tmp_path):
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    result = metrika("check-access", "303", env={"METRIKA_TOKEN_FILE": str(path)})
    assert result.code == 0, result.output
    assert "passed   a token is present (env:METRIKA_TOKEN_FILE)" in result.stdout
    document = run_json(metrika, "303", env={"METRIKA_TOKEN_FILE": str(path)})
    assert document["token"]["source"] == "env:METRIKA_TOKEN_FILE"


def test_header_rejected_names_the_configured_api_host_not_yandexs(fake, metrika):
    fake.strip_metrika_auth = True
    document = run_json(metrika, env=as_token())
    assert document["diagnosis"] == "header_rejected"
    fix = " ".join(document["fix"])
    assert "between you and 127.0.0.1: it must keep" in fix  # the host of METRIKA_API_URL, the fake
    assert "api-metrika.yandex.net" not in fix


def test_every_failing_counter_is_named_in_the_verdict_and_the_fix(fake, metrika):
    result = metrika("check-access", "101", "200", "202", "303", "500", "--need", "write", env=as_token())
    assert result.code == 5
    verdict = next(line for line in result.stdout.splitlines() if line.startswith("no_counter_access: "))
    assert "vasya has no access to counters 200 and 500, or they do not exist." in verdict
    assert 'vasya has "view" access to counter 202; changing it needs "edit" or owner access.' in verdict
    assert "Ask the owner of each of counters 200 and 500 to grant access" in result.stdout
    assert "settings?id=202" in result.stdout and "raise the access level" in result.stdout

    document = run_json(metrika, "101", "200", "202", "303", "500", "--need", "write", env=as_token())
    assert document["diagnosis"] == "no_counter_access"
    assert document["summary"] == verdict.removeprefix("no_counter_access: ")
    assert any("counters 200 and 500" in step for step in document["fix"])
    assert any("settings?id=202" in step for step in document["fix"])
    assert [(c["id"], c["ok"]) for c in document["counters"]] == [
        (101, True),
        (200, False),
        (202, False),
        (303, True),
        (500, False),
    ]


def test_every_counter_with_view_access_only_is_named_when_write_is_needed(fake, metrika):
    fake.accounts[TOKEN].counters.append({"id": 404, "name": "Stats", "permission": "view"})
    document = run_json(metrika, "202", "303", "404", "--need", "write", env=as_token())
    assert document["diagnosis"] == "insufficient_permission" and document["exit_code"] == 5
    assert document["summary"] == (
        'vasya can only read counters 202 and 404 ("view"); changing them needs "edit" or owner access.'
    )
    assert "Ask the owner of each of counters 202 and 404 to raise the access level" in document["fix"][0]
