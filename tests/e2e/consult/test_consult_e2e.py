"""Consultations on the local stack as `make run` starts it, over HTTP, interval scaled to 2 s:
a session bills its intervals on its timers and auto-ends; manual end bills once; 100 racing
bookings of one slot give one 201; the patient's inbox gets the news."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from chalicelib.consult import models
from chalicelib.core import clock
from chalicelib.core.auth import dev_token
from infra.local.stack import LocalStack
from tests.helpers import eventually

pytestmark = pytest.mark.e2e
_n = itertools.count()
INTERVAL = 2.0


class User:
    def __init__(self, stack: LocalStack, sub: str, role: str) -> None:
        self.url, self.sub = stack.api_url, sub
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {dev_token(sub, [role])}"

    def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        for attempt in range(10):
            try:
                response = self.session.request(method, f"{self.url}{path}", json=body, timeout=30)
                return response.status_code, response.json()
            except requests.ConnectionError:
                # `chalice local` accepts with a backlog of 5: of 100 simultaneous connects some
                # are reset before the request is read. A client (a phone) connects again.
                if attempt == 9:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")


def people(stack: LocalStack, credits: int) -> tuple[User, User, User]:
    n = next(_n)
    admin = User(stack, "admin-1", "admin")
    patient, doctor = User(stack, f"e2e-pat-{n}", "patient"), User(stack, f"e2e-doc-{n}", "doctor")
    if credits:
        top = {"patient_id": patient.sub, "kind": "text", "credits": credits, "reference": f"e2e-{n}"}
        assert admin("POST", "/admin/consult/top-ups", top)[0] == 201
    return admin, patient, doctor


def started_session(patient: User, doctor: User) -> dict:
    status, session = patient("POST", "/text-sessions", {"doctor_id": doctor.sub})
    assert status == 201, session
    assert doctor("POST", f"/text-sessions/{session['id']}/messages", {"body": "Hello"})[0] == 201
    return patient("GET", f"/text-sessions/{session['id']}")[1]


def test_three_credits_bill_three_intervals_on_their_timers_then_auto_end(stack: LocalStack) -> None:
    """Given 3 credits and a session the doctor activated, ticks bill intervals 1, 2, 3 at
    activated_at + i·2 s (never early, each before the next is due), the third ends the session,
    and the patient is notified."""
    _, patient, doctor = people(stack, 3)
    session = started_session(patient, doctor)
    sid = session["id"]

    def ended() -> dict | None:
        body = patient("GET", f"/text-sessions/{sid}")[1]
        return body if body["status"] == "ended" else None

    final = eventually(ended, 30, 0.25, "session auto-ended")
    assert (final["ended_reason"], final["intervals_billed"]) == ("credits_exhausted", 3)
    assert patient("GET", "/me/consult/subscription")[1]["text_sessions_remaining"] == 0
    activated = models.get_session(sid).activated_at
    debits = sorted(
        (int(e.interval), float(e.created_at)) for e in models.ledger_of_session(sid) if e.entry == "debit"
    )
    assert [i for i, _ in debits] == [1, 2, 3]
    for interval, at in debits:
        due = activated + interval * INTERVAL
        assert due <= at < due + INTERVAL, f"interval {interval} billed {at - due:+.3f}s from due"
    assert doctor("GET", "/me/consult/wallet")[1]["credits_earned"] == 3
    notes = eventually(
        lambda: [
            n for n in patient("GET", "/me/notifications")[1]["notifications"] if n["type"] == "SessionEnded"
        ],
        20,
        0.25,
        "SessionEnded in the patient's inbox",
    )
    assert notes[0]["detail"]["session_id"] == sid


def test_manual_end_mid_interval_bills_it_once(stack: LocalStack) -> None:
    """Given an active session with 10 credits, ending it in interval 2 bills every interval up
    to and including the one in progress, once; a second end and the ticks that come later
    change nothing."""
    _, patient, doctor = people(stack, 10)
    session = started_session(patient, doctor)
    sid = session["id"]
    activated = models.get_session(sid).activated_at
    eventually(lambda: clock.now() >= activated + 1.3 * INTERVAL, 10, 0.05, "into interval 2")

    status, body = patient("POST", f"/text-sessions/{sid}/end")

    assert status == 200 and (body["status"], body["ended_reason"]) == ("ended", "manual")
    ended_at = models.get_session(sid).ended_at
    in_progress = int((ended_at - activated) // INTERVAL) + 1  # the interval the end fell in
    assert body["intervals_billed"] == in_progress >= 2
    assert doctor("POST", f"/text-sessions/{sid}/end")[1]["intervals_billed"] == in_progress
    eventually(
        lambda: clock.now() > activated + (in_progress + 1.5) * INTERVAL, 15, 0.2, "later ticks past due"
    )
    assert patient("GET", "/me/consult/subscription")[1]["text_sessions_remaining"] == 10 - in_progress
    assert len(models.ledger_of_session(sid)) == 2 * in_progress
    assert patient("GET", f"/text-sessions/{sid}")[1]["intervals_billed"] == in_progress


def test_hundred_concurrent_bookings_of_one_slot_give_one_201(stack: LocalStack) -> None:
    """Given a free slot, when 100 patients book it at once over HTTP, exactly one gets 201 and
    99 get 409 slot_taken; after the winner cancels, the slot can be booked again."""
    _, _, doctor = people(stack, 0)
    at = datetime.fromtimestamp((int(clock.now()) // 1800 + 10) * 1800, tz=UTC).isoformat()
    patients = [User(stack, f"e2e-book-{next(_n)}", "patient") for _ in range(100)]

    with ThreadPoolExecutor(max_workers=100) as pool:
        results = list(
            pool.map(
                lambda p: (p, *p("POST", "/appointments", {"doctor_id": doctor.sub, "scheduled_at": at})),
                patients,
            )
        )

    statuses = sorted(status for _, status, _ in results)
    assert statuses == [201] + [409] * 99
    assert {body["error"]["code"] for _, status, body in results if status == 409} == {"slot_taken"}
    (winner, _, booked) = next(r for r in results if r[1] == 201)
    assert winner("POST", f"/appointments/{booked['id']}/cancel", {})[0] == 200
    assert patients[0]("POST", "/appointments", {"doctor_id": doctor.sub, "scheduled_at": at})[0] == 201


def test_demo_data_lets_a_newcomer_walk_a_session(stack: LocalStack) -> None:
    """Given `make run`'s demo data (seeded twice: idempotent), the printed patient token opens a
    session with the demo doctor."""
    from infra.local import consult as demo

    demo.seed(stack)
    lines = demo.seed(stack)
    assert any("export PATIENT=" in line for line in lines) and any(
        "export DOCTOR=" in line for line in lines
    )
    patient = User(stack, demo.PATIENT, "patient")
    assert patient("GET", "/me/consult/subscription")[1]["text_sessions_remaining"] == 5
    status, body = patient("POST", "/text-sessions", {"doctor_id": demo.DOCTOR})
    assert status == 201 and body["status"] == "pending"
