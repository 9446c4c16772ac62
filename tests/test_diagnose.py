"""The diagnosis as a pure function of the evidence: one row per diagnosis of docs/exit-codes.md."""

from __future__ import annotations

import ast
import copy
import inspect
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from conftest import CLIENT_ID, OTHER_CLIENT_ID

from metrika_cli import advice
from metrika_cli import rules as rules_module
from metrika_cli.api import parse_reply
from metrika_cli.diagnose import diagnose
from metrika_cli.errors import Diagnosis, MetrikaError
from metrika_cli.evidence import Evidence, Reply
from metrika_cli.rules import OFFLINE_RULES, RULES, Finding, checks, decide

API_HOST = "api-metrika.yandex.net"
ID_HOST = "login.yandex.ru"
NOW = datetime(2025, 3, 14, 21, 30, tzinfo=UTC)
COUNTERS = {
    101: {"id": 101, "name": "Shop", "permission": "own"},
    202: {"id": 202, "name": "Blog", "permission": "view"},
    303: {"id": 303, "name": "Docs", "permission": "edit"},
    404: {"id": 404, "name": "Stats", "permission": "analyst"},
    505: {"id": 505, "name": "Filtered", "permission": "view_access_filter"},
}


def yandex_id(login: str = "vasya", client_id: str = CLIENT_ID) -> Reply:
    return Reply("Yandex ID", ID_HOST, 200, data={"id": "1000034426", "login": login, "client_id": client_id})


ID_REJECTS = Reply("Yandex ID", ID_HOST, 401)


def metrika(status: int = 200, error_type: str | None = None, **kw) -> Reply:
    data = {"rows": len(COUNTERS)} if status == 200 else {"errors": [{"error_type": error_type}]}
    return Reply("Metrika", API_HOST, status, error_type, data=kw.pop("data", data), **kw)


def evidence(metrika_reply: Reply | None = None, identity: Reply | None = None, **kw) -> Evidence:
    kw.setdefault("token_source", "env:METRIKA_TOKEN")
    kw.setdefault("now", NOW)
    return Evidence(identity=identity or yandex_id(), metrika=metrika_reply or metrika(), counters=dict(COUNTERS), **kw)


# (evidence, diagnosis, words the summary + fix must contain: the exact cause and the fix)
TABLE = [
    pytest.param(evidence(), "ok", ["works for Metrika"], id="ok"),
    pytest.param(
        evidence(counter_ids=[101, 303], need="write"), "ok", ["change every counter"], id="ok-write-own-edit"
    ),
    pytest.param(Evidence(now=NOW), "no_token", ["metrika login", "METRIKA_TOKEN"], id="no_token"),
    pytest.param(
        evidence(token_problem="prefix"),
        "token_malformed",
        ['starts with "OAuth "', "Set METRIKA_TOKEN to the token alone"],
        id="token_malformed",
    ),
    pytest.param(
        evidence(token_problem="client_id", token_source="keyring"),
        "token_malformed",
        ["ClientID", "metrika login"],
        id="token_malformed-client-id",
    ),
    pytest.param(
        evidence(metrika(401, "unauthorized")),
        "header_rejected",
        ["Yandex ID accepts", "Authorization: OAuth <token>", "proxy"],
        id="header_rejected-401-id-accepts",
    ),
    pytest.param(
        evidence(metrika(401, "unauthorized"), proxy="http://proxy.corp:3128"),
        "header_rejected",
        ["http://proxy.corp:3128", "NO_PROXY"],
        id="header_rejected-names-the-proxy",
    ),
    pytest.param(
        evidence(metrika(401, "unauthorized"), ID_REJECTS),
        "token_invalid",
        ["not valid", "metrika login", "METRIKA_TOKEN"],
        id="token_invalid-401-id-rejects",
    ),
    pytest.param(
        evidence(metrika(401, "invalid_token"), ID_REJECTS),
        "token_invalid",
        ["expired, revoked"],
        id="token_invalid-401-invalid_token-docs",
    ),
    pytest.param(
        evidence(metrika(403, "invalid_token"), ID_REJECTS, token_source="keyring"),
        "token_invalid",
        ["expired, revoked"],
        id="token_invalid-403-invalid_token-seen",
    ),
    pytest.param(
        evidence(metrika(403, "access_denied"), yandex_id(client_id=OTHER_CLIENT_ID), expected_client_id=CLIENT_ID),
        "wrong_app",
        [
            OTHER_CLIENT_ID,
            f"metrika login --client-id {CLIENT_ID} --force-confirm",
            f"https://oauth.yandex.ru/client/{OTHER_CLIENT_ID}",
        ],
        id="wrong_app-403-client-id-differs",
    ),
    pytest.param(
        evidence(metrika(403, "access_denied"), expected_client_id=CLIENT_ID),
        "scope_missing",
        [f"https://oauth.yandex.ru/client/{CLIENT_ID}", "metrika:read", "--force-confirm"],
        id="scope_missing-403-client-id-matches",
    ),
    pytest.param(
        evidence(metrika(403, "access_denied"), yandex_id(client_id=OTHER_CLIENT_ID)),
        "scope_missing",
        [f"https://oauth.yandex.ru/client/{OTHER_CLIENT_ID}", "metrika:read"],
        id="scope_missing-403-no-client-id-names-app-from-yandex-id",
    ),
    pytest.param(
        evidence(need="write", scopes=["metrika:read"], counter_ids=[101]),
        "scope_missing",
        ["metrika:write", f"https://oauth.yandex.ru/client/{CLIENT_ID}"],
        id="scope_missing-need-write",
    ),
    pytest.param(
        evidence(yandex_id(), yandex_id(login="petya"), expected_login="vasya"),
        "wrong_account",
        ["belongs to petya, not to vasya", "--login-hint vasya"],
        id="wrong_account",
    ),
    pytest.param(
        evidence(counter_ids=[999]),
        "no_counter_access",
        ["vasya has no access to counter 999", "https://metrika.yandex.ru/settings?id=999"],
        id="no_counter_access",
    ),
    pytest.param(
        evidence(counter_ids=[101, 202], need="write"),
        "insufficient_permission",
        ['"view" access to counter 202', "--need read"],
        id="insufficient_permission-view",
    ),
    pytest.param(
        evidence(counter_ids=[101, 200, 303, 500]),
        "no_counter_access",
        [
            "vasya has no access to counters 200 and 500, or they do not exist.",
            "Check the counter numbers",
            "Ask the owner of each of counters 200 and 500 to grant access",
        ],
        id="no_counter_access-names-every-counter",
    ),
    pytest.param(
        evidence(counter_ids=[101, 202, 303, 404], need="write"),
        "insufficient_permission",
        ['vasya can only read counters 202 and 404 ("view", "analyst")', "each of counters 202 and 404", "--need read"],
        id="insufficient_permission-names-every-counter",
    ),
    pytest.param(evidence(counter_ids=[404, 505]), "ok", ["read every counter"], id="ok-new-permissions-read"),
    pytest.param(
        evidence(counter_ids=[404], need="write"),
        "insufficient_permission",
        ['"analyst" access to counter 404'],
        id="insufficient_permission-analyst-write",
    ),
    pytest.param(
        evidence(counter_ids=[505], need="write"),
        "insufficient_permission",
        ['"view_access_filter" access to counter 505'],
        id="insufficient_permission-filter-write",
    ),
    pytest.param(
        evidence(token_source="keyring", expires_at="2025-03-20T00:00:00+00:00", expiring_within=7, profile="acme"),
        "token_expiring",
        ["expires on 2025-03-20, in 6 days: less than the 7 days asked for", "metrika login --profile acme"],
        id="token_expiring",
    ),
    pytest.param(
        evidence(token_source="keyring", expires_at="2025-03-21T21:30:00+00:00", expiring_within=7),
        "ok",
        ["works for Metrika"],
        id="ok-exactly-7-days-within-7",
    ),
    pytest.param(
        evidence(
            metrika(403, "invalid_token"),
            identity=ID_REJECTS,
            expires_at="2025-03-15T00:00:00+00:00",
            expiring_within=7,
        ),
        "token_invalid",
        ["not valid"],
        id="token_invalid-beats-token_expiring",
    ),
    pytest.param(
        evidence(metrika(429, "quota_requests_by_uid")),
        "rate_limited",
        ["5,000 a day", "00:00 UTC, in 2 h 30 min"],
        id="rate_limited-daily",
    ),
    pytest.param(
        evidence(metrika(429, "quota_parallel_requests")),
        "rate_limited",
        ["3 at once", "fewer requests"],
        id="rate_limited-parallel",
    ),
    pytest.param(
        evidence(metrika(503, "backend_error")),
        "service_unavailable",
        ["HTTP 503 backend_error", "Retry"],
        id="service_unavailable-503",
    ),
    pytest.param(
        evidence(metrika(502, html=True, data=None)),
        "service_unavailable",
        ["HTML page (HTTP 502)", API_HOST],
        id="service_unavailable-html",
    ),
    pytest.param(
        evidence(identity=Reply("Yandex ID", ID_HOST, 504, "timeout")),
        "service_unavailable",
        ["Yandex ID", "504"],
        id="service_unavailable-yandex-id",
    ),
    pytest.param(
        evidence(Reply("Metrika", API_HOST, network="refused")),
        "network_error",
        ["refused", API_HOST, "METRIKA_API_URL"],
        id="network_error-refused",
    ),
    pytest.param(
        evidence(Reply("Metrika", API_HOST, network="timeout"), timeout=2.5),
        "network_error",
        ["within 2.5 s", "METRIKA_TIMEOUT"],
        id="network_error-timeout",
    ),
    pytest.param(
        evidence(identity=Reply("Yandex ID", ID_HOST, network="dns")),
        "network_error",
        ["DNS", ID_HOST],
        id="network_error-dns-yandex-id",
    ),
    pytest.param(
        evidence(metrika(400, "invalid_parameter")),
        "unexpected_response",
        ["HTTP 400 invalid_parameter", "METRIKA_DEBUG=1"],
        id="unexpected_response-400",
    ),
    pytest.param(
        evidence(metrika(broken=True)),
        "unexpected_response",
        ["not the expected JSON"],
        id="unexpected_response-broken-200",
    ),
]


@pytest.mark.parametrize(("ev", "code", "words"), TABLE)
def test_each_kind_of_evidence_gets_its_diagnosis_exit_code_and_fix(ev, code, words):
    diagnosis = diagnose(ev)
    assert diagnosis.code == code, (diagnosis.summary, diagnosis.fix)
    assert diagnosis.exit_code == Diagnosis(code).exit_code
    text = " ".join([diagnosis.summary, *diagnosis.fix])
    for word in words:
        assert word in text
    if code != "ok":
        assert diagnosis.fix, "every failure says what to do"


# The outcomes a command raises before or instead of reading evidence: each is some MetrikaError's.
RAISED_ONLY = {Diagnosis.BAD_INPUT, Diagnosis.STORE_UNAVAILABLE, Diagnosis.INTERNAL_ERROR, Diagnosis.INTERRUPTED}


def error_classes(cls: type[MetrikaError] = MetrikaError) -> list[type[MetrikaError]]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in error_classes(child))]


def test_every_diagnosis_has_a_row():
    """Derived from the enum: a new Diagnosis fails this until the table has a row for it (or an
    error class raises it and it joins RAISED_ONLY)."""
    rows = {param.values[1] for param in TABLE}
    assert rows == {diagnosis.value for diagnosis in Diagnosis} - RAISED_ONLY
    assert {cls.diagnosis for cls in error_classes()} >= RAISED_ONLY
    assert {Diagnosis(code).exit_code for code in rows} == {0, 1, 3, 4, 5, 6}


def test_each_diagnosis_carries_its_exit_code():
    assert Diagnosis.WRONG_APP.exit_code == 5
    assert [
        Diagnosis(code).exit_code
        for code in (
            "ok",
            "no_token",
            "token_invalid",
            "token_expiring",
            "rate_limited",
            "bad_input",
            "store_unavailable",
        )
    ] == [0, 3, 4, 4, 6, 2, 7]
    assert Diagnosis.INTERRUPTED.exit_code == 130 and Diagnosis.UNEXPECTED_RESPONSE.exit_code == 1


def statuses(diagnosis) -> dict[str, str]:
    return {check.name: check.status for check in diagnosis.checks}


def test_checks_show_passed_failed_and_skipped_in_order_for_wrong_app():
    diagnosis = diagnose(
        evidence(
            metrika(403, "access_denied"),
            yandex_id(client_id=OTHER_CLIENT_ID),
            expected_client_id=CLIENT_ID,
            counter_ids=[101],
        )
    )
    assert [(c.name, c.status) for c in diagnosis.checks] == [
        ("token_present", "passed"),
        ("well_formed", "passed"),
        ("header_read", "passed"),
        ("token_valid", "passed"),
        ("expected_app", "failed"),
        ("metrika_rights", "skipped"),
        ("expected_account", "skipped"),
        ("counter:101", "skipped"),
    ]


def test_checks_for_no_token_fail_the_first_and_skip_the_rest():
    diagnosis = diagnose(Evidence(counter_ids=[101]))
    assert statuses(diagnosis) == {
        "token_present": "failed",
        "well_formed": "skipped",
        "header_read": "skipped",
        "token_valid": "skipped",
        "expected_app": "skipped",
        "metrika_rights": "skipped",
        "expected_account": "skipped",
        "counter:101": "skipped",
    }


def test_checks_for_header_rejected_fail_the_header_and_pass_the_token():
    checks = statuses(diagnose(evidence(metrika(401, "unauthorized"))))
    assert checks["header_read"] == "failed" and checks["token_valid"] == "passed"
    assert checks["metrika_rights"] == "skipped"


def test_the_header_fix_names_the_api_host_metrika_was_asked_at():
    elsewhere = Reply("Metrika", "metrika-gateway.corp.example", 401, "unauthorized")
    for ev in (evidence(elsewhere), evidence(elsewhere, proxy="http://proxy.corp:3128")):
        fix = " ".join(diagnose(ev).fix)
        assert "metrika-gateway.corp.example" in fix and API_HOST not in fix


def test_checks_for_counters_pass_and_fail_one_by_one_and_list_every_counter():
    diagnosis = diagnose(evidence(counter_ids=[101, 999, 202], need="read", expected_login="vasya"))
    checks = statuses(diagnosis)
    assert checks["counter:101"] == "passed" and checks["counter:999"] == "failed"
    assert checks["counter:202"] == "passed" and checks["expected_account"] == "passed"
    assert diagnosis.code == "no_counter_access"
    assert [(c.id, c.permission, c.ok) for c in diagnosis.counters] == [
        (101, "own", True),
        (999, None, False),
        (202, "view", True),
    ]


def test_no_access_decides_over_read_only_access_whatever_the_order_and_both_are_named():
    for ids in ([202, 999, 404, 998], [999, 202, 998, 404]):
        diagnosis = diagnose(evidence(counter_ids=ids, need="write"))
        assert diagnosis.code == "no_counter_access"
        assert "no access to counters 999 and 998, or they do not exist." in diagnosis.summary
        assert 'can only read counters 202 and 404 ("view", "analyst")' in diagnosis.summary
        assert "\n" not in diagnosis.summary
        raise_level = [step for step in diagnosis.fix if "raise the access level" in step]
        assert len(raise_level) == 1 and "counters 202 and 404" in raise_level[0]
        assert diagnosis.fix[-1].startswith("Or log in as an account that has access")
        assert all(statuses(diagnosis)[f"counter:{cid}"] == "failed" for cid in ids)


def test_a_long_list_of_counters_names_ten_then_says_how_many_more():
    missing = list(range(1001, 1016))
    diagnosis = diagnose(evidence(counter_ids=[101, *missing]))
    named = ", ".join(str(cid) for cid in missing[:10])
    assert f"no access to counters {named} and 5 more, or they do not exist." in diagnosis.summary
    assert "1011" not in diagnosis.summary
    assert [c.id for c in diagnosis.counters if not c.ok] == missing  # --json still lists each one


def test_one_failing_counter_keeps_the_singular_words():
    diagnosis = diagnose(evidence(counter_ids=[101, 999]))
    assert diagnosis.summary == "vasya has no access to counter 999, or the counter does not exist."
    assert diagnosis.fix[0].startswith("Check the counter number:")
    assert "settings?id=999" in diagnosis.fix[1]


def test_a_token_of_another_app_with_metrika_rights_is_ok_with_a_warning():
    diagnosis = diagnose(evidence(identity=yandex_id(client_id=OTHER_CLIENT_ID), expected_client_id=CLIENT_ID))
    assert diagnosis.code == "ok"
    assert len(diagnosis.warnings) == 1
    assert OTHER_CLIENT_ID in diagnosis.warnings[0] and CLIENT_ID in diagnosis.warnings[0]
    assert statuses(diagnosis)["expected_app"] == "passed"


def test_the_same_app_in_another_case_is_not_a_warning():
    diagnosis = diagnose(evidence(identity=yandex_id(client_id=CLIENT_ID.upper()), expected_client_id=CLIENT_ID))
    assert diagnosis.code == "ok" and diagnosis.warnings == []


def test_401_decides_by_yandex_id_header_rejected_when_it_accepts_token_invalid_when_it_rejects():
    accepted = diagnose(evidence(metrika(401, "unauthorized")))
    rejected = diagnose(evidence(metrika(401, "unauthorized"), ID_REJECTS))
    assert (accepted.code, rejected.code) == ("header_rejected", "token_invalid")
    assert accepted.exit_code == rejected.exit_code == 4


def test_invalid_token_is_token_invalid_whether_401_as_documented_or_403_as_seen():
    for status in (401, 403):
        assert diagnose(evidence(metrika(status, "invalid_token"), ID_REJECTS)).code == "token_invalid"


def test_write_scope_is_only_missing_when_the_recorded_scopes_say_so():
    assert diagnose(evidence(need="write", scopes=[], counter_ids=[101])).code == "ok"
    assert diagnose(evidence(need="write", scopes=["metrika:read", "metrika:write"], counter_ids=[101])).code == "ok"
    assert diagnose(evidence(need="read", scopes=["metrika:read"], counter_ids=[101])).code == "ok"
    assert diagnose(evidence(need="write", scopes=["metrika:read"], counter_ids=[101])).code == "scope_missing"


def test_logins_compare_as_yandex_compares_them():
    assert diagnose(evidence(identity=yandex_id(login="Vasya.Pupkin"), expected_login="vasya-pupkin")).code == "ok"
    assert diagnose(evidence(identity=yandex_id(login="vasya"), expected_login="vasya2")).code == "wrong_account"


def test_a_russian_message_with_error_type_access_denied_still_decides_by_error_type():
    body = {
        "errors": [{"error_type": "access_denied", "message": "Доступ запрещён"}],
        "code": 403,
        "message": "Доступ запрещён",
    }
    reply = parse_reply("Metrika", API_HOST, httpx.Response(403, json=body))
    assert reply.error_type == "access_denied"
    assert diagnose(evidence(reply, expected_client_id=CLIENT_ID)).code == "scope_missing"
    denied = {"errors": [{"error_type": "invalid_token", "message": "Доступ запрещён"}]}
    reply = parse_reply("Metrika", API_HOST, httpx.Response(403, json=denied))
    assert diagnose(evidence(reply, ID_REJECTS)).code == "token_invalid"


def test_rate_limited_names_the_quota_and_when_it_resets():
    diagnosis = diagnose(
        evidence(metrika(429, "quota_requests_by_uid"), now=datetime(2025, 3, 14, 23, 15, 30, tzinfo=UTC))
    )
    assert diagnosis.code == "rate_limited"
    assert "the daily limit of requests per user" in diagnosis.summary
    assert diagnosis.fix == ["It resets at 00:00 UTC, in 0 h 44 min."]


def test_rate_limit_on_yandex_id_is_said_to_be_yandex_id():
    diagnosis = diagnose(evidence(identity=Reply("Yandex ID", ID_HOST, 429)))
    assert diagnosis.code == "rate_limited" and diagnosis.summary.startswith("Yandex ID")


def test_a_working_token_that_yandex_id_does_not_describe_is_ok_with_a_warning():
    diagnosis = diagnose(evidence(identity=ID_REJECTS, expected_client_id=CLIENT_ID))
    assert diagnosis.code == "ok"
    assert diagnosis.warnings == ["Yandex ID did not describe the token, so its app and account were not checked."]
    assert statuses(diagnosis)["expected_account"] == "skipped"


def test_an_expected_account_that_yandex_id_cannot_confirm_is_not_ok():
    diagnosis = diagnose(evidence(identity=ID_REJECTS, expected_client_id=CLIENT_ID, expected_login="vasya"))
    assert diagnosis.code == "unexpected_response" and diagnosis.exit_code == 1
    assert "vasya" in diagnosis.summary
    assert statuses(diagnosis)["expected_account"] == "failed"


def test_yandex_id_answering_200_with_a_broken_body_is_unexpected():
    diagnosis = diagnose(evidence(identity=Reply("Yandex ID", ID_HOST, 200, broken=True)))
    assert diagnosis.code == "unexpected_response" and diagnosis.summary.startswith("Yandex ID")


def test_the_evidence_lines_name_owner_app_and_configured_client_id():
    diagnosis = diagnose(
        evidence(metrika(403, "access_denied"), yandex_id(client_id=OTHER_CLIENT_ID), expected_client_id=CLIENT_ID)
    )
    assert any("vasya" in line and OTHER_CLIENT_ID in line and CLIENT_ID in line for line in diagnosis.evidence)
    assert any("403 access_denied" in line for line in diagnosis.evidence)


def test_offline_rules_need_no_reply_and_trust_the_recorded_expiry():
    offline = Evidence(token_source="file", now=NOW, expires_at="2025-03-13T00:00:00+00:00")
    assert diagnose(offline, OFFLINE_RULES).code == "token_invalid"
    offline.expires_at = "2025-06-13T00:00:00+00:00"
    verdict = diagnose(offline, OFFLINE_RULES)
    assert verdict.code == "ok" and "offline" in verdict.summary
    assert diagnose(Evidence(now=NOW), OFFLINE_RULES).code == "no_token"


# ---- the design: pure rules give findings, the checks are read from the evidence ------------

SHORT = {"P": "passed", "F": "failed", "-": "skipped"}

# Each row of TABLE, and a few more: the checks' statuses in their fixed order (token_present,
# well_formed, header_read, token_valid, expected_app, metrika_rights, expected_account, then
# counter:ID for each counter asked for, then expiry:DAYS), as diagnose.py gave them before the
# checks were computed rather than accumulated by the rules.
CHECKS_OF_ROWS = {
    "ok": "P P P P - P -",
    "ok-write-own-edit": "P P P P - P - P P",
    "no_token": "F - - - - - -",
    "token_malformed": "P F - - - - -",
    "token_malformed-client-id": "P F - - - - -",
    "header_rejected-401-id-accepts": "P P F P - - -",
    "header_rejected-names-the-proxy": "P P F P - - -",
    "token_invalid-401-id-rejects": "P P - F - - -",
    "token_invalid-401-invalid_token-docs": "P P - F - - -",
    "token_invalid-403-invalid_token-seen": "P P - F - - -",
    "wrong_app-403-client-id-differs": "P P P P F - -",
    "scope_missing-403-client-id-matches": "P P P P P F -",
    "scope_missing-403-no-client-id-names-app-from-yandex-id": "P P P P - F -",
    "scope_missing-need-write": "P P P P - F - -",
    "wrong_account": "P P P P - P F",
    "no_counter_access": "P P P P - P - F",
    "insufficient_permission-view": "P P P P - P - P F",
    "no_counter_access-names-every-counter": "P P P P - P - P F P F",
    "insufficient_permission-names-every-counter": "P P P P - P - P F P F",
    "ok-new-permissions-read": "P P P P - P - P P",
    "insufficient_permission-analyst-write": "P P P P - P - F",
    "insufficient_permission-filter-write": "P P P P - P - F",
    "token_expiring": "P P P P - P - F",
    "ok-exactly-7-days-within-7": "P P P P - P - P",
    "token_invalid-beats-token_expiring": "P P - F - - - -",
    "rate_limited-daily": "P P - - - - -",
    "rate_limited-parallel": "P P - - - - -",
    "service_unavailable-503": "P P - - - - -",
    "service_unavailable-html": "P P - - - - -",
    "service_unavailable-yandex-id": "P P - - - - -",
    "network_error-refused": "P P - - - - -",
    "network_error-timeout": "P P - - - - -",
    "network_error-dns-yandex-id": "P P - - - - -",
    "unexpected_response-400": "P P - - - - -",
    "unexpected_response-broken-200": "P P - - - - -",
}

OFFLINE_EXPIRED = Evidence(token_source="file", now=NOW, expires_at="2025-03-13T00:00:00+00:00", expiring_within=7)
MORE_ROWS = [
    pytest.param(
        evidence(identity=ID_REJECTS, expected_login="vasya", need="write", scopes=["metrika:read"], counter_ids=[101]),
        None,
        "unexpected_response",
        "P P P P - P F -",  # Yandex ID's silence decides before the scopes are read: metrika_rights stays passed
        id="identity-unknown-before-the-scopes",
    ),
    pytest.param(
        evidence(yandex_id(client_id=OTHER_CLIENT_ID), expected_client_id=CLIENT_ID, expected_login="vasya"),
        None,
        "ok",
        "P P P P P P P",
        id="ok-other-app-with-rights-expected-account",
    ),
    pytest.param(OFFLINE_EXPIRED, "offline", "token_invalid", "P P - F - - - -", id="offline-expired"),
    pytest.param(
        Evidence(token_source="keyring", now=NOW, expires_at="2025-03-16T00:00:00+00:00", expiring_within=7),
        "offline",
        "token_expiring",
        "P P - - - - - F",
        id="offline-expiring",
    ),
    pytest.param(
        Evidence(token_source="keyring", now=NOW, counter_ids=[101], expiring_within=7),
        "offline",
        "ok",
        "P P - - - - - - P",  # offline, Metrika was not asked about the counter
        id="offline-ok-expiry-unknown",
    ),
]


def check_rows():
    rows = {param.id: param for param in TABLE}
    yield from (
        pytest.param(rows[key].values[0], None, rows[key].values[1], expected, id=key)
        for key, expected in CHECKS_OF_ROWS.items()
    )
    yield from MORE_ROWS


def test_every_row_of_the_table_has_its_checks():
    assert set(CHECKS_OF_ROWS) == {param.id for param in TABLE}


@pytest.mark.parametrize(("ev", "mode", "code", "expected"), list(check_rows()))
def test_the_checks_are_computed_from_the_evidence_as_they_always_were(ev, mode, code, expected):
    verdict = diagnose(ev, OFFLINE_RULES if mode == "offline" else None)
    assert verdict.code == code
    assert [(c.name, c.status) for c in verdict.checks] == [
        (name, SHORT[status])
        for name, status in zip(
            [*advice.CHECK_LABELS, *(f"counter:{cid}" for cid in dict.fromkeys(ev.counter_ids)), "expiry:7"],
            expected.split(),
        )
    ]
    finding = decide(ev, OFFLINE_RULES if mode == "offline" else None)
    assert [(c.name, c.status) for c in checks(ev, finding)] == [(c.name, c.status) for c in verdict.checks]


def test_the_checks_details_are_the_facts_in_words():
    verdict = diagnose(evidence(counter_ids=[101, 999, 202], expected_login="vasya"))
    details = {check.name: check.detail for check in verdict.checks}
    assert details["token_present"] == "env:METRIKA_TOKEN" and details["expected_account"] == "vasya"
    assert (details["counter:101"], details["counter:999"], details["counter:202"]) == ("own", "no access", "view")
    assert details["well_formed"] == "" and details["header_read"] == ""
    assert {c.name: c.detail for c in diagnose(evidence(expiring_within=7)).checks}["expiry:7"] == "expiry unknown"
    offline = diagnose(OFFLINE_EXPIRED, OFFLINE_RULES)
    assert {c.name: c.detail for c in offline.checks}["token_valid"] == "expired on 2025-03-13"


def test_a_counter_asked_for_twice_is_one_check_and_two_results():
    verdict = diagnose(evidence(counter_ids=[101, 101]))
    assert [c.name for c in verdict.checks].count("counter:101") == 1
    assert [c.id for c in verdict.counters] == [101, 101]


def all_evidence():
    """Every evidence of the tables above, with the rules the engine asks of it."""
    for param in [*TABLE, *MORE_ROWS]:
        ev = param.values[0]
        offline = ev.metrika is None or (len(param.values) == 4 and param.values[1] == "offline")
        yield param.id, ev, OFFLINE_RULES if offline else RULES


def test_every_rule_is_a_pure_function_of_the_evidence():
    """Asked twice, a rule finds the same; it changes nothing in the evidence; its finding is a
    frozen value. So the order of the rules decides which finding wins, and nothing else."""
    for name, ev, rules in all_evidence():
        before = copy.deepcopy(ev)
        for rule in rules if ev.metrika is not None else OFFLINE_RULES:
            first, second = rule(ev), rule(ev)
            assert first == second, (name, rule.__name__)
            assert ev == before, (name, rule.__name__)
            if first is not None:
                with pytest.raises(AttributeError):
                    first.stage = first.stage  # type: ignore[misc]
        diagnose(ev, rules)
        assert ev == before, name


def test_the_rules_take_the_evidence_alone_and_return_a_finding_or_none():
    for rule in [*RULES, *OFFLINE_RULES]:
        assert list(inspect.signature(rule).parameters) == ["ev"], rule.__name__


def test_the_rules_have_no_words_and_the_advice_has_words_for_every_finding():
    source = Path(rules_module.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    calls = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not calls & {"_", "N_", "ngettext"}
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"i18n", "advice", "diagnose"}

    def kinds(cls):
        return [cls, *(sub for child in cls.__subclasses__() for sub in kinds(child))]

    findings = set(kinds(Finding)) - {Finding}
    assert findings <= set(advice.words.registry)
    assert {kind.code for kind in findings} == set(Diagnosis) - RAISED_ONLY


def test_a_finding_is_a_value_of_its_kind_and_facts():
    from metrika_cli.rules import BrokenBody, TooLarge, WrongApp

    assert WrongApp("a", "b") == WrongApp(app="a", expected="b") != WrongApp("a", "c")
    assert TooLarge("Metrika") != BrokenBody("Metrika")  # same facts, another kind
    assert repr(WrongApp("a", "b")) == "WrongApp(app='a', expected='b')"
    for args, named in ((("a",), {}), (("a", "b", "c"), {}), (("a", "b"), {"app": "c"}), ((), {"app": "a", "x": 1})):
        with pytest.raises(TypeError):
            WrongApp(*args, **named)
    with pytest.raises(AttributeError):
        WrongApp("a", "b").app = "c"  # type: ignore[misc]
