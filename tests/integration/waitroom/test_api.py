"""The waiting room over HTTP (chalice test client on in-process moto): events, joins, status,
checkout tokens with the JWKS, complete, revoke, priority, stats and health."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from chalice.test import Client

from chalicelib.core import timers
from chalicelib.waitroom import models, service, tokens
from tests.integration.conftest import bearer
from tests.integration.waitroom.conftest import bus_events, fire_due_timers
from tests.support.ids import unique

pytestmark = pytest.mark.usefixtures("ring")


def body(response) -> Any:
    return json.loads(response.body)


def post(api: Client, path: str, token: str | None = None, payload: Any = None):
    headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
    return api.http.post(path, headers=headers, body=json.dumps(payload) if payload is not None else None)


@pytest.fixture
def admin(token) -> str:
    return token("admin-1", "admin")


@pytest.fixture
def sale(api: Client, admin: str) -> dict:
    """Given an active event with a cap of 2."""
    response = post(
        api,
        "/waitroom/events",
        admin,
        {"id": unique("sale"), "name": "Sale", "max_concurrent": 2, "status": "active"},
    )
    assert response.status_code == 201, response.body
    return body(response)


def join(api: Client, token, sale: dict, user: str) -> dict:
    response = post(api, f"/waitroom/events/{sale['id']}/join", token(user))
    assert response.status_code == 200, response.body
    return body(response)


def test_event_defaults_are_the_spec_numbers(api: Client, admin: str) -> None:
    """Given an event created with only id and name, it has cap 100, batch 10, 15 min checkout, 2 h TTL."""
    created = body(post(api, "/waitroom/events", admin, {"id": "defaults", "name": "D"}))
    assert (created["max_concurrent"], created["batch_size"]) == (100, 10)
    assert (created["checkout_minutes"], created["session_ttl_minutes"], created["status"]) == (
        15,
        120,
        "draft",
    )


BAD_EVENTS = [
    {"id": "Bad Id!", "name": "x"},
    {"id": "ok-id", "name": "x", "max_concurrent": 0},
    {"id": "ok-id", "name": "x", "batch_size": 51},
    {"id": "ok-id", "name": "x", "checkout_minutes": 30, "session_ttl_minutes": 10},
    {"id": "ok-id", "name": "x", "surprise": 1},
    {"id": "ok-id", "name": "x", "status": "closed"},
    {"id": "ok-id"},
]


def test_bad_event_input_is_a_clear_4xx_and_writes_nothing(api: Client, admin: str) -> None:
    """Given invalid event bodies, each is refused with 422 and the fields at fault; no event exists."""
    for payload in BAD_EVENTS:
        response = post(api, "/waitroom/events", admin, payload)
        error = body(response)["error"]
        assert response.status_code == 422 and error["code"] == "validation_error", payload
        assert error["details"], payload
    assert models.events.get_event("ok-id") is None


def test_event_admin_rules(api: Client, admin: str, token, sale: dict) -> None:
    """Given an event: only admins create it, ids are unique, closed is final, malformed JSON is a 400."""
    assert post(api, "/waitroom/events", token("u1"), {"id": "x-1", "name": "x"}).status_code == 403
    again = post(api, "/waitroom/events", admin, {"id": sale["id"], "name": "again"})
    assert body(again)["error"]["code"] == "event_exists"
    bad_json = api.http.post("/waitroom/events", headers={**bearer(admin)}, body="{nope")
    assert bad_json.status_code == 400
    assert body(post(api, f"/waitroom/events/{sale['id']}/close", admin))["status"] == "closed"
    reopened = post(api, f"/waitroom/events/{sale['id']}/activate", admin)
    assert reopened.status_code == 409 and body(reopened)["error"]["code"] == "invalid_transition"
    patch = api.http.patch(
        f"/waitroom/events/{sale['id']}", headers={**bearer(admin)}, body=json.dumps({"max_concurrent": 5})
    )
    assert patch.status_code == 409 and body(patch)["error"]["code"] == "event_closed"


def test_join_is_idempotent_and_refused_when_not_active(api: Client, admin: str, token, sale: dict) -> None:
    """Given a user who joins twice, the same session comes back; once paused, new joins are refused."""
    first, again = join(api, token, sale, "u1"), join(api, token, sale, "u1")
    assert first["id"] == again["id"] and len(models.sessions.queue_sessions(sale["id"])) == 1
    post(api, f"/waitroom/events/{sale['id']}/pause", admin)
    refused = post(api, f"/waitroom/events/{sale['id']}/join", token("u2"))
    assert refused.status_code == 409 and body(refused)["error"]["code"] == "event_not_active"
    assert post(api, "/waitroom/events/nope/join", token("u2")).status_code == 404


def test_status_gives_position_people_ahead_and_only_to_its_owner(api: Client, token, sale: dict) -> None:
    """Given 5 users and a cap of 2, the 3rd to 5th are queued with 0, 1 and 2 people ahead."""
    sessions = [join(api, token, sale, f"u{i}") for i in range(5)]
    assert [s["status"] for s in sessions] == ["admitted", "admitted", "queued", "queued", "queued"]
    fifth = body(api.http.get(f"/waitroom/sessions/{sessions[4]['id']}", headers=bearer(token("u4"))))
    assert (fifth["position"], fifth["people_ahead"], fifth["poll_after_seconds"] > 0) == (3, 2, True)
    assert fifth["checkout_token"] is None
    assert (
        api.http.get(f"/waitroom/sessions/{sessions[4]['id']}", headers=bearer(token("u0"))).status_code
        == 403
    )
    unknown = api.http.get(f"/waitroom/sessions/{sale['id']}.n99", headers=bearer(token("u0")))
    assert unknown.status_code == 404
    assert api.http.get("/waitroom/sessions/garbage", headers=bearer(token("u0"))).status_code == 404


def test_token_verifies_with_the_published_jwks_and_repeats_identically(
    api: Client, token, sale: dict
) -> None:
    """Given an admitted user, the token in their status verifies offline with the JWKS and is stable."""
    session = join(api, token, sale, "u1")
    again = body(api.http.get(f"/waitroom/sessions/{session['id']}", headers=bearer(token("u1"))))
    assert again["checkout_token"] == session["checkout_token"] and again["checkout_url"]
    jwks = api.http.get("/waitroom/.well-known/jwks.json")
    assert jwks.status_code == 200 and "max-age" in jwks.headers["Cache-Control"]
    keyset = jwt.PyJWKSet.from_dict(body(jwks))
    kid = jwt.get_unverified_header(session["checkout_token"])["kid"]
    key = next(k for k in keyset.keys if k.key_id == kid)
    claims = jwt.decode(session["checkout_token"], key.key, algorithms=["RS256"], audience=sale["id"])
    assert (claims["sub"], claims["uid"], claims["queue_position"]) == (session["id"], "u1", 1)
    assert {"iss", "iat", "nbf", "exp", "jti"} <= set(claims)
    assert all("d" not in k for k in body(jwks)["keys"])  # public halves only


def test_complete_frees_the_slot_at_once_and_is_idempotent(api: Client, token, sale: dict) -> None:
    """Given a full event and a queued third user, when the first completes, the third is admitted."""
    first, _, third = (join(api, token, sale, f"u{i}") for i in range(3))
    assert third["status"] == "queued"
    done = post(api, f"/waitroom/sessions/{first['id']}/complete", None, {"token": first["checkout_token"]})
    assert done.status_code == 200 and body(done)["status"] == "completed"
    status = body(api.http.get(f"/waitroom/sessions/{third['id']}", headers=bearer(token("u2"))))
    assert status["status"] == "admitted" and status["checkout_token"]
    repeat = post(api, f"/waitroom/sessions/{first['id']}/complete", None, {"token": first["checkout_token"]})
    assert repeat.status_code == 200
    event = models.events.get_event(sale["id"])
    assert (event.processing, event.completed, event.admitted) == (2, 1, 3)


def tampered(value: str) -> str:
    head, payload, signature = value.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["uid"] = "someone-else"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{head}.{forged}.{signature}"


def test_complete_refuses_bad_tokens_and_changes_nothing(api: Client, token, admin: str, sale: dict) -> None:
    """Given an admitted session, tampered, wrong-audience, HS256 and other-session tokens are refused."""
    mine, other = join(api, token, sale, "u1"), join(api, token, sale, "u2")
    ring = tokens.keys.ring()
    wrong_aud = tokens.sign(
        {**jwt.decode(mine["checkout_token"], options={"verify_signature": False}), "aud": "x"}
    )
    hs = jwt.encode({"sub": mine["id"]}, "x" * 32, algorithm="HS256", headers={"kid": ring.active["kid"]})
    for bad, code in (
        (tampered(mine["checkout_token"]), "invalid_token"),
        (wrong_aud, "invalid_token"),
        (hs, "invalid_token"),
        (other["checkout_token"], "invalid_token"),
        ("not.a.token", "invalid_token"),
    ):
        response = post(api, f"/waitroom/sessions/{mine['id']}/complete", None, {"token": bad})
        assert response.status_code == 401 and body(response)["error"]["code"] == code, bad
    assert post(api, f"/waitroom/sessions/{mine['id']}/complete", None, {}).status_code == 422
    assert models.events.get_event(sale["id"]).completed == 0


def test_expired_token_is_refused_and_the_timer_frees_the_slot(api: Client, token, sale: dict, clock) -> None:
    """Given a checkout not completed in 15 minutes, its timer expires it, the next is admitted, and the
    late token is refused."""
    first, _, third = (join(api, token, sale, f"u{i}") for i in range(3))
    third_user = token("u2")  # minted now: access tokens are checked on the wall clock
    for _ in range(9):  # the third keeps polling (heartbeat) while the checkouts run out
        clock.advance(100)
        api.http.get(f"/waitroom/sessions/{third['id']}", headers=bearer(third_user))
    clock.advance(15 * 60 + 1 - 900)
    assert fire_due_timers(clock) == 2
    late = post(api, f"/waitroom/sessions/{first['id']}/complete", None, {"token": first["checkout_token"]})
    assert late.status_code == 401 and body(late)["error"]["code"] == "token_expired"
    status = body(api.http.get(f"/waitroom/sessions/{third['id']}", headers=bearer(third_user)))
    assert status["status"] == "admitted"
    event = models.events.get_event(sale["id"])
    assert (event.expired, event.processing) == (2, 1)


def test_revoked_token_is_refused_and_its_slot_freed(api: Client, token, admin: str, sale: dict) -> None:
    """Given an admitted session revoked by an admin, complete refuses its token; the next is admitted."""
    first, _, third = (join(api, token, sale, f"u{i}") for i in range(3))
    assert post(api, f"/waitroom/sessions/{first['id']}/revoke", token("u1")).status_code == 403
    revoked = post(api, f"/waitroom/sessions/{first['id']}/revoke", admin)
    assert revoked.status_code == 200 and body(revoked)["status"] == "revoked"
    refused = post(
        api, f"/waitroom/sessions/{first['id']}/complete", None, {"token": first["checkout_token"]}
    )
    assert refused.status_code == 401 and body(refused)["error"]["code"] == "token_revoked"
    assert (
        body(api.http.get(f"/waitroom/sessions/{third['id']}", headers=bearer(admin)))["status"] == "admitted"
    )
    again = post(api, f"/waitroom/sessions/{first['id']}/revoke", admin)
    assert again.status_code == 409 and body(again)["error"]["code"] == "not_revocable"


def test_priority_lane_goes_first(api: Client, token, admin: str, sale: dict) -> None:
    """Given a full event with two normal users queued, a VIP joined later is admitted before them."""
    admitted = [join(api, token, sale, f"u{i}") for i in range(2)]
    normal = [join(api, token, sale, f"n{i}") for i in range(2)]
    vip = body(post(api, f"/waitroom/events/{sale['id']}/priority", admin, {"user_id": "vip-1"}))
    assert vip["lane"] == "v" and vip["people_ahead"] == 0
    queued = body(api.http.get(f"/waitroom/sessions/{normal[0]['id']}", headers=bearer(token("n0"))))
    assert queued["people_ahead"] == 1  # the VIP
    post(
        api,
        f"/waitroom/sessions/{admitted[0]['id']}/complete",
        None,
        {"token": admitted[0]["checkout_token"]},
    )
    assert (
        body(api.http.get(f"/waitroom/sessions/{vip['id']}", headers=bearer(admin)))["status"] == "admitted"
    )
    assert (
        body(api.http.get(f"/waitroom/sessions/{normal[0]['id']}", headers=bearer(admin)))["status"]
        == "queued"
    )
    refused = post(api, f"/waitroom/events/{sale['id']}/priority", token("n0"), {"user_id": "x"})
    assert refused.status_code == 403


def test_abandoned_places_do_not_stall_the_queue(api: Client, token, sale: dict, clock) -> None:
    """Given queued users of whom the first two stop polling for over 2 minutes, when a slot frees,
    the silent ones are skipped as abandoned and the next live one is admitted."""
    first, _ = join(api, token, sale, "a"), join(api, token, sale, "b")
    silent = [join(api, token, sale, f"s{i}") for i in range(2)]
    live, live_user = join(api, token, sale, "live"), token("live")  # minted before the clock moves
    clock.advance(100)
    api.http.get(f"/waitroom/sessions/{live['id']}", headers=bearer(live_user))  # heartbeat
    clock.advance(30)
    post(api, f"/waitroom/sessions/{first['id']}/complete", None, {"token": first["checkout_token"]})
    status = body(api.http.get(f"/waitroom/sessions/{live['id']}", headers=bearer(live_user)))
    assert status["status"] == "admitted"
    statuses = {models.sessions.get_session(sale["id"], "n", s["ticket"]).status for s in silent}
    assert statuses == {"abandoned"} and models.events.get_event(sale["id"]).abandoned == 2


def test_queue_ready_lands_on_the_bus_for_the_users_inbox(api: Client, token, sale: dict) -> None:
    """Given an admission, a QueueReady event names the user as recipient and carries no token."""
    session = join(api, token, sale, "u1")
    ready = [d for d in bus_events("QueueReady") if d["session_id"] == session["id"]]
    assert len(ready) == 1 and ready[0]["recipients"] == ["u1"] and ready[0]["event_id"] == sale["id"]
    assert "checkout_expires_at" in ready[0] and "token" not in json.dumps(ready[0])


def test_stats_and_health(api: Client, token, admin: str, sale: dict) -> None:
    """Given 3 joins at cap 2, stats count them; health reports the key and one active event."""
    for i in range(3):
        join(api, token, sale, f"u{i}")
    stats = body(api.http.get(f"/waitroom/events/{sale['id']}/stats", headers=bearer(admin)))
    assert (stats["queued"], stats["processing"], stats["admitted"], stats["errors"]) == (1, 2, 2, 0)
    assert stats["last_admission_at"] and stats["admission_rate_per_minute"] > 0
    stranger = api.http.get(f"/waitroom/events/{sale['id']}/stats", headers=bearer(token("u1")))
    assert stranger.status_code == 403
    health = body(api.http.get("/waitroom/health"))
    assert health["status"] == "ok" and health["signing_kid"]
    assert health["active_events"] >= 1  # this test's event, and any other test's on the shared stack


def test_raising_the_cap_admits_at_once(api: Client, token, admin: str, sale: dict) -> None:
    """Given 5 joined at cap 2, when the cap becomes 4, two more are admitted in order."""
    sessions = [join(api, token, sale, f"u{i}") for i in range(5)]
    patch = api.http.patch(
        f"/waitroom/events/{sale['id']}", headers=bearer(admin), body=json.dumps({"max_concurrent": 4})
    )
    assert patch.status_code == 200 and body(patch)["processing"] == 4
    assert models.sessions.get_session(sale["id"], "n", sessions[3]["ticket"]).admission_no == 4
    bad = api.http.patch(f"/waitroom/events/{sale['id']}", headers=bearer(admin), body=json.dumps({}))
    assert bad.status_code == 422


def test_key_rotation_keeps_old_tokens_verifiable(api: Client, token, sale: dict) -> None:
    """Given a token signed before a rotation, it still completes; new tokens carry the new kid."""
    old = join(api, token, sale, "u1")
    ring = tokens.rotate()
    kids = [k["kid"] for k in body(api.http.get("/waitroom/.well-known/jwks.json"))["keys"]]
    assert len(kids) == 2 and ring.active["kid"] == kids[-1]
    new = join(api, token, sale, "u2")
    assert jwt.get_unverified_header(new["checkout_token"])["kid"] == ring.active["kid"]
    done = post(api, f"/waitroom/sessions/{old['id']}/complete", None, {"token": old["checkout_token"]})
    assert done.status_code == 200


def test_backstop_expires_a_checkout_whose_timer_was_lost_and_admits_the_next(
    api: Client, token, sale: dict, clock
) -> None:
    """Given an admitted session whose expiry timer is gone and a queued user still polling, when the
    per-minute backstop runs after the window, it expires the checkout and admits the queued user."""
    first, _, third = (join(api, token, sale, f"u{i}") for i in range(3))
    third_user = token("u2")
    assert timers.cancel(service.CHECKOUT_TIMER, first["id"])
    for _ in range(9):
        clock.advance(110)
        api.http.get(f"/waitroom/sessions/{third['id']}", headers=bearer(third_user))
    result = service.backstop()
    assert result["expired"] >= 1 and result["failed"] == 0
    assert models.sessions.get_session(sale["id"], "n", first["ticket"]).status == "expired"
    assert body(api.http.get(f"/waitroom/sessions/{third['id']}", headers=bearer(third_user)))["status"] == (
        "admitted"
    )


def test_a_poll_racing_the_admitter_keeps_the_user_and_the_round_is_retried(
    api: Client, token, sale: dict, clock, monkeypatch
) -> None:
    """Given a user silent for 2+ minutes at the front, when they poll just after the admitter read
    them as abandoned, the round is cancelled (nothing written) and retried: they are admitted."""
    first, _ = join(api, token, sale, "a"), join(api, token, sale, "b")
    late = join(api, token, sale, "late")
    clock.advance(130)
    real_plan = service.admission._plan

    def plan_then_poll(event, line, counts, want):
        plan, sessions = real_plan(event, line, counts, want)
        if plan.abandon:  # the user polls between the admitter's read and its write
            models.sessions.heartbeat(models.sessions.get_session(sale["id"], "n", late["ticket"]), clock.t)
        return plan, sessions

    monkeypatch.setattr(service.admission, "_plan", plan_then_poll)
    service.complete(first["id"], first["checkout_token"])
    session = models.sessions.get_session(sale["id"], "n", late["ticket"])
    assert session.status == "admitted" and models.events.get_event(sale["id"]).abandoned == 0
