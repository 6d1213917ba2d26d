"""Appointments on moto: the slot grid and its lock, conditional transitions, and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.consult import logic, models
from tests.integration.consult.conftest import fire_due, inbox

SLOT = 1800


def slot(clock, slots_ahead: int) -> datetime:
    """A grid time ``slots_ahead`` slots after the next one."""
    return datetime.fromtimestamp((int(clock.t) // SLOT + 1 + slots_ahead) * SLOT, tz=UTC)


def book(users, at: datetime, who: str = "patient") -> tuple[int, dict]:
    return users[who](
        "POST", "/appointments", {"doctor_id": users["doctor"].sub, "scheduled_at": at.isoformat()}
    )


def holder(users, at: datetime) -> str | None:
    return models.slot_holder(users["doctor"].sub, at.timestamp())


def test_a_taken_slot_answers_409_slot_taken_with_the_message(users, clock) -> None:
    at = slot(clock, 4)
    status, first = book(users, at)
    assert status == 201 and first["status"] == "pending"
    status, body = book(users, at, "stranger")
    assert status == 409
    assert body == {
        "error": {
            "code": "slot_taken",
            "message": "This time slot is already booked. Please select a different time.",
        }
    }
    assert holder(users, at) == first["id"]


@pytest.mark.parametrize(
    ("scheduled_at", "status", "code"),
    [
        ("2030-01-01T10:00:00", 422, "validation_error"),  # naive: no timezone
        ("2030-01-01T10:15:00+00:00", 422, "invalid_slot"),  # off the 30-min grid
        ("2030-01-01T10:00:30+00:00", 422, "invalid_slot"),
        ("2020-01-01T10:00:00+00:00", 422, "invalid_slot"),  # past
        ("tomorrow", 422, "validation_error"),
    ],
)
def test_bad_times_are_refused_and_nothing_is_booked(users, scheduled_at, status, code) -> None:
    got, body = users["patient"](
        "POST", "/appointments", {"doctor_id": users["doctor"].sub, "scheduled_at": scheduled_at}
    )
    assert (got, body["error"]["code"]) == (status, code)
    assert users["patient"]("GET", "/appointments")[1]["appointments"] == []


def test_other_timezones_land_on_the_same_utc_slot(users, clock) -> None:
    at = slot(clock, 6)
    nairobi = at.astimezone(timezone_eat())
    assert book(users, nairobi)[0] == 201
    assert book(users, at, "stranger")[0] == 409


def timezone_eat():
    from datetime import timezone

    return timezone(timedelta(hours=3))


def test_confirm_reschedule_accept_cancel_move_the_lock(users, clock) -> None:
    """Given a booking, only the doctor confirms; a reschedule moves the lock (old slot free, new
    taken); the proposer cannot accept, the other party can; cancelling frees the slot."""
    first, second = slot(clock, 2), slot(clock, 3)
    aid = book(users, first)[1]["id"]
    assert users["patient"]("POST", f"/appointments/{aid}/confirm")[0] == 403
    assert users["stranger"]("POST", f"/appointments/{aid}/cancel", {})[0] == 403
    status, body = users["doctor"]("POST", f"/appointments/{aid}/confirm")
    assert status == 200 and body["status"] == "confirmed"
    assert users["doctor"]("POST", f"/appointments/{aid}/confirm")[0] == 409  # not pending any more

    status, body = users["doctor"](
        "POST", f"/appointments/{aid}/reschedule", {"scheduled_at": second.isoformat()}
    )
    assert status == 200 and body["status"] == "reschedule_proposed" and body["proposed_by"] == "doctor"
    assert (holder(users, first), holder(users, second)) == (None, aid)
    assert users["doctor"]("POST", f"/appointments/{aid}/accept")[0] == 403
    status, body = users["patient"]("POST", f"/appointments/{aid}/accept")
    assert status == 200 and body["status"] == "confirmed"

    assert book(users, first, "stranger")[0] == 201  # the old slot is free again
    status, body = users["patient"]("POST", f"/appointments/{aid}/cancel", {"reason": "travelling"})
    assert status == 200 and (body["status"], body["cancelled_by"], body["cancellation_reason"]) == (
        "cancelled",
        "patient",
        "travelling",
    )
    assert holder(users, second) is None
    assert users["patient"]("POST", f"/appointments/{aid}/cancel", {})[0] == 409
    assert any(n["type"] == "AppointmentCancelled" for n in inbox(users["doctor"]))


def test_rescheduling_onto_a_taken_slot_is_409_and_changes_nothing(users, clock) -> None:
    mine, theirs = slot(clock, 2), slot(clock, 3)
    aid = book(users, mine)[1]["id"]
    other = book(users, theirs, "stranger")[1]["id"]
    status, body = users["doctor"](
        "POST", f"/appointments/{aid}/reschedule", {"scheduled_at": theirs.isoformat()}
    )
    assert status == 409 and body["error"]["code"] == "slot_taken"
    assert (holder(users, mine), holder(users, theirs)) == (aid, other)
    appointment = models.get_appointment(aid)
    assert (appointment.status, appointment.scheduled_at) == ("pending", mine.timestamp())


def test_pending_appointment_expires_at_its_time(users, clock) -> None:
    """Given a pending appointment 2 h away, at that time it is cancelled by the system with the
    reason, its slot is released and the patient is notified."""
    at = slot(clock, 3)
    aid = book(users, at)[1]["id"]
    clock.t = at.timestamp() - 1
    fire_due()
    assert models.get_appointment(aid).status == "pending"
    clock.t = at.timestamp()
    fire_due()
    _, body = users["patient"]("GET", f"/appointments/{aid}")
    assert (body["status"], body["cancelled_by"], body["cancellation_reason"]) == (
        "cancelled",
        "system",
        "Automatically expired - scheduled time has passed",
    )
    assert holder(users, at) is None
    assert [n["type"] for n in inbox(users["patient"])].count("AppointmentExpired") == 1


def test_pending_appointment_expires_after_24_hours(users, clock) -> None:
    at = slot(clock, 100)
    aid = book(users, at)[1]["id"]
    clock.advance(24 * 3600)
    fire_due()
    appointment = models.get_appointment(aid)
    assert appointment.cancellation_reason == logic.expiry_reason(logic.EXPIRED_STALE)


def test_confirmed_appointment_does_not_expire(users, clock) -> None:
    at = slot(clock, 1)
    aid = book(users, at)[1]["id"]
    users["doctor"]("POST", f"/appointments/{aid}/confirm")
    clock.advance(48 * 3600)
    fire_due()
    assert models.get_appointment(aid).status == "confirmed"
    assert users["doctor"]("POST", f"/appointments/{aid}/complete")[1]["status"] == "completed"


def test_unknown_appointment_is_404(users) -> None:
    assert users["patient"]("GET", "/appointments/apt_nope")[0] == 404
    assert users["doctor"]("POST", "/appointments/apt_nope/confirm")[0] == 404


def test_free_slots_leave_out_the_taken_one(users, clock) -> None:
    """Given a doctor working around the clock (UTC) and one slot booked two days out, that
    day's slots are the other 47; a malformed date is a 400."""
    at = slot(clock, 96)
    book(users, at)
    status, body = users["patient"]("GET", f"/doctors/{users['doctor'].sub}/slots?date={at:%Y-%m-%d}")
    assert status == 200 and len(body["slots"]) == 47
    assert at.strftime("%Y-%m-%dT%H:%M:%SZ") not in [s["at"] for s in body["slots"]]
    assert users["patient"]("GET", f"/doctors/{users['doctor'].sub}/slots?date=31-12-2030")[0] == 400
