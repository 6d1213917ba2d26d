"""The HTTP edge under hostile input, on chalice's test client: each bad body gets its 4xx and
changes nothing; the OpenAPI document validates and every ``$ref`` in it resolves; ``/docs``
serves Swagger UI from local files only.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from chalice.test import Client
from openapi_spec_validator import validate

from chalicelib.core import secrets
from chalicelib.core.aws import client
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Unavailable
from chalicelib.core.http import MAX_DEPTH
from tests.integration.conftest import bearer

JSON_HEADERS = {"Content-Type": "application/json"}


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def error_of(response: Any) -> dict[str, Any]:
    body = json.loads(response.body)
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    return body["error"]


def world() -> dict[str, set[tuple[str, str]]]:
    """Every item key in every table of the stage, and every queue's depth: what a refused
    request must leave as it found it."""
    ddb = client("dynamodb")
    found: dict[str, set[tuple[str, str]]] = {}
    for table in get_settings().tables:
        keys = {k["AttributeName"] for k in ddb.describe_table(TableName=table)["Table"]["KeySchema"]}
        items: set[tuple[str, str]] = set()
        for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items |= {
                tuple(json.dumps(item[k], sort_keys=True) for k in sorted(keys)) for item in page["Items"]
            }
        found[table] = items
    return found


def queued() -> dict[str, int]:
    """Messages on every queue of the stage, visible, in flight or delayed."""
    sqs = client("sqs")
    names = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    totals = {}
    for queue in get_settings().queues:
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        totals[queue] = sum(int(attributes.get(n, 0)) for n in (*names, "ApproximateNumberOfMessagesDelayed"))
    return totals


@pytest.fixture
def admin(token: Callable[..., str]) -> dict[str, str]:
    return {**bearer(token(f"admin-{uuid.uuid4().hex[:8]}", "admin")), **JSON_HEADERS}


@pytest.fixture
def academy(api: Client, admin: dict[str, str]) -> dict[str, Any]:
    """Given an academy with 10/5/15 minutes."""
    response = api.http.post("/academies", headers=admin, body=json.dumps({"name": "Edge academy"}))
    assert response.status_code == 201, response.body
    return json.loads(response.body)


# --- nesting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 100_000])
def test_nested_body_is_400_malformed_json_and_writes_nothing(
    api: Client, admin: dict[str, str], depth: int
) -> None:
    """Given a body nested past the limit (deep enough to blow any recursive parser), when it is
    posted to a body route, then 400 malformed_json and nothing is written."""
    before = world()
    response = api.http.post("/academies", headers=admin, body='{"name": ' + nested(depth) + "}")
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"
    assert world() == before


def test_nesting_at_the_limit_is_parsed_and_then_validated(api: Client, admin: dict[str, str]) -> None:
    """Given a body exactly MAX_DEPTH deep, it is parsed (the limit is not off by one): 422 for
    the wrong type, not 400."""
    response = api.http.post("/academies", headers=admin, body='{"name": ' + nested(MAX_DEPTH - 1) + "}")
    assert response.status_code == 422


def test_brackets_inside_strings_do_not_count_as_nesting(api: Client, admin: dict[str, str]) -> None:
    name = "[" * 60 + "{" * 60
    response = api.http.post("/academies", headers=admin, body=json.dumps({"name": name}))
    assert response.status_code == 201 and json.loads(response.body)["name"] == name


def test_nested_mpesa_callback_is_400_and_changes_no_payment(api: Client) -> None:
    """Given the callback's secret path, when Safaricom's URL gets a body nested 100,000 deep,
    then 400 (not 500), nothing is queued, and the only write is the operator's record of the
    refused callback."""
    from chalicelib.payments import daraja

    name = f"muda/{get_settings().stage}/hotspot/daraja"
    try:  # the shared stage may hold the hotspot tests' secret: use it, never replace it
        callback_token = secrets.read(name, refresh=True)["callback_token"]
    except (Unavailable, KeyError):
        callback_token = f"cb-{uuid.uuid4().hex}"
        secret = {"consumer_key": "k", "consumer_secret": "s", "passkey": "p"}
        secrets.write(name, {**secret, "callback_token": callback_token})
    daraja.reset()
    before, messages = world(), queued()
    body = '{"Body": {"stkCallback": ' + nested(100_000, "{}") + "}}"
    response = api.http.post(f"/mpesa/callback/{callback_token}", headers=JSON_HEADERS, body=body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_callback"
    assert queued() == messages
    after = world()
    hotspot = get_settings().name("payments")  # the refusal archive
    assert {t: keys for t, keys in after.items() if t != hotspot} == {
        t: keys for t, keys in before.items() if t != hotspot
    }
    new = after[hotspot] - before[hotspot]
    assert len(new) == 1 and all("REJECTED" in "".join(key).upper() for key in new), new


# --- numbers DynamoDB cannot store ----------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    ["5e-324", "1e-131", "-1e-200", "1e126", "-9.99e200", "1.234567890123456789012345678901234567891"],
)
def test_number_dynamodb_cannot_store_is_422_and_writes_nothing(
    api: Client, admin: dict[str, str], number: str
) -> None:
    """Given a number under 1e-130, over 9.99e125 or with more than 38 significant digits, when
    it is posted, then 422 number_out_of_range (not DynamoDB's 500) and nothing is written."""
    before = world()
    body = '{"name": "Underflow", "preparation_minutes": ' + number + "}"
    response = api.http.post("/academies", headers=admin, body=body)
    assert response.status_code == 422, response.body
    assert error_of(response)["code"] == "number_out_of_range"
    assert world() == before


@pytest.mark.parametrize(
    "number", ["0", "0.0", "-0.0", "1e-130", "1.5", "100000000000000000000000000000000000000000"]
)
def test_numbers_dynamodb_stores_pass_the_range_check(
    api: Client, admin: dict[str, str], number: str
) -> None:
    """Zero, the smallest magnitude and many trailing zeros are storable: they reach validation."""
    body = '{"name": "Range", "preparation_minutes": ' + number + "}"
    response = api.http.post("/academies", headers=admin, body=body)
    assert response.status_code in (201, 422)
    assert response.status_code == 201 or error_of(response)["code"] == "validation_error"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_400(api: Client, admin: dict[str, str], constant: str) -> None:
    body = '{"name": "Nan", "preparation_minutes": ' + constant + "}"
    response = api.http.post("/academies", headers=admin, body=body)
    assert response.status_code == 400 and error_of(response)["code"] == "malformed_json"


# --- strict types -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [False, True, "5", "5.0", None])
def test_bool_or_string_is_not_a_number_and_changes_nothing(
    api: Client, admin: dict[str, str], academy: dict[str, Any], value: Any
) -> None:
    """Given an academy, when its late tolerance is patched with false, true, "5" or null, then
    422 and the academy is as it was."""
    path = f"/academies/{academy['id']}"
    response = api.http.patch(path, headers=admin, body=json.dumps({"late_tolerance_minutes": value}))
    assert response.status_code == 422, response.body
    assert error_of(response)["code"] == "validation_error"
    assert json.loads(api.http.get(path, headers=admin).body) == academy


@pytest.mark.parametrize("credits", [True, "5", 5.0, 5.5])
def test_int_field_takes_only_an_int(api: Client, admin: dict[str, str], credits: Any) -> None:
    """Given class credits to grant, when ``credits`` is a bool, a string or a float, then 422
    and no wallet or ledger entry is written."""
    before = world()
    student = f"student-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"credits": credits, "reference": f"ref-{uuid.uuid4().hex[:8]}"})
    response = api.http.post(f"/class-credits/{student}/grants", headers=admin, body=body)
    assert response.status_code == 422, response.body
    assert error_of(response)["details"][0]["field"] == "credits"
    assert world() == before


def test_a_real_int_and_a_whole_float_for_a_float_field_are_accepted(
    api: Client, admin: dict[str, str], academy: dict[str, Any]
) -> None:
    path = f"/academies/{academy['id']}"
    response = api.http.patch(path, headers=admin, body=json.dumps({"late_tolerance_minutes": 7}))
    assert response.status_code == 200 and json.loads(response.body)["late_tolerance_minutes"] == 7


# --- query strings ----------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "limit=101", "unread=maybe"])
def test_invalid_query_is_400_with_the_field(api: Client, token: Callable[..., str], query: str) -> None:
    response = api.http.get(f"/me/notifications?{query}", headers=bearer(token("u", "patient")))
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_query" and error["details"][0]["field"] == query.split("=")[0]


# --- OpenAPI ----------------------------------------------------------------------------------


@pytest.fixture
def document(api: Client) -> dict[str, Any]:
    response = api.http.get("/openapi.json")
    assert response.status_code == 200
    return json.loads(response.body)


def test_openapi_document_validates(document: dict[str, Any]) -> None:
    """Given /openapi.json, openapi-spec-validator finds it a valid OpenAPI 3.1 document."""
    validate(document)


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    refs = set(re.findall(r'"\$ref": "([^"]+)"', json.dumps(document)))
    assert refs, "the document has references"
    for ref in refs:
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, f"dangling $ref {ref}"
            node = node[part]


def test_errors_and_query_parameters_are_documented(document: dict[str, Any]) -> None:
    """Every error status a route declares or implies is there with the Error schema; query
    parameters are parameters."""
    error = {"$ref": "#/components/schemas/Error"}
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            statuses = set(op["responses"])
            if "{" in path:
                assert "404" in statuses, f"{method} {path}"
            if "security" in op:
                assert "401" in statuses, f"{method} {path}"
            if "requestBody" in op:
                assert {"400", "422"} <= statuses, f"{method} {path}"
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"] == error
    inbox = document["paths"]["/me/notifications"]["get"]
    params = {p["name"]: p for p in inbox["parameters"]}
    assert set(params) == {"limit", "before", "unread"} and params["limit"]["in"] == "query"
    assert params["limit"]["schema"]["maximum"] == 100
    assert "409" in document["paths"]["/appointments"]["post"]["responses"]


# --- the reference and the index ---------------------------------------------------------------


def test_docs_serve_swagger_ui_from_local_assets_only(api: Client) -> None:
    """Given /docs, the page is HTML whose every script and stylesheet is one of ours, each served."""
    response = api.http.get("/docs")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    page = response.body.decode() if isinstance(response.body, bytes) else response.body
    assert "SwaggerUIBundle" in page and '"/openapi.json"' in page
    assets = [a for a in re.findall(r'(?:src|href)="([^"]+)"', page) if a != "data:,"]  # no favicon
    assert len(assets) == 3
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset
        served = api.http.get(asset)
        assert served.status_code == 200, asset
        assert served.headers["Content-Type"].startswith(("text/javascript", "text/css"))
        assert len(served.body) > 10_000
    assert "http://" not in page and "https://" not in page
    assert api.http.get("/docs/..%2Fcore.py").status_code == 404


def test_root_is_an_index_not_a_403(api: Client) -> None:
    response = api.http.get("/")
    assert response.status_code == 200
    assert json.loads(response.body)["docs"] == "/docs"
