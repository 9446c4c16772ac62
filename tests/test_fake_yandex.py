"""The fake Yandex services answer the way Yandex documents Yandex ID, the Metrika APIs and OAuth."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

try:
    from fake_yandex import NO_TLS, FakeYandex, Recorded
except ImportError:  # tests/ turned into a package
    from tests.fake_yandex import NO_TLS, FakeYandex, Recorded

TOKEN = "y0__good-token"
NO_METRIKA_TOKEN = "y0__no-metrika"
CLIENT_ID = "4760187d81bc4b7799476b42b5103713"
COUNTERS = [
    {"id": 101, "name": "Shop", "permission": "own"},
    {"id": 102, "name": "Blog", "permission": "view", "site2": {"site": "blog.example.ru"}},
    {"id": 103, "permission": "edit"},
]


def oauth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"OAuth {token}"}


def assert_metrika_error(response: httpx.Response, status: int, error_type: str) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body["code"] == status
    assert [e["error_type"] for e in body["errors"]] == [error_type]
    assert body["message"] == body["errors"][0]["message"]
    return body


@pytest.fixture
def fake():
    with FakeYandex() as server:
        server.add_token(TOKEN, counters=[dict(c) for c in COUNTERS])
        server.add_token(NO_METRIKA_TOKEN, login="petya", metrika=False)
        yield server


@pytest.fixture
def client(fake):
    with httpx.Client(base_url=fake.url, verify=NO_TLS, timeout=5) as http:
        yield http


# -- Yandex ID -------------------------------------------------------------------------


def test_info_names_owner_and_app(client):
    response = client.get("/info?format=json", headers=oauth())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body["id"] == "1000034426"
    assert body["login"] == "vasya"
    assert body["client_id"] == CLIENT_ID
    assert body["psuid"].startswith("1.AAce")


@pytest.mark.parametrize("header", ["OAuth", "Bearer", "oauth", "BEARER"])
def test_info_accepts_both_schemes_in_any_case(client, header):
    response = client.get("/info?format=json", headers={"Authorization": f"{header} {TOKEN}"})
    assert response.status_code == 200


def test_info_works_for_a_token_without_metrika_rights(client):
    response = client.get("/info?format=json", headers=oauth(NO_METRIKA_TOKEN))
    assert response.status_code == 200
    assert response.json()["login"] == "petya"


@pytest.mark.parametrize("headers", [{}, oauth("unknown"), {"Authorization": "Basic abc"}])
def test_info_rejects_missing_or_unknown_token_with_unparseable_401(client, headers):
    response = client.get("/info?format=json", headers=headers)
    assert response.status_code == 401
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_token_in_query_string_is_never_accepted(client):
    assert client.get(f"/info?format=json&oauth_token={TOKEN}").status_code == 401
    response = client.get(f"/management/v1/counters?oauth_token={TOKEN}")
    assert_metrika_error(response, 401, "unauthorized")


# -- Metrika: authorisation ------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": TOKEN},
        {"Authorization": "OAuth"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"OAuth {TOKEN} extra"},
    ],
    ids=["missing", "bare-token", "no-token", "basic", "two-words"],
)
def test_metrika_unreadable_header_is_401_unauthorized(client, headers):
    response = client.get("/management/v1/counters", headers=headers)
    assert_metrika_error(response, 401, "unauthorized")


def test_metrika_unknown_token_is_403_invalid_token(client):
    body = assert_metrika_error(client.get("/management/v1/counters", headers=oauth("nope")), 403, "invalid_token")
    assert body["message"] == "Invalid oauth_token"
    for path in ("/management/v1/counter/101", "/management/v1/counter/101/my_grant"):
        assert_metrika_error(client.get(path, headers=oauth("nope")), 403, "invalid_token")


def test_invalid_token_status_can_follow_the_docs(fake, client):
    fake.invalid_token_status = 401
    assert_metrika_error(client.get("/management/v1/counters", headers=oauth("nope")), 401, "invalid_token")


def test_metrika_without_scope_is_403_access_denied(client):
    response = client.get("/management/v1/counters", headers={"Authorization": f"Bearer {NO_METRIKA_TOKEN}"})
    body = assert_metrika_error(response, 403, "access_denied")
    assert body["message"] == "Access is denied"
    assert_metrika_error(
        client.get("/management/v1/counter/101", headers=oauth(NO_METRIKA_TOKEN)), 403, "access_denied"
    )


def test_strip_metrika_auth_drops_the_header_for_metrika_only(fake, client):
    fake.strip_metrika_auth = True
    assert client.get("/info?format=json", headers=oauth()).status_code == 200
    assert_metrika_error(client.get("/management/v1/counters", headers=oauth()), 401, "unauthorized")
    # What the client sent is still recorded.
    assert fake.requests_to("/management/")[0].headers["Authorization"] == f"OAuth {TOKEN}"


# -- Metrika: counters -----------------------------------------------------------------


def test_counters_list_fills_default_fields(client):
    response = client.get("/management/v1/counters", headers=oauth())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body["rows"] == 3
    assert [c["id"] for c in body["counters"]] == [101, 102, 103]
    for counter in body["counters"]:
        assert set(counter) >= {"id", "name", "permission", "status", "owner_login", "site2"}
        assert counter["status"] == "Active"
        assert counter["site2"]["site"]
    shop, blog, third = body["counters"]
    assert (shop["name"], shop["permission"], shop["owner_login"]) == ("Shop", "own", "vasya")
    assert blog["site2"] == {"site": "blog.example.ru"}
    assert blog["owner_login"] != "vasya"
    assert third["permission"] == "edit" and third["name"]


def test_counters_pages_through_2500(fake, client):
    fake.add_token("big", counters=[{"id": 10_000 + i, "name": f"c{i}", "permission": "view"} for i in range(2500)])
    pages = []
    for offset in (1, 1001, 2001):
        response = client.get(f"/management/v1/counters?per_page=1000&offset={offset}", headers=oauth("big"))
        assert response.status_code == 200
        assert response.json()["rows"] == 2500
        pages.append(response.json()["counters"])
    assert [len(page) for page in pages] == [1000, 1000, 500]
    ids = [c["id"] for page in pages for c in page]
    assert len(set(ids)) == 2500
    beyond = client.get("/management/v1/counters?offset=2501", headers=oauth("big")).json()
    assert beyond == {"rows": 2500, "counters": []}


def test_counters_default_and_capped_page_size(fake, client):
    fake.add_token("big", counters=[{"id": i, "name": f"c{i}"} for i in range(1, 1201)])
    default = client.get("/management/v1/counters", headers=oauth("big")).json()
    capped = client.get("/management/v1/counters?per_page=5000", headers=oauth("big")).json()
    small = client.get("/management/v1/counters?per_page=10&offset=11", headers=oauth("big")).json()
    assert len(default["counters"]) == len(capped["counters"]) == 1000
    assert [c["id"] for c in small["counters"]] == list(range(11, 21))
    assert default["rows"] == capped["rows"] == small["rows"] == 1200


def test_counters_filter_by_ids_and_permission(client):
    by_ids = client.get("/management/v1/counters?counter_ids=103,101,999", headers=oauth()).json()
    assert by_ids["rows"] == 2
    assert sorted(c["id"] for c in by_ids["counters"]) == [101, 103]
    by_permission = client.get("/management/v1/counters", params={"permission": "own,edit"}, headers=oauth()).json()
    assert sorted(c["id"] for c in by_permission["counters"]) == [101, 103]
    none = client.get("/management/v1/counters?counter_ids=999", headers=oauth()).json()
    assert none == {"rows": 0, "counters": []}


@pytest.mark.parametrize("query", ["per_page=abc", "offset=0", "counter_ids=1,x"])
def test_counters_bad_parameter_is_400(client, query):
    assert_metrika_error(client.get(f"/management/v1/counters?{query}", headers=oauth()), 400, "invalid_parameter")


def test_single_counter_and_grant(client):
    response = client.get("/management/v1/counter/102", headers=oauth())
    assert response.status_code == 200
    counter = response.json()["counter"]
    assert (counter["id"], counter["name"], counter["permission"]) == (102, "Blog", "view")
    grant = client.get("/management/v1/counter/103/my_grant", headers=oauth())
    assert grant.status_code == 200
    assert grant.json() == {"grant": {"perm": "edit"}}


def test_foreign_counter_is_403_access_denied(client):
    assert_metrika_error(client.get("/management/v1/counter/999", headers=oauth()), 403, "access_denied")
    assert_metrika_error(client.get("/management/v1/counter/999/my_grant", headers=oauth()), 403, "access_denied")
    assert_metrika_error(client.get("/management/v1/counter/101", headers={}), 401, "unauthorized")


@pytest.mark.parametrize("path", ["/nothing", "/management/v1/counter/abc", "/management/v2/counters"])
def test_unknown_path_is_404_not_found(client, path):
    assert_metrika_error(client.get(path, headers=oauth()), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/info"),
        ("PUT", "/authorize"),
        ("DELETE", "/management/v1/accounts"),
        ("POST", "/management/v1/counters"),
        ("PATCH", "/nothing"),
    ],
)
def test_unknown_method_and_path_pairs_are_405(client, method, path):
    assert_metrika_error(client.request(method, path, headers=oauth()), 405, "method_not_allowed")


# -- Metrika: represented accounts -----------------------------------------------------


@pytest.fixture
def agency(fake):
    """TOKEN's owner represents client-a (registered here) and client-b (a token's owner)."""
    client_a = fake.add_represented(
        TOKEN, "client-a", counters=[{"id": 501, "name": "A shop"}], created_at="2023-05-01T10:00:00Z"
    )
    fake.add_token("client-b-token", login="client-b", counters=[{"id": 601, "permission": "view"}])
    fake.accounts[TOKEN].represents.append("client-b")
    return client_a


def test_accounts_lists_the_represented_accounts(fake, client, agency):
    assert fake.accounts[TOKEN].represents == ["client-a", "client-b"]
    assert fake.represented == {"client-a": agency}
    response = client.get("/management/v1/accounts", headers=oauth())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == {
        "accounts": [
            {"user_login": "client-a", "created_at": "2023-05-01T10:00:00Z"},
            {"user_login": "client-b", "created_at": "2024-01-01T00:00:00Z"},
        ]
    }
    assert client.get("/management/v1/accounts", headers=oauth("client-b-token")).json() == {"accounts": []}
    assert_metrika_error(client.get("/management/v1/accounts", headers=oauth(NO_METRIKA_TOKEN)), 403, "access_denied")
    assert_metrika_error(client.get("/management/v1/accounts"), 401, "unauthorized")


def test_ulogin_acts_for_a_represented_account(client, agency):
    own = client.get("/management/v1/counters", headers=oauth()).json()
    assert [c["id"] for c in own["counters"]] == [101, 102, 103]
    as_a = client.get("/management/v1/counters?ulogin=client-a", headers=oauth()).json()
    assert as_a["rows"] == 1
    assert as_a["counters"][0].items() >= {"id": 501, "name": "A shop", "owner_login": "client-a"}.items()
    counter = client.get("/management/v1/counter/501", params={"ulogin": "client-a"}, headers=oauth())
    assert counter.status_code == 200 and counter.json()["counter"]["id"] == 501
    grant = client.get("/management/v1/counter/601/my_grant?ulogin=client-b", headers=oauth())
    assert grant.json() == {"grant": {"perm": "view"}}
    # Only the represented account's counters, and only with ulogin.
    assert_metrika_error(
        client.get("/management/v1/counter/101?ulogin=client-a", headers=oauth()), 403, "access_denied"
    )
    assert_metrika_error(client.get("/management/v1/counter/501", headers=oauth()), 403, "access_denied")


@pytest.mark.parametrize("login", ["stranger", "vasya", "CLIENT-A"])
def test_ulogin_for_an_account_not_represented_is_403(client, agency, login):
    for path in ("/management/v1/counters", "/management/v1/counter/101", "/management/v1/accounts"):
        assert_metrika_error(client.get(path, params={"ulogin": login}, headers=oauth()), 403, "access_denied")


def test_ulogin_keeps_the_owners_app_rights(fake, client):
    fake.add_represented(NO_METRIKA_TOKEN, "client-c", counters=[{"id": 701}])
    response = client.get("/management/v1/counters?ulogin=client-c", headers=oauth(NO_METRIKA_TOKEN))
    assert_metrika_error(response, 403, "access_denied")


def test_put_accounts_is_answered_and_recorded(fake, client, agency):
    body = {"accounts": [{"user_login": "client-z"}]}
    response = client.put("/management/v1/accounts", json=body, headers=oauth())
    assert response.status_code == 200
    assert response.json() == {"accounts": [{"user_login": "client-z", "created_at": "2024-01-01T00:00:00Z"}]}
    assert fake.accounts[TOKEN].represents == ["client-z"]  # replaced, as Yandex does
    (put,) = fake.requests_to("/management/v1/accounts", method="PUT")
    assert json.loads(put.body) == body and put.status == 200
    assert client.get("/management/v1/accounts", headers=oauth()).json()["accounts"][0]["user_login"] == "client-z"


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"accounts": "client-a"}', b'{"accounts": [{"login": "x"}]}'])
def test_put_accounts_with_a_bad_body_is_400(fake, client, body):
    response = client.put("/management/v1/accounts", content=body, headers=oauth())
    assert_metrika_error(response, 400, "invalid_parameter")
    assert fake.requests_to("/management/v1/accounts", method="PUT")[0].body == body


def test_scopes_split_reading_from_writing(fake, client):
    fake.add_token("read-only", scopes=["metrika:read"], counters=[{"id": 101}])
    fake.add_token("write-only", scopes=["metrika:write"], counters=[{"id": 101}])
    assert client.get("/management/v1/counters", headers=oauth("read-only")).status_code == 200
    put = client.put("/management/v1/accounts", json={"accounts": []}, headers=oauth("read-only"))
    assert_metrika_error(put, 403, "access_denied")
    assert_metrika_error(client.get("/management/v1/counters", headers=oauth("write-only")), 403, "access_denied")
    assert client.put("/management/v1/accounts", json={"accounts": []}, headers=oauth("write-only")).status_code == 200


# -- Metrika: goals (writing) ------------------------------------------------------------

GOAL = {"name": "Cart", "type": "url", "conditions": [{"type": "contain", "url": "/cart"}]}


def test_goals_are_created_listed_and_recorded(fake, client):
    created = client.post("/management/v1/counter/101/goals", json={"goal": GOAL}, headers=oauth())
    assert created.status_code == 200
    assert created.headers["content-type"] == "application/json; charset=utf-8"
    assert created.json() == {"goal": {"id": 1, **GOAL}}
    on_edit = client.post("/management/v1/counter/103/goals", json={"goal": {"id": 77, "name": "x"}}, headers=oauth())
    assert on_edit.json() == {"goal": {"id": 2, "name": "x"}}  # the fake assigns the id
    assert client.get("/management/v1/counter/101/goals", headers=oauth()).json() == {"goals": [{"id": 1, **GOAL}]}
    assert client.get("/management/v1/counter/102/goals", headers=oauth()).json() == {"goals": []}  # view may read
    assert fake.goals == {101: [{"id": 1, **GOAL}], 103: [{"id": 2, "name": "x"}]}
    first, second = fake.requests_to("/management/v1/counter/", method="POST")
    assert json.loads(first.body) == {"goal": GOAL} and first.headers["content-type"] == "application/json"
    assert json.loads(second.body) == {"goal": {"id": 77, "name": "x"}}


@pytest.mark.parametrize(
    ("token", "counter_id"),
    [(TOKEN, 102), (TOKEN, 999), ("read-only", 101), (NO_METRIKA_TOKEN, 101)],
    ids=["view-permission", "no-access", "no-write-scope", "no-metrika"],
)
def test_goals_post_needs_write(fake, client, token, counter_id):
    fake.add_token("read-only", scopes=["metrika:read"], counters=[dict(c) for c in COUNTERS])
    response = client.post(f"/management/v1/counter/{counter_id}/goals", json={"goal": GOAL}, headers=oauth(token))
    assert_metrika_error(response, 403, "access_denied")
    assert fake.goals == {}
    assert json.loads(fake.requests_to("/management/", method="POST")[0].body) == {"goal": GOAL}


@pytest.mark.parametrize("body", [b"{oops", b"", b"[]", b'{"goal": 5}', b'{"name": "Cart"}', b"\xff"])
def test_goals_post_with_a_bad_body_is_400(fake, client, body):
    response = client.post("/management/v1/counter/101/goals", content=body, headers=oauth())
    assert_metrika_error(response, 400, "invalid_parameter")
    assert fake.goals == {}


def test_goals_get_needs_access(client):
    assert_metrika_error(client.get("/management/v1/counter/999/goals", headers=oauth()), 403, "access_denied")
    assert_metrika_error(client.get("/management/v1/counter/101/goals"), 401, "unauthorized")


def test_goal_delete(fake, client):
    fake.add_token("read-only", scopes=["metrika:read"], counters=[dict(c) for c in COUNTERS])
    goal_id = client.post("/management/v1/counter/101/goals", json={"goal": GOAL}, headers=oauth()).json()["goal"]["id"]
    path = f"/management/v1/counter/101/goal/{goal_id}"
    assert_metrika_error(client.delete(path, headers=oauth("read-only")), 403, "access_denied")
    assert_metrika_error(client.get(path, headers=oauth()), 405, "method_not_allowed")
    response = client.delete(path, headers=oauth())
    assert response.status_code == 200 and response.json() == {"success": True}
    assert client.get("/management/v1/counter/101/goals", headers=oauth()).json() == {"goals": []}
    assert_metrika_error(client.delete(path, headers=oauth()), 404, "not_found")
    assert_metrika_error(client.delete("/management/v1/counter/102/goal/1", headers=oauth()), 403, "access_denied")
    assert [r.status for r in fake.requests_to("/management/", method="DELETE")] == [403, 200, 404, 403]


def test_goals_for_a_represented_account(fake, client, agency):
    response = client.post("/management/v1/counter/501/goals?ulogin=client-a", json={"goal": GOAL}, headers=oauth())
    assert response.status_code == 200
    assert_metrika_error(
        client.post("/management/v1/counter/501/goals", json={"goal": GOAL}, headers=oauth()), 403, "access_denied"
    )
    view_only = client.post("/management/v1/counter/601/goals?ulogin=client-b", json={"goal": GOAL}, headers=oauth())
    assert_metrika_error(view_only, 403, "access_denied")
    assert list(fake.goals) == [501]


# -- Metrika: Reporting API -------------------------------------------------------------


def report(client, token: str = TOKEN, **params) -> httpx.Response:
    return client.get("/stat/v1/data", params=params, headers=oauth(token))


def test_report_pages_through_exact_rows(fake, client):
    fake.add_token("big", counters=[{"id": 42, "report_rows": 250}])
    pages = []
    for offset in (1, 101, 201):
        response = report(
            client, "big", ids="42", metrics="ym:s:visits,ym:s:users", dimensions="ym:s:date", offset=offset, limit=100
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        body = response.json()
        assert body["total_rows"] == 250 and body["sampled"] is False
        assert body["query"] == {
            "ids": [42],
            "metrics": ["ym:s:visits", "ym:s:users"],
            "dimensions": ["ym:s:date"],
            "offset": offset,
            "limit": 100,
        }
        pages.append(body["data"])
    assert [len(page) for page in pages] == [100, 100, 50]
    rows = [row for page in pages for row in page]
    assert rows[0] == {"dimensions": [{"name": "row-1"}], "metrics": [1.0, 1.0]}
    assert [row["dimensions"][0]["name"] for row in rows] == [f"row-{n}" for n in range(1, 251)]
    assert [row["metrics"][0] for row in rows] == [float(n) for n in range(1, 251)]
    beyond = report(client, "big", ids="42", metrics="ym:s:visits", dimensions="ym:s:date", offset=251).json()
    assert (beyond["data"], beyond["total_rows"]) == ([], 250)


def test_report_defaults(fake, client):
    fake.add_token("big", counters=[{"id": 42, "report_rows": 150}])
    body = report(client, "big", ids="42", metrics="ym:s:visits", dimensions="ym:s:date,ym:s:browser").json()
    assert (body["query"]["offset"], body["query"]["limit"]) == (1, 100)
    assert len(body["data"]) == 100 and body["total_rows"] == 150
    assert body["data"][99]["dimensions"] == [{"name": "row-100"}, {"name": "row-100"}]
    small = report(client, ids="101", metrics="ym:s:visits", dimensions="ym:s:date").json()
    assert small["total_rows"] == 10  # a counter that does not say has DEFAULT_REPORT_ROWS
    assert "report_rows" not in client.get("/management/v1/counter/42", headers=oauth("big")).json()["counter"]


def test_report_several_counters_and_no_dimensions(fake, client):
    fake.accounts[TOKEN].counters[1]["report_rows"] = 5
    both = report(client, ids="101,102", metrics="ym:s:visits", dimensions="ym:s:date", limit=100000).json()
    assert both["total_rows"] == 15 and len(both["data"]) == 15
    totals = report(client, ids="102", metrics="ym:s:visits,ym:s:users").json()
    assert totals["total_rows"] == 1
    assert totals["data"] == [{"dimensions": [], "metrics": [15.0, 15.0]}]  # 1 + 2 + 3 + 4 + 5


@pytest.mark.parametrize(
    "params",
    [
        {"metrics": "ym:s:visits"},
        {"ids": "101"},
        {"ids": "", "metrics": "ym:s:visits"},
        {"ids": "101,x", "metrics": "ym:s:visits"},
        {"ids": "101", "metrics": "ym:s:visits", "offset": "0"},
        {"ids": "101", "metrics": "ym:s:visits", "limit": "100001"},
        {"ids": "101", "metrics": "ym:s:visits", "limit": "many"},
    ],
    ids=["no-ids", "no-metrics", "empty-ids", "bad-id", "offset-0", "limit-too-big", "limit-not-a-number"],
)
def test_report_bad_parameter_is_400(client, params):
    assert_metrika_error(report(client, **params), 400, "invalid_parameter")


def test_report_needs_access_to_every_counter(fake, client, agency):
    assert_metrika_error(report(client, ids="999", metrics="ym:s:visits"), 403, "access_denied")
    assert_metrika_error(report(client, ids="101,999", metrics="ym:s:visits"), 403, "access_denied")
    assert_metrika_error(report(client, NO_METRIKA_TOKEN, ids="101", metrics="ym:s:visits"), 403, "access_denied")
    assert_metrika_error(report(client, "nope", ids="101", metrics="ym:s:visits"), 403, "invalid_token")
    assert_metrika_error(client.get("/stat/v1/data?ids=101&metrics=ym:s:visits"), 401, "unauthorized")
    assert_metrika_error(report(client, ids="501", metrics="ym:s:visits"), 403, "access_denied")
    assert report(client, ids="501", metrics="ym:s:visits", ulogin="client-a").status_code == 200


def test_authorize_serves_a_small_html_page(client):
    response = client.get(f"/authorize?response_type=token&client_id={CLIENT_ID}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert CLIENT_ID in response.text


def test_russian_messages_keep_error_types(fake, client):
    fake.russian = True
    body = assert_metrika_error(client.get("/management/v1/counters", headers=oauth("nope")), 403, "invalid_token")
    assert body["message"] == "Недействительный oauth_token"
    body = assert_metrika_error(client.get("/management/v1/counter/999", headers=oauth()), 403, "access_denied")
    assert body["message"] == "Доступ запрещён"
    fake.fail("/management/", "status", status=429)
    body = assert_metrika_error(client.get("/management/v1/counters", headers=oauth()), 429, "quota_requests_by_uid")
    assert any("а" <= ch <= "я" for ch in body["message"].lower())


# -- recording and concurrency ---------------------------------------------------------


def test_requests_are_recorded_with_full_target_and_headers(fake, client):
    client.get("/info?format=json", headers=oauth())
    client.get("/management/v1/counters?per_page=2&offset=1", headers={"Authorization": f"Bearer {TOKEN}"})
    assert [r.path for r in fake.requests] == ["/info?format=json", "/management/v1/counters?per_page=2&offset=1"]
    info, counters = fake.requests
    assert isinstance(info, Recorded) and info.method == "GET"
    assert info.headers["authorization"] == info.headers["Authorization"] == f"OAuth {TOKEN}"
    assert counters.headers.get("AUTHORIZATION") == f"Bearer {TOKEN}"
    assert info.started <= info.finished <= counters.started <= counters.finished
    assert fake.requests_to("/management/") == [counters]
    assert fake.errors == []


def test_request_bodies_and_answer_statuses_are_recorded(fake, client):
    sent = client.post("/management/v1/counters", content=b'{"a": 1}', headers=oauth())
    assert_metrika_error(sent, 405, "method_not_allowed")
    chunked = client.put("/nothing", content=iter([b"first,", b"", b"second"]), headers=oauth())
    assert chunked.status_code == 405
    assert client.get("/management/v1/counters", headers=oauth()).status_code == 200  # same connection
    post, put, get = fake.requests
    assert (post.method, post.body, post.status) == ("POST", b'{"a": 1}', 405)
    assert "content-length" not in put.headers and put.body == b"first,second"
    assert (get.body, get.status) == (b"", 200)
    assert fake.requests_to("/management/", method="post") == [post]
    assert fake.requests_to("/", method="GET") == [get]


def test_latency_lets_concurrent_requests_overlap(fake):
    responses = concurrently(fake, [("/info?format=json", oauth()), ("/management/v1/counters", oauth())], 0.3)
    assert [response.status_code for response in responses] == [200, 200]
    first, second = fake.requests[2:]  # after each thread's quick /info
    assert first.started < second.finished and second.started < first.finished  # in parallel
    assert first.finished - first.started >= 0.3
    assert fake.most_in_flight([first, second]) == 2 and fake.most_in_flight([first]) == 1


# -- quotas ----------------------------------------------------------------------------


def concurrently(fake, calls: list[tuple[str, dict[str, str]]], latency: float) -> list[httpx.Response]:
    """GET each (path, headers) from its own thread and connection, all released at once.

    Each connection is opened first (a quick /info, which no quota counts); then ``latency``
    is switched on and the calls go out together, so they overlap even on a busy machine.
    """
    responses: list[httpx.Response | None] = [None] * len(calls)
    barrier = threading.Barrier(len(calls), action=lambda: setattr(fake, "latency", latency))

    def call(index: int, path: str, headers: dict[str, str]) -> None:
        with httpx.Client(base_url=fake.url, verify=NO_TLS, timeout=10) as http:
            http.get("/info?format=json")
            barrier.wait()
            responses[index] = http.get(path, headers=headers)

    threads = [threading.Thread(target=call, args=(i, *c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def test_quota_is_off_by_default(fake, client):
    assert fake.quota is False
    assert all(client.get("/management/v1/counters", headers=oauth()).status_code == 200 for _ in range(40))
    assert fake.quota_rejections == []


def test_quota_per_ip_turns_a_burst_away(fake, client):
    fake.quota = True
    fake.retry_after = "2"
    assert all(client.get("/info?format=json", headers=oauth()).status_code == 200 for _ in range(40))
    tokens = [oauth(), oauth(NO_METRIKA_TOKEN), {}]  # all tokens together, even none
    began = time.monotonic()
    responses = [client.get("/management/v1/counters", headers=tokens[i % 3]) for i in range(40)]
    assert time.monotonic() - began < 1, "too slow a machine for a burst"
    assert [r.status_code != 429 for r in responses] == [True] * 30 + [False] * 10
    for response in responses[30:]:
        assert_metrika_error(response, 429, "quota_requests_by_ip")
        assert response.headers["retry-after"] == "2"
    assert [r.error_type for r in fake.quota_rejections] == ["quota_requests_by_ip"] * 10
    assert [r.request for r in fake.quota_rejections] == fake.requests_to("/management/")[30:]
    assert client.get("/info?format=json", headers=oauth()).status_code == 200  # Yandex ID never counts


def test_quota_per_ip_window_slides(fake, client):
    fake.quota = True
    fake.per_ip_per_second = 5
    responses = [client.get("/management/v1/counters", headers=oauth()) for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    assert "retry-after" not in responses[-1].headers  # none unless asked for
    # One second after the first was admitted (before its answer was written), it has left the window.
    time.sleep(max(0.0, fake.requests[0].finished + 1.01 - time.monotonic()))
    assert client.get("/stat/v1/data?ids=101&metrics=ym:s:visits", headers=oauth()).status_code != 429
    assert len(fake.quota_rejections) == 1


def test_quota_per_ip_lets_paced_requests_through(fake, client):
    fake.quota = True
    for _ in range(40):  # at least 0.04 s apart: never more than 26 in a second
        assert client.get("/management/v1/counters", headers=oauth()).status_code == 200
        time.sleep(0.04)
    assert fake.quota_rejections == []


def test_quota_parallel_per_login_turns_the_fourth_away(fake):
    fake.quota = True
    fake.retry_after = "1"
    fake.add_token("vasya-2", login="vasya")  # a second token of the same person
    fake.add_token("kolya", login="kolya")
    calls = [
        ("/management/v1/counters", oauth()),
        ("/management/v1/counter/101", oauth()),
        ("/stat/v1/data?ids=1&metrics=ym:s:visits", oauth("vasya-2")),
        ("/management/v1/counters", oauth("vasya-2")),
        ("/management/v1/counters", oauth("kolya")),
    ]
    responses = concurrently(fake, calls, latency=0.4)
    statuses = [r.status_code for r in responses]
    assert statuses.count(429) == 1 and statuses[4] == 200  # another login has its own three
    rejected = responses[statuses.index(429)]
    assert_metrika_error(rejected, 429, "quota_parallel_requests")
    assert rejected.headers["retry-after"] == "1"
    assert [r.error_type for r in fake.quota_rejections] == ["quota_parallel_requests"]
    metrika = [r for r in fake.requests if not r.path.startswith("/info")]
    assert len(metrika) == 5 and all(r.finished - r.started >= 0.4 for r in metrika)  # the 429 waited too


def test_quota_parallel_three_in_flight_are_fine(fake):
    fake.quota = True
    assert [r.status_code for r in concurrently(fake, [("/management/v1/counters", oauth())] * 3, 0.3)] == [200] * 3
    # Three clients that each wait for their answer before asking again never exceed the
    # limit: a request leaves the count before its answer is written.
    fake.latency = 0.01
    fake.per_ip_per_second = 1000  # only the parallel limit is under test here
    statuses = []

    def worker() -> None:
        with httpx.Client(base_url=fake.url, verify=NO_TLS, timeout=5) as http:
            statuses.extend(http.get("/management/v1/counters", headers=oauth()).status_code for _ in range(10))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 30
    assert fake.quota_rejections == []


# -- faults ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(429, "quota_requests_by_uid"), (503, "backend_error"), (504, "timeout"), (500, "backend_error")],
)
def test_fault_status(fake, client, status, error_type):
    fake.fail("/management/", "status", status=status, error_type=error_type)
    assert_metrika_error(client.get("/management/v1/counters", headers=oauth()), status, error_type)
    assert client.get("/info?format=json", headers=oauth()).status_code == 200  # other prefixes unaffected


def test_fault_status_with_headers_and_times(fake, client):
    fake.fail(
        "/management/",
        "status",
        status=429,
        error_type="quota_parallel_requests",
        headers={"Retry-After": "1"},
        times=1,
    )
    first = client.get("/management/v1/counters", headers=oauth())
    assert_metrika_error(first, 429, "quota_parallel_requests")
    assert first.headers["retry-after"] == "1"
    assert client.get("/management/v1/counters", headers=oauth()).status_code == 200


def test_fault_429_with_retry_after_for_the_first_n_requests(fake, client):
    fake.fail("/stat/v1/data", "status", status=429, headers={"Retry-After": "2"}, times=3)
    for _ in range(3):
        response = report(client, ids="101", metrics="ym:s:visits")
        assert_metrika_error(response, 429, "quota_requests_by_uid")
        assert response.headers["retry-after"] == "2"
        assert client.get("/management/v1/counters", headers=oauth()).status_code == 200  # other paths unaffected
    fourth = report(client, ids="101", metrics="ym:s:visits")
    assert fourth.status_code == 200 and "retry-after" not in fourth.headers
    assert [r.status for r in fake.requests_to("/stat/")] == [429, 429, 429, 200]
    assert fake.quota_rejections == []  # scripted, not the quotas


def test_fault_html(fake, client):
    fake.fail("/info", "html")
    response = client.get("/info?format=json", headers=oauth())
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "<html>" in response.text
    fake.fail("/info", "html", status=503)
    assert client.get("/info?format=json", headers=oauth()).status_code == 503


def test_fault_broken_json(fake, client):
    fake.fail("/management/v1/counters", "broken_json")
    response = client.get("/management/v1/counters", headers=oauth())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_fault_cut(fake, client):
    fake.fail("/management/", "cut")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get("/management/v1/counters", headers=oauth())
    fake.clear_faults()
    assert client.get("/management/v1/counters", headers=oauth()).status_code == 200


def test_fault_hang_times_out_the_client(fake):
    fake.fail("/info", "hang", seconds=5)
    with httpx.Client(base_url=fake.url, verify=NO_TLS, timeout=0.2) as http:
        began = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            http.get("/info?format=json", headers=oauth())
        assert time.monotonic() - began < 1
        assert http.get("/management/v1/counters", headers=oauth()).status_code == 200


def test_fault_hang_answers_after_the_pause(fake, client):
    fake.fail("/info", "hang", seconds=0.2)
    began = time.monotonic()
    assert client.get("/info?format=json", headers=oauth()).status_code == 200
    assert time.monotonic() - began >= 0.2


def test_fail_rejects_unknown_mode(fake):
    with pytest.raises(ValueError):
        fake.fail("/info", "explode")


# -- life cycle ------------------------------------------------------------------------


def test_stop_is_prompt_while_a_request_hangs():
    fake = FakeYandex(latency=0.1).start()
    fake.add_token(TOKEN)
    fake.fail("/info", "hang")  # default: 30 s
    errors = []

    def hanging_call() -> None:
        try:
            httpx.get(f"{fake.url}/info?format=json", headers=oauth(), timeout=10)
        except httpx.HTTPError as error:
            errors.append(error)

    caller = threading.Thread(target=hanging_call)
    caller.start()
    time.sleep(0.3)
    began = time.monotonic()
    fake.stop()
    assert time.monotonic() - began < 1
    caller.join(timeout=2)
    assert not caller.is_alive()
    assert errors and isinstance(errors[0], httpx.RemoteProtocolError | httpx.ReadError)
    fake.stop()  # idempotent
    assert fake.errors == []


def test_url_needs_a_started_server():
    fake = FakeYandex()
    with pytest.raises(RuntimeError):
        fake.url
