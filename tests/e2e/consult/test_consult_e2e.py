"""Consultations on the local stack as `make run` starts it, over HTTP, interval scaled to 2 s:
a session bills its intervals on its timers, auto-ends and notifies the patient; 20 racing
bookings of one slot give one 201; `make run`'s demo data opens a session."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from chalicelib.core import clock
from infra.local.stack import LocalStack
from tests.e2e.conftest import WAIT, Http
from tests.support.ids import unique
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def register(admin: Http, doctor_id: str) -> None:
    """An active doctor working around the clock (UTC), as an admin adds one."""
    profile = {"doctor_id": doctor_id, "name": f"Dr {doctor_id}", "timezone": "UTC", "weekly": ALWAYS}
    status, body = admin("POST", "/admin/consult/doctors", profile)
    assert status == 201, body


def people(stack: LocalStack, admin: Http, credits: int) -> tuple[Http, Http]:
    patient, doctor = Http(stack, unique("pat"), "patient"), Http(stack, unique("doc"), "doctor")
    register(admin, doctor.sub)
    if credits:
        top_up = {"patient_id": patient.sub, "kind": "text", "credits": credits, "reference": unique("top")}
        assert admin("POST", "/admin/consult/top-ups", top_up)[0] == 201
    return patient, doctor


def test_three_credits_bill_three_intervals_on_their_timers_then_auto_end(
    stack: LocalStack, admin: Http
) -> None:
    """Given 3 credits and a session the doctor activated, ticks bill intervals 1, 2, 3, never
    before activated_at + i·2 s; the third ends the session and the patient is notified."""
    patient, doctor = people(stack, admin, 3)
    status, session = patient("POST", "/text-sessions", {"doctor_id": doctor.sub})
    assert status == 201, session
    path = f"/text-sessions/{session['id']}"
    assert doctor("POST", f"{path}/messages", {"body": "Hello"})[0] == 201

    final = eventually(lambda: (s := patient("GET", path)[1])["status"] == "ended" and s, WAIT, 0.3, "ended")

    assert (final["ended_reason"], final["intervals_billed"]) == ("credits_exhausted", 3)
    assert patient("GET", "/me/consult/subscription")[1]["text_sessions_remaining"] == 0
    activated = datetime.fromisoformat(final["activated_at"]).timestamp()
    debits = sorted(
        (e["interval"], datetime.fromisoformat(e["created_at"]).timestamp())
        for e in patient("GET", f"{path}/ledger")[1]["entries"]
        if e["entry"] == "debit"
    )
    assert [i for i, _ in debits] == [1, 2, 3]
    assert all(at >= activated + i * final["interval_seconds"] - 0.05 for i, at in debits), "billed early"
    assert doctor("GET", "/me/consult/wallet")[1]["credits_earned"] == 3
    notes = eventually(
        lambda: [
            n for n in patient("GET", "/me/notifications")[1]["notifications"] if n["type"] == "SessionEnded"
        ],
        WAIT,
        0.3,
        "SessionEnded in the patient's inbox",
    )
    assert notes[0]["detail"]["session_id"] == session["id"]


def test_twenty_concurrent_bookings_of_one_slot_give_one_201(stack: LocalStack, admin: Http) -> None:
    """Given a free slot, when 20 patients book it at once over HTTP, exactly one gets 201 and 19
    get 409 slot_taken; after the winner cancels, the slot can be booked again."""
    _, doctor = people(stack, admin, 0)
    at = datetime.fromtimestamp((int(clock.now()) // 1800 + 10) * 1800, tz=UTC).isoformat()
    patients = [Http(stack, unique("book"), "patient") for _ in range(20)]
    booking = {"doctor_id": doctor.sub, "scheduled_at": at}

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda p: (p, *p("POST", "/appointments", booking)), patients))

    assert sorted(status for _, status, _ in results) == [201] + [409] * 19
    assert {body["error"]["code"] for _, status, body in results if status == 409} == {"slot_taken"}
    winner, _, booked = next(r for r in results if r[1] == 201)
    assert winner("POST", f"/appointments/{booked['id']}/cancel", {})[0] == 200
    assert patients[0]("POST", "/appointments", booking)[0] == 201


def test_demo_data_lets_a_newcomer_walk_a_session(stack: LocalStack) -> None:
    """Given `make run`'s demo data (seeded twice: idempotent), the banner's export lines give a
    patient token that opens a session with the demo doctor and books one of the doctor's free
    slots (Nairobi hours) for the coming week."""
    from infra.local import consult as demo

    demo.seed(stack)
    lines = demo.seed(stack)
    exports = dict(
        line.strip().removeprefix("export ").split("=", 1)
        for line in lines
        if line.strip().startswith("export ")
    )
    assert {"PATIENT", "DOCTOR"} <= set(exports)
    patient = Http(stack)
    patient.session.headers["Authorization"] = f"Bearer {exports['PATIENT']}"
    assert patient("GET", "/me/consult/subscription")[1]["text_sessions_remaining"] == 5
    status, body = patient("POST", "/text-sessions", {"doctor_id": demo.DOCTOR})
    assert status == 201 and body["status"] == "pending"
    status, week = patient("GET", f"/doctors/{demo.DOCTOR}/slots")
    assert status == 200 and week["timezone"] == "Africa/Nairobi" and week["slots"], week
    booked = patient(
        "POST", "/appointments", {"doctor_id": demo.DOCTOR, "scheduled_at": week["slots"][-1]["at"]}
    )
    assert booked[0] == 201, booked
