"""Calls on moto with a frozen clock: the 90 s connection timeout, and metering once connected
by the same engine as text sessions."""

from __future__ import annotations

from chalicelib.consult import models
from tests.integration.consult.conftest import fire_due, inbox


def start(users, kind: str = "voice") -> str:
    status, body = users["patient"]("POST", "/calls", {"doctor_id": users["doctor"].sub, "kind": kind})
    assert status == 201, body
    assert body["status"] == "connecting"
    return body["id"]


def test_a_call_needs_a_credit_of_its_kind(users, credits) -> None:
    credits(3, "text")
    status, body = users["patient"]("POST", "/calls", {"doctor_id": users["doctor"].sub, "kind": "video"})
    assert status == 402 and "video call" in body["error"]["message"]
    status, body = users["patient"]("POST", "/calls", {"doctor_id": users["doctor"].sub, "kind": "fax"})
    assert status == 422


def test_call_connected_at_89_s_is_never_failed(users, credits, clock) -> None:
    """Given a call connecting, when it connects at 89 s, the 90 s timeout does nothing."""
    credits(2, "voice")
    cid = start(users)
    clock.advance(89)
    status, body = users["doctor"]("POST", f"/calls/{cid}/connected")
    assert status == 200 and body["status"] == "connected"
    clock.advance(1)
    fire_due()
    call = models.get_session(cid)
    assert call.status == "connected" and call.failure_reason is None
    assert not [n for n in inbox(users["patient"]) if n["type"] == "CallFailed"]


def test_call_not_connected_by_90_s_fails_once_without_charge(users, credits, clock) -> None:
    """Given a call connecting, at 89 s nothing happens; at 90 s it fails with the reason, no
    credit moves, the patient is notified once, and a late connect is refused (409)."""
    credits(2, "video")
    cid = start(users, "video")
    clock.advance(89)
    fire_due()
    assert models.get_session(cid).status == "connecting"
    clock.advance(1)
    fire_due()
    fire_due()
    status, body = users["patient"]("GET", f"/calls/{cid}")
    assert (body["status"], body["failure_reason"]) == ("failed", "Connection timeout after 90 seconds")
    assert body["ended_at"] is not None and body["intervals_billed"] == 0
    assert models.get_subscription(users["patient"].sub).video_calls_remaining == 2
    assert models.ledger_of_session(cid) == []
    failed = [n for n in inbox(users["patient"]) if n["type"] == "CallFailed"]
    assert len(failed) == 1 and "could not be connected" in failed[0]["message"]
    status, body = users["doctor"]("POST", f"/calls/{cid}/connected")
    assert status == 409


def test_a_late_connect_fails_the_call_itself(users, credits, clock) -> None:
    """Given a call whose timeout timer has not run yet, a connect after 90 s fails it (409)."""
    credits(1, "voice")
    cid = start(users)
    clock.advance(95)
    status, body = users["doctor"]("POST", f"/calls/{cid}/connected")
    assert status == 409 and body["error"]["code"] == "call_timed_out"
    assert models.get_session(cid).status == "failed"


def test_connected_call_is_metered_like_a_text_session(users, credits, clock) -> None:
    """Given a connected voice call with 3 credits, ticks bill voice credits from connected_at;
    hanging up mid-interval bills the interval in progress once."""
    credits(3, "voice")
    credits(3, "text")
    cid = start(users)
    clock.advance(10)
    users["patient"]("POST", f"/calls/{cid}/connected")
    clock.advance(600)
    fire_due()
    assert int(models.get_session(cid).billed) == 1
    clock.advance(200)
    status, body = users["patient"]("POST", f"/calls/{cid}/end")
    assert (status, body["status"], body["ended_reason"], body["intervals_billed"]) == (
        200,
        "ended",
        "manual",
        2,
    )
    subscription = models.get_subscription(users["patient"].sub)
    assert (subscription.voice_calls_remaining, subscription.text_sessions_remaining) == (1, 3)
    assert users["doctor"]("GET", "/me/consult/wallet")[1]["balance"] == 2000


def test_hanging_up_before_connecting_is_free(users, credits, clock) -> None:
    credits(1, "voice")
    cid = start(users)
    clock.advance(30)
    status, body = users["patient"]("POST", f"/calls/{cid}/end")
    assert (status, body["status"], body["ended_reason"]) == (200, "ended", "not_connected")
    clock.advance(60)
    fire_due()
    assert models.get_session(cid).status == "ended"
    assert models.get_subscription(users["patient"].sub).voice_calls_remaining == 1


def test_only_the_parties_touch_a_call(users, credits) -> None:
    credits(1, "voice")
    cid = start(users)
    assert users["stranger"]("POST", f"/calls/{cid}/connected")[0] == 403
    assert users["other_doctor"]("POST", f"/calls/{cid}/end")[0] == 403
    assert users["patient"]("GET", "/calls/call_unknown")[0] == 404
    assert users["patient"]("GET", f"/text-sessions/{cid}")[0] == 404  # a call is not a text session
    assert models.get_session(cid).status == "connecting"
