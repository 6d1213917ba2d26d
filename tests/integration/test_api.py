"""The HTTP edge on chalice's test client: auth (401 vs 403), errors as JSON, health, OpenAPI."""

from __future__ import annotations

import hashlib
import hmac
import json

import jwt
import pytest
from chalice.test import Client
from cryptography.hazmat.primitives import serialization

from chalicelib.core import auth
from tests.integration.conftest import KID, bearer


def error_of(response) -> dict:
    body = json.loads(response.body)
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    return body["error"]


def claims(**overrides: object) -> dict:
    """The claims of a valid admin token, with some replaced."""
    return {
        "sub": "u",
        "roles": ["admin"],
        "iss": "muda-test",
        "aud": "muda",
        "iat": 1,
        "exp": 2**31,
        **overrides,
    }


def signed(private_pem: str, **overrides: object) -> str:
    return jwt.encode(claims(**overrides), private_pem, algorithm="RS256", headers={"kid": KID})


def test_valid_token_is_accepted(api: Client, token) -> None:
    """Given a valid token, /me returns its subject and roles."""
    response = api.http.get("/me", headers=bearer(token("doc-1", "doctor")))
    assert response.status_code == 200
    assert json.loads(response.body) == {"sub": "doc-1", "roles": ["doctor"]}


def test_cognito_groups_are_roles(api: Client, signing_key: str) -> None:
    """Given a Cognito-style token with cognito:groups, those are the caller's roles."""
    value = jwt.encode(
        {k: v for k, v in claims(**{"cognito:groups": ["admin"]}).items() if k != "roles"},
        signing_key,
        algorithm="RS256",
        headers={"kid": KID},
    )
    assert api.http.get("/admin/queues", headers=bearer(value)).status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer not-a-jwt"])
def test_missing_or_malformed_token_is_401(api: Client, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = api.http.get("/me", headers=headers)
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"


def test_expired_token_is_401(api: Client, token) -> None:
    response = api.http.get("/me", headers=bearer(token("u", "patient", ttl=-10)))
    assert response.status_code == 401 and error_of(response)["code"] == "token_expired"


def test_wrong_audience_is_401(api: Client, signing_key: str) -> None:
    assert api.http.get("/me", headers=bearer(signed(signing_key, aud="someone-else"))).status_code == 401


def test_wrong_issuer_is_401(api: Client, signing_key: str) -> None:
    assert api.http.get("/me", headers=bearer(signed(signing_key, iss="evil"))).status_code == 401


def test_token_without_expiry_is_401(api: Client, signing_key: str) -> None:
    value = jwt.encode(
        {k: v for k, v in claims().items() if k != "exp"},
        signing_key,
        algorithm="RS256",
        headers={"kid": KID},
    )
    assert api.http.get("/me", headers=bearer(value)).status_code == 401


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": str(2**31)},
        {"nbf": "1"},
        {"iat": "1"},
        {"exp": True},
        {"exp": [2**31]},
        {"exp": float("inf")},
        {"exp": float("nan")},
        {"roles": "admin", "sub": 5},
        {"roles": [["admin"]]},
        {"roles": 5},
    ],
)
def test_correctly_signed_token_with_claims_of_the_wrong_type_is_401(
    api: Client, signing_key: str, overrides: dict
) -> None:
    """Given a token signed by our key whose ``exp``/``nbf``/``iat`` is not a number (PyJWT would
    turn ``"2147483648"`` into an int), or whose ``sub``/``roles`` are not what we issue, then 401,
    never 200 and never 500."""
    response = api.http.get("/me", headers=bearer(signed(signing_key, **overrides)))
    assert response.status_code == 401, response.body
    assert error_of(response)["code"] in ("unauthorized", "token_expired")  # exp: true is 1970


def test_token_header_nested_past_any_parser_is_401_not_500(api: Client) -> None:
    header = jwt.utils.base64url_encode(("[" * 50_000 + "]" * 50_000).encode()).decode()
    response = api.http.get("/me", headers=bearer(f"{header}.e30.c2ln"))
    assert response.status_code == 401


def test_public_route_has_no_user(api: Client) -> None:
    """``Call.user`` on a route without auth is a 401, never ``None``."""
    from chalicelib.core.errors import Unauthorized
    from chalicelib.core.http import Call

    with pytest.raises(Unauthorized):
        Call(None, None, {}, {}).user  # noqa: B018


def test_hs256_signed_with_the_public_key_is_401(api: Client, signing_key: str) -> None:
    """Given the algorithm-confusion attack (HS256 keyed with the public key's PEM), it is refused."""
    public_pem = (
        serialization.load_pem_private_key(signing_key.encode(), None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    def b64(data: bytes) -> bytes:
        return jwt.utils.base64url_encode(data)

    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
        + b"."
        + b64(json.dumps(claims()).encode())
    )
    mac = hmac.new(public_pem, signing_input, hashlib.sha256).digest()  # PyJWT refuses to make one
    value = (signing_input + b"." + b64(mac)).decode()
    assert api.http.get("/me", headers=bearer(value)).status_code == 401


def test_alg_none_is_401(api: Client) -> None:
    value = jwt.encode(claims(), None, algorithm="none", headers={"kid": KID})
    assert api.http.get("/me", headers=bearer(value)).status_code == 401


def test_tampered_token_is_401(api: Client, token) -> None:
    """Given a valid token whose payload is swapped for an admin one, the signature fails."""
    header, _, signature = token("u", "patient").split(".")
    forged = jwt.utils.base64url_encode(json.dumps(claims()).encode()).decode()
    response = api.http.get("/admin/queues", headers=bearer(f"{header}.{forged}.{signature}"))
    assert response.status_code == 401


def test_unknown_key_is_401(api: Client, signing_key: str) -> None:
    other_pem, _ = auth.generate_key_pair("other")
    value = auth.mint(other_pem, "other", "u", ["admin"])
    assert api.http.get("/me", headers=bearer(value)).status_code == 401


def test_wrong_role_is_403(api: Client, token) -> None:
    """Given a patient's valid token, an admin route answers 403, not 401."""
    response = api.http.get("/admin/queues", headers=bearer(token("u", "patient")))
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"


def test_malformed_json_is_400_and_invalid_body_422(api: Client, token) -> None:
    headers = {**bearer(token("a", "admin")), "Content-Type": "application/json"}
    response = api.http.post("/admin/failed/retry", headers=headers, body="{not json")
    assert response.status_code == 400 and error_of(response)["code"] == "malformed_json"
    response = api.http.post("/admin/failed/retry", headers=headers, body=json.dumps({"all": False}))
    assert response.status_code == 422 and error_of(response)["code"] == "validation_error"


def test_unknown_dead_letter_is_404(api: Client, token) -> None:
    headers = {**bearer(token("a", "admin")), "Content-Type": "application/json"}
    response = api.http.post("/admin/failed/retry", headers=headers, body=json.dumps({"message_id": "nope"}))
    assert response.status_code == 404


def test_bad_query_is_400(api: Client, token) -> None:
    response = api.http.get("/admin/events?limit=abc", headers=bearer(token("a", "admin")))
    assert response.status_code == 400 and error_of(response)["code"] == "invalid_query"


@pytest.mark.usefixtures("fresh_stack")  # any test's message left on a shared queue ages into "degraded"
def health_of(api: Client) -> tuple[int, dict]:
    response = api.http.get("/health")
    return response.status_code, json.loads(response.body)


def test_health_is_ok_with_fresh_heartbeats(api: Client, clock) -> None:
    """Given the event runtime and the sweeper just beat, /health answers 200 ok without a token,
    with a check per table, queue and heartbeat."""
    from chalicelib.core import health

    health.beat(health.RUNTIME)
    health.beat(health.SWEEPER, rounds=1)

    status, body = health_of(api)

    assert status == 200 and body["status"] == "ok", body["checks"]
    assert {k.split(":")[0] for k in body["checks"]} == {"table", "queue", "heartbeat"}
    assert {b["status"] for b in body["heartbeats"].values()} == {"alive"}
    assert body["heartbeats"]["sweeper"]["info"]["rounds"] == 1


def test_health_is_degraded_when_the_runtime_stops_beating(api: Client, clock) -> None:
    """Given both heartbeats, when the runtime's is older than its stale age (the sweeper's is
    not), /health answers 503 degraded and names the runtime stale."""
    from chalicelib.core import health
    from chalicelib.core.config import get_settings

    health.beat(health.RUNTIME)
    health.beat(health.SWEEPER)
    clock.advance(get_settings().health_runtime_stale_seconds + 1)
    health.beat(health.SWEEPER)

    status, body = health_of(api)

    assert status == 503 and body["status"] == "degraded"
    assert body["checks"]["heartbeat:runtime"] == "stale" and body["checks"]["heartbeat:sweeper"] == "ok"
    assert body["heartbeats"]["runtime"]["age_seconds"] > body["heartbeats"]["runtime"]["stale_after_seconds"]


def test_health_is_degraded_when_a_queue_waits_too_long(api: Client, clock, monkeypatch) -> None:
    """Given live heartbeats but a queue whose oldest message waited past the stale age (as
    CloudWatch reports it on AWS), /health answers 503 naming the queue."""
    from chalicelib.core import health
    from chalicelib.core.config import get_settings

    queue = get_settings().timers_queue
    stale = get_settings().health_queue_stale_seconds + 5
    monkeypatch.setattr(
        health, "_cloudwatch_ages", lambda queues: {queue: {"oldest_age_seconds": stale, "visible": None}}
    )
    health.beat(health.RUNTIME)
    health.beat(health.SWEEPER)

    status, body = health_of(api)

    assert status == 503 and body["checks"][f"queue-age:{queue}"].startswith("stale")
    assert body["queues"][queue]["status"] == "stale" and body["queues"][queue]["source"] == "cloudwatch"


def test_openapi_documents_every_route(api: Client) -> None:
    """Given the app, /openapi.json is OpenAPI 3.1 listing each route with its models and security."""
    from app import app

    doc = json.loads(api.http.get("/openapi.json").body)
    assert doc["openapi"] == "3.1.0"
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    routed = {(path, method) for path, entries in app.routes.items() for method in entries}
    assert routed == documented
    retry = doc["paths"]["/admin/failed/retry"]["post"]
    assert retry["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Redrive"
    }
    assert {"400", "401", "403", "404", "422"} <= set(retry["responses"])
    assert "Redrive" in doc["components"]["schemas"]
    timers = doc["paths"]["/admin/timers"]["get"]
    assert [p["name"] for p in timers["parameters"]] == ["overdue"]


def test_rotated_key_is_picked_up_without_a_restart(api: Client, token, signing_key: str) -> None:
    """Given the JWKS cached with the old key, when a new key is published, its tokens are accepted
    and the old key's tokens still verify while it stays in the set."""
    from chalicelib.core.aws import client
    from chalicelib.core.config import get_settings

    assert api.http.get("/me", headers=bearer(token("u", "patient"))).status_code == 200  # cache warm
    new_pem, new_jwks = auth.generate_key_pair("test-key-2")
    old_jwks = json.loads(
        client("ssm").get_parameter(Name=get_settings().auth_jwks_parameter)["Parameter"]["Value"]
    )
    client("ssm").put_parameter(
        Name=get_settings().auth_jwks_parameter,
        Value=json.dumps({"keys": old_jwks["keys"] + new_jwks["keys"]}),
        Type="String",
        Overwrite=True,
    )

    rotated = auth.mint(new_pem, "test-key-2", "u", ["patient"])
    assert api.http.get("/me", headers=bearer(rotated)).status_code == 200
    assert api.http.get("/me", headers=bearer(token("u", "patient"))).status_code == 200
