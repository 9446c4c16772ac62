"""docs/schema/: every `--json` document the real commands print, in every outcome they can end
in, is valid against its JSON Schema; so are the examples in docs/json.md; and the schemas are
strict enough to refuse what a document must never be."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from conftest import CLIENT_ID, OTHER_CLIENT_ID, OTHER_TOKEN, TOKEN
from jsonschema import Draft202012Validator
from keyring_backends import backend_env

from metrika_cli.errors import Diagnosis

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCHEMAS = ("whoami", "check-access", "status", "refresh")
UNKNOWN_TOKEN = "y0__xRevokedTokenNotKnownAnywhere0123456789_abcdefghijklmn"
STORE = ("login", "--with-token", "--insecure-storage", "--client-id", CLIENT_ID)


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((DOCS / "schema" / f"{name}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def errors(name: str, document: Any) -> list[str]:
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator(name).iter_errors(document)]


def document_of(result) -> dict[str, Any]:
    """The one JSON object a --json command printed: stdout holds it and nothing else."""
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    assert document["exit_code"] == result.code
    return document


def pasted(token: str = TOKEN, seconds: int = 86400 * 300) -> str:
    return f"https://oauth.yandex.ru/verification_code#access_token={token}&token_type=bearer&expires_in={seconds}"


def logged_in(metrika, *extra: str, token: str = TOKEN) -> None:
    result = metrika(*STORE, *extra, input=pasted(token))
    assert result.code == 0, result.output


# ---- whoami ----------------------------------------------------------------------------


def test_whoami_ok_from_the_store_is_valid(fake, metrika):
    fake.add_represented(TOKEN, "client-a")
    logged_in(metrika)
    document = document_of(metrika("whoami", "--json"))
    assert document["diagnosis"] == "ok" and document["accounts"] == ["client-a"]
    assert document["expires_at"] is not None and document["client_id_matches"] is True
    assert errors("whoami", document) == []


@pytest.mark.parametrize(
    ("setup", "env", "args", "diagnosis"),
    [
        ("none", {"METRIKA_TOKEN": UNKNOWN_TOKEN}, (), "token_invalid"),
        ("none", {}, (), "no_token"),
        ("none", {"METRIKA_TOKEN": "OAuth " + TOKEN}, (), "token_malformed"),
        ("other_app", {"METRIKA_TOKEN": OTHER_TOKEN, "METRIKA_CLIENT_ID": CLIENT_ID}, (), "wrong_app"),
        ("none", {"METRIKA_TOKEN": TOKEN}, (), "ok"),
        ("stored", {}, ("--expiring-within", "400"), "token_expiring"),
        ("quota", {"METRIKA_TOKEN": TOKEN}, (), "rate_limited"),
        ("down", {"METRIKA_TOKEN": TOKEN}, (), "service_unavailable"),
        ("keyring", {}, (), "store_unavailable"),
        ("none", {}, ("--expiring-within", "-1"), "bad_input"),
    ],
)
def test_whoami_documents_of_every_kind_are_valid(fake, metrika, isolated, setup, env, args, diagnosis):
    if setup == "other_app":
        fake.add_token(OTHER_TOKEN, login="petya", client_id=OTHER_CLIENT_ID, metrika=False)
    elif setup == "stored":
        logged_in(metrika)
    elif setup == "quota":
        fake.fail("/management/", "status", status=429, error_type="quota_requests_by_uid")
    elif setup == "down":
        fake.fail("/management/", "status", status=503)
    elif setup == "keyring":
        (isolated / "config.toml").parent.mkdir(mode=0o700, parents=True)
        (isolated / "config.toml").write_text('[profiles.default]\nstorage = "keyring"\n')
        (isolated / "config.toml").chmod(0o600)
        env = backend_env("LockedKeyring")
    document = document_of(metrika("whoami", "--json", *args, env=env))
    assert document["diagnosis"] == diagnosis
    assert errors("whoami", document) == []


def test_whoami_network_error_is_valid(metrika):  # no `fake`: the base URLs point at a closed port
    document = document_of(metrika("whoami", "--json", env={"METRIKA_TOKEN": TOKEN}))
    assert document["diagnosis"] == "network_error"
    assert errors("whoami", document) == []


# ---- check-access ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "env", "args", "diagnosis"),
    [
        ("none", {"METRIKA_TOKEN": TOKEN}, ("101", "202"), "ok"),
        ("none", {"METRIKA_TOKEN": TOKEN}, ("101", "404"), "no_counter_access"),
        ("none", {"METRIKA_TOKEN": TOKEN}, ("202", "--need", "write"), "insufficient_permission"),
        ("none", {"METRIKA_TOKEN": TOKEN}, ("--login", "petya"), "wrong_account"),
        ("none", {"METRIKA_TOKEN": UNKNOWN_TOKEN}, (), "token_invalid"),
        ("none", {}, (), "no_token"),
        ("none", {"METRIKA_TOKEN": '"' + TOKEN + '"'}, (), "token_malformed"),
        ("other_app", {"METRIKA_TOKEN": OTHER_TOKEN, "METRIKA_CLIENT_ID": CLIENT_ID}, (), "wrong_app"),
        ("no_rights", {"METRIKA_TOKEN": OTHER_TOKEN}, (), "scope_missing"),
        ("strip", {"METRIKA_TOKEN": TOKEN}, (), "header_rejected"),
        ("quota", {"METRIKA_TOKEN": TOKEN}, (), "rate_limited"),
        ("html", {"METRIKA_TOKEN": TOKEN}, (), "service_unavailable"),
        ("stored", {}, ("--expiring-within", "400"), "token_expiring"),
        ("none", {"METRIKA_TOKEN": TOKEN}, ("--need", "admin"), "bad_input"),
        ("none", {"METRIKA_TOKEN": TOKEN}, ("not-a-counter",), "bad_input"),
    ],
)
def test_check_access_documents_of_every_kind_are_valid(fake, metrika, setup, env, args, diagnosis):
    if setup == "other_app":
        fake.add_token(OTHER_TOKEN, login="petya", client_id=OTHER_CLIENT_ID, metrika=False)
    elif setup == "no_rights":
        fake.add_token(OTHER_TOKEN, login="vasya", client_id=CLIENT_ID, metrika=False)
    elif setup == "strip":
        fake.strip_metrika_auth = True
    elif setup == "quota":
        fake.fail("/management/", "status", status=429, error_type="quota_requests_by_ip", headers={"Retry-After": "0"})
    elif setup == "html":
        fake.fail("/management/", "html", status=502)
    elif setup == "stored":
        logged_in(metrika)
    document = document_of(metrika("check-access", *args, "--json", env=env))
    assert document["diagnosis"] == diagnosis
    assert errors("check-access", document) == []


def test_check_access_network_error_is_valid(metrika):
    document = document_of(metrika("check-access", "101", "--json", env={"METRIKA_TOKEN": TOKEN}))
    assert document["diagnosis"] == "network_error" and document["api"] is None
    assert errors("check-access", document) == []


# ---- status ----------------------------------------------------------------------------


def test_status_of_a_mix_of_profiles_is_valid(fake, metrika):
    fake.add_token(OTHER_TOKEN, login="petya", client_id=OTHER_CLIENT_ID, metrika=False)
    logged_in(metrika)
    logged_in(metrika, "--profile", "other", "--no-verify", token=OTHER_TOKEN)
    logged_in(metrika, "--profile", "gone", "--no-verify", token=UNKNOWN_TOKEN)
    result = metrika("status", "--json")
    document = document_of(result)
    assert {item["profile"]: item["diagnosis"] for item in document["profiles"]} == {
        "default": "ok",
        "gone": "token_invalid",
        "other": "wrong_app",
    }
    assert errors("status", document) == []


def test_status_offline_is_valid(fake, metrika):
    fake.add_token(OTHER_TOKEN, login="petya", client_id=CLIENT_ID)
    logged_in(metrika)
    logged_in(metrika, "--profile", "old", token=OTHER_TOKEN)
    fake.requests.clear()
    document = document_of(metrika("status", "--offline", "--expiring-within", "400", "--json"))
    assert document["offline"] is True and fake.requests == []
    assert {item["diagnosis"] for item in document["profiles"]} == {"token_expiring"}
    assert errors("status", document) == []


@pytest.mark.parametrize(
    ("setup", "args", "diagnosis"),
    [
        ("nothing stored", (), "no_token"),
        ("quota", (), "rate_limited"),
        ("locked keyring", (), "store_unavailable"),
        ("stored", ("--expiring-within", "x"), "bad_input"),
    ],
)
def test_status_documents_of_every_kind_are_valid(fake, metrika, isolated, setup, args, diagnosis):
    env = {}
    if setup != "nothing stored":
        logged_in(metrika)
    if setup == "quota":
        fake.fail("/management/", "status", status=429, error_type="quota_requests_by_uid")
    elif setup == "locked keyring":
        config = (isolated / "config.toml").read_text()
        (isolated / "config.toml").write_text(config.replace('storage = "file"', 'storage = "keyring"'))
        env = backend_env("LockedKeyring")
    document = document_of(metrika("status", *args, "--json", env=env))
    found = [item["diagnosis"] for item in document.get("profiles", [])] or [document["diagnosis"]]
    assert found == [diagnosis]
    assert errors("status", document) == []


# ---- the examples in docs/json.md ------------------------------------------------------

EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\n```json\n((?:(?!```)[^\n]*\n)*)```\n<!-- end -->")


def examples() -> dict[str, Any]:
    page = (DOCS / "json.md").read_text(encoding="utf-8")
    return {name: json.loads(body) for name, body in EXAMPLE.findall(page)}


def schema_for(example: str) -> str:
    return next(name for name in SCHEMAS if example.startswith(name))


def test_every_json_block_of_the_page_is_an_example_and_parses():
    page = (DOCS / "json.md").read_text(encoding="utf-8")
    assert page.count("```json") == len(examples()) >= 8


@pytest.mark.parametrize("name", sorted(examples()))
def test_each_example_of_the_page_is_valid_against_its_schema(name):
    assert errors(schema_for(name), examples()[name]) == []


def test_the_examples_cover_each_command_success_and_failure():
    found = {(schema_for(name), document.get("ok")) for name, document in examples().items()}
    assert found >= {(name, ok) for name in SCHEMAS for ok in (True, False)}


# ---- the schemas themselves ------------------------------------------------------------


def schema(name: str) -> dict[str, Any]:
    return validator(name).schema  # type: ignore[no-any-return]


def test_the_schemas_know_every_diagnosis_and_exit_code():
    codes = sorted({int(d.exit_code) for d in Diagnosis})
    for name in SCHEMAS:
        assert schema(name)["$defs"]["diagnosis"]["enum"] == [str(d) for d in Diagnosis], name
    common = schema("whoami")["$defs"]["common"]["properties"]
    assert common["exit_code"]["enum"] == codes


def test_the_definitions_the_schemas_share_are_the_same_in_each():
    for shared in ("common", "short", "diagnosis"):
        assert (
            schema("whoami")["$defs"][shared]
            == schema("check-access")["$defs"][shared]
            == schema("status")["$defs"][shared]
            == schema("refresh")["$defs"][shared]
        )
    assert schema("whoami")["$defs"]["whoami"] == schema("status")["$defs"]["whoami"]


def spoiled(document: dict[str, Any], change) -> dict[str, Any]:
    copied = copy.deepcopy(document)
    change(copied)
    return copied


@pytest.mark.parametrize(
    ("example", "change"),
    [
        ("whoami-ok", lambda d: d["token"].update(fingerprint=TOKEN)),
        ("whoami-ok", lambda d: d.pop("expires_at")),
        ("whoami-ok", lambda d: d.update(diagnosis="fine")),
        ("whoami-ok", lambda d: d.update(schema=2)),
        ("whoami-ok", lambda d: d["token"].update(source="clipboard")),
        ("whoami-ok", lambda d: d.update(expires_at="2026-01-08T12:30:00+03:00")),
        ("whoami-no_token", lambda d: d.update(days_left="soon")),
        ("check-access-ok", lambda d: d["checks"][0].update(status="maybe")),
        ("check-access-ok", lambda d: d["counters"][0].pop("ok")),
        ("check-access-ok", lambda d: d.pop("api")),
        ("check-access-bad_input", lambda d: d.update(ok=True, diagnosis="ok", exit_code=0)),
        ("check-access-bad_input", lambda d: d.pop("fix")),
        ("status", lambda d: d["profiles"][0].pop("active")),
        ("status", lambda d: d["profiles"][0].pop("counters")),
        ("status", lambda d: d["counts"].update(fine=1)),
        ("status", lambda d: d["profiles"][0].update(renewable="yes")),
        ("whoami-ok", lambda d: d.pop("renewable")),
        ("refresh", lambda d: d["profiles"][0].pop("renewed")),
        ("refresh", lambda d: d["profiles"][0].update(days_left="soon")),
        ("refresh", lambda d: d.update(exit_code=9)),
        ("refresh-not_renewable", lambda d: d["profiles"][1].update(diagnosis="not_renewable")),
    ],
)
def test_the_schemas_refuse_a_spoiled_document(example, change):
    original = examples()[example]
    assert errors(schema_for(example), original) == []
    assert errors(schema_for(example), spoiled(original, change)) != []
