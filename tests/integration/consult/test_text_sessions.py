"""Text sessions over the API on moto, time driven by hand: credits, activation, messages,
interval billing on time, auto-end (credits, idle, unanswered), manual end, and bad input."""

from __future__ import annotations

import pytest

from chalicelib.consult import models
from tests.integration.consult.conftest import fire_due, inbox

INTERVAL = 600


def open_session(users, doctor: str | None = None) -> str:
    doctor = doctor or users["doctor"].sub
    status, body = users["patient"]("POST", "/text-sessions", {"doctor_id": doctor})
    assert status == 201, body
    return body["id"]


def activate(users, sid: str) -> dict:
    status, body = users["doctor"](
        "POST", f"/text-sessions/{sid}/messages", {"body": "Hello, how can I help?"}
    )
    assert status == 201, body
    return users["patient"]("GET", f"/text-sessions/{sid}")[1]


def credits_left(users) -> int:
    return users["patient"]("GET", "/me/consult/subscription")[1]["text_sessions_remaining"]


def snapshot(sid: str) -> tuple:
    s = models.get_session(sid)
    sub = models.get_subscription(s.patient_id)
    return (
        s.status,
        int(s.billed),
        sub.text_sessions_remaining if sub else None,
        len(models.ledger_of_session(sid)),
    )


def test_create_needs_a_text_credit(users, credits) -> None:
    """Given no subscription, a session request is 402 with a clear message; with voice credits
    only, still 402; with a text credit, 201 pending."""
    status, body = users["patient"]("POST", "/text-sessions", {"doctor_id": users["doctor"].sub})
    assert status == 402 and body["error"]["code"] == "no_active_subscription"
    credits(2, "voice")
    status, body = users["patient"]("POST", "/text-sessions", {"doctor_id": users["doctor"].sub})
    assert status == 402 and "no text session credits" in body["error"]["message"]
    credits(1)
    status, body = users["patient"]("POST", "/text-sessions", {"doctor_id": users["doctor"].sub})
    assert status == 201 and body["status"] == "pending" and body["intervals_billed"] == 0


def test_only_patients_create_and_only_the_parties_act(users, credits) -> None:
    """Given a session, a doctor cannot create one (403), a stranger or another doctor cannot
    read, write or end it (403), and unknown ids are 404."""
    credits(1)
    assert users["doctor"]("POST", "/text-sessions", {"doctor_id": "doc-9"})[0] == 403
    sid = open_session(users)
    for who in ("stranger", "other_doctor"):
        assert users[who]("GET", f"/text-sessions/{sid}")[0] == 403
        assert users[who]("POST", f"/text-sessions/{sid}/messages", {"body": "hi"})[0] == 403
        assert users[who]("GET", f"/text-sessions/{sid}/messages")[0] == 403
        assert users[who]("POST", f"/text-sessions/{sid}/end")[0] == 403
    assert users["admin"]("GET", f"/text-sessions/{sid}")[0] == 200  # admins see all
    assert users["admin"]("POST", f"/text-sessions/{sid}/end")[0] == 403  # but do not act
    assert users["patient"]("GET", "/text-sessions/ses_nope")[0] == 404
    assert users["patient"]("POST", "/text-sessions/ses_nope/end")[0] == 404
    assert snapshot(sid)[:2] == ("pending", 0)


def test_patient_messages_do_not_activate_the_doctors_first_one_does(users, credits, clock) -> None:
    """Given a pending session, the patient's messages leave it pending; the doctor's first
    message activates it at that instant with tick 1 due one interval later."""
    credits(2)
    sid = open_session(users)
    users["patient"]("POST", f"/text-sessions/{sid}/messages", {"body": "Hi doctor"})
    assert users["patient"]("GET", f"/text-sessions/{sid}")[1]["status"] == "pending"
    clock.advance(7)
    session = activate(users, sid)
    assert session["status"] == "active"
    activated = models.get_session(sid).activated_at
    assert activated == round(clock.t, 3)
    assert session["next_tick_at"] is not None
    _, body = users["doctor"]("GET", f"/text-sessions/{sid}/messages")
    assert [m["sender_role"] for m in body["messages"]] == ["patient", "doctor"]


def test_intervals_bill_on_time_then_the_last_credit_ends_the_session(users, credits, clock) -> None:
    """Given 3 credits and an active session, nothing is billed before activated_at + 10 min;
    tick i bills interval i at activated_at + i·10 min; the tick taking the last credit ends it."""
    credits(3)
    sid = open_session(users)
    activate(users, sid)
    clock.advance(INTERVAL - 1)
    fire_due()
    assert snapshot(sid) == ("active", 0, 3, 0)
    clock.advance(1)
    fire_due()
    assert snapshot(sid) == ("active", 1, 2, 2)
    clock.advance(INTERVAL)
    fire_due()
    assert snapshot(sid) == ("active", 2, 1, 4)
    assert users["patient"]("POST", f"/text-sessions/{sid}/activity")[0] == 200  # not idle
    clock.advance(INTERVAL)
    fire_due()
    final = users["patient"]("GET", f"/text-sessions/{sid}")[1]
    assert (final["status"], final["ended_reason"], final["intervals_billed"]) == (
        "ended",
        "credits_exhausted",
        3,
    )
    assert credits_left(users) == 0
    assert users["doctor"]("GET", "/me/consult/wallet")[1] == {
        "doctor_id": users["doctor"].sub,
        "balance": 1500,
        "credits_earned": 3,
        "currency": "KES",
    }
    ended = [n for n in inbox(users["patient"]) if n["type"] == "SessionEnded"]
    assert len(ended) == 1 and ended[0]["detail"]["session_id"] == sid


def test_manual_end_mid_interval_bills_it_once_and_again_changes_nothing(users, credits, clock) -> None:
    """Given an active session 1.5 intervals in, ending it bills interval 1 (elapsed) and 2 (in
    progress); a second end, a late tick and messages change nothing."""
    credits(5)
    sid = open_session(users)
    activate(users, sid)
    clock.advance(1.5 * INTERVAL)
    status, body = users["patient"]("POST", f"/text-sessions/{sid}/end")
    assert status == 200 and (body["status"], body["ended_reason"], body["intervals_billed"]) == (
        "ended",
        "manual",
        2,
    )
    before = snapshot(sid)
    assert before == ("ended", 2, 3, 4)
    status, again = users["doctor"]("POST", f"/text-sessions/{sid}/end")
    assert status == 200 and again["intervals_billed"] == 2
    clock.advance(INTERVAL)
    fire_due()
    assert users["patient"]("POST", f"/text-sessions/{sid}/messages", {"body": "x"})[0] == 409
    assert users["patient"]("POST", f"/text-sessions/{sid}/activity")[0] == 409
    assert snapshot(sid) == before


def test_ending_a_pending_request_cancels_it_without_charge(users, credits) -> None:
    credits(1)
    sid = open_session(users)
    status, body = users["patient"]("POST", f"/text-sessions/{sid}/end")
    assert status == 200 and body["status"] == "cancelled"
    assert snapshot(sid) == ("cancelled", 0, 1, 0)


def test_idle_session_auto_ends_without_billing_unused_time(users, credits, clock) -> None:
    """Given an active session where the patient was last active 5 min in, it auto-ends 30 min
    after that activity; it bills the elapsed intervals, not the idle in-progress one."""
    credits(10)
    sid = open_session(users)
    activate(users, sid)
    clock.advance(300)
    assert users["patient"]("POST", f"/text-sessions/{sid}/activity")[0] == 200
    clock.advance(1800 - 1)
    fire_due()
    assert models.get_session(sid).status == "active"
    clock.advance(1)
    fire_due()
    final = models.get_session(sid)
    assert (final.status, final.ended_reason, int(final.billed)) == ("ended", "idle", 3)
    assert models.get_subscription(users["patient"].sub).text_sessions_remaining == 7


def test_unanswered_request_expires_free(users, credits, clock) -> None:
    credits(1)
    sid = open_session(users)
    clock.advance(1800)
    fire_due()
    assert snapshot(sid) == ("expired", 0, 1, 0)
    assert any(n["type"] == "SessionExpired" for n in inbox(users["patient"]))


def test_no_deduction_on_an_inactive_subscription(users, credits, clock) -> None:
    """Given an active session whose subscription is suspended, the next tick ends it unbilled."""
    credits(3)
    sid = open_session(users)
    activate(users, sid)
    status, _ = users["admin"](
        "PUT", f"/admin/consult/subscriptions/{users['patient'].sub}/status", {"status": "suspended"}
    )
    assert status == 200
    clock.advance(INTERVAL)
    fire_due()
    final = models.get_session(sid)
    assert (final.status, final.ended_reason, int(final.billed)) == ("ended", "subscription_inactive", 0)
    assert models.get_subscription(users["patient"].sub).text_sessions_remaining == 3


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ("{not json", 400, "malformed_json"),
        ('{"doctor_id": ""}', 422, "validation_error"),
        ('{"doctor_id": "doc-1", "extra": 1}', 422, "validation_error"),
        ("[]", 422, "validation_error"),
    ],
)
def test_bad_bodies_are_clear_4xx_and_change_nothing(users, credits, raw, status, code) -> None:
    credits(1)
    got, body = users["patient"]("POST", "/text-sessions", raw=raw)
    assert (got, body["error"]["code"]) == (status, code)
    assert users["patient"]("GET", "/text-sessions")[1]["sessions"] == []
    sid = open_session(users)
    got, body = users["doctor"]("POST", f"/text-sessions/{sid}/messages", raw=raw)
    assert got in (400, 422) and snapshot(sid)[:2] == ("pending", 0)


def test_activity_only_while_active(users, credits) -> None:
    credits(1)
    sid = open_session(users)
    status, body = users["patient"]("POST", f"/text-sessions/{sid}/activity")
    assert status == 409 and body["error"]["code"] == "not_active"
    activate(users, sid)
    assert users["doctor"]("POST", f"/text-sessions/{sid}/activity")[0] == 200


def test_lists_show_each_party_their_own(users, credits) -> None:
    credits(2)
    sid = open_session(users)
    assert [s["id"] for s in users["patient"]("GET", "/text-sessions")[1]["sessions"]] == [sid]
    assert [s["id"] for s in users["doctor"]("GET", "/text-sessions")[1]["sessions"]] == [sid]
    assert users["stranger"]("GET", "/text-sessions")[1]["sessions"] == []
    assert [
        s["id"]
        for s in users["admin"]("GET", f"/text-sessions?doctor_id={users['doctor'].sub}")[1]["sessions"]
    ] == [sid]


def test_a_tick_that_beats_its_activation_write_waits_for_it(users, credits, clock) -> None:
    """Given tick 1 scheduled before its activation is written (intent first), when it fires
    while the session is still pending, it re-arms itself; once past the grace it lapses."""
    from chalicelib.consult import service
    from chalicelib.core import timers

    credits(1)
    sid = open_session(users)
    session = models.get_session(sid)
    meter = models.Meter(sid, "text", session.patient_id, session.doctor_id, clock.t, 500, INTERVAL)
    assert service.tick(meter, 1) == "deferred"
    assert timers.get(service.TICK, service.tick_key(meter, 1)).state == timers.PENDING
    clock.advance(service.START_GRACE_SECONDS)
    assert service.tick(meter, 1) == "skipped"
    assert snapshot(sid) == ("pending", 0, 1, 0)


def test_a_tick_refused_just_before_its_activation_lands_still_bills(
    users, credits, clock, monkeypatch
) -> None:
    """Given tick 1 refused while the session is still pending, when the activation commits
    before the tick reads the session again, the tick bills interval 1 (it is owed) instead of
    being skipped for good."""
    from chalicelib.consult import service
    from chalicelib.consult.service import metering

    credits(3)
    sid = open_session(users)
    session = models.get_session(sid)
    clock.advance(0.5)
    meter = models.Meter(sid, "text", session.patient_id, session.doctor_id, round(clock.t, 3), 500, INTERVAL)
    real = metering.sessions.get_session
    landed = []

    def activation_lands_first(session_id: str):
        if not landed:  # the doctor's first message commits between the refusal and this read
            landed.append(metering.sessions.activate)
            message = models.items.new_message(
                sid,
                "m1",
                sender_id=users["doctor"].sub,
                sender_role="doctor",
                body="hi",
                created_at=meter.started_at,
            )
            notice = service.sessions.logic.session_notice(
                sid, "SessionActivated", [session.patient_id], "joined"
            )
            metering.sessions.activate(message, session, meter.started_at, notice)
        return real(session_id)

    monkeypatch.setattr(metering.sessions, "get_session", activation_lands_first)
    clock.advance(INTERVAL)
    assert service.tick(meter, 1) == "billed"
    assert snapshot(sid) == ("active", 1, 2, 2)
