"""A doctor's hours over the API on moto: slots in UTC from a London schedule (its clock changes
included), bookings only on them, leave, and changes of hours that list what they leave outside
without cancelling anything."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tests.integration.consult.conftest import Http, inbox, register_doctor
from tests.support.ids import unique

WEEKDAYS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def next_monday(clock) -> date:
    today = datetime.fromtimestamp(clock.t, tz=UTC).date()
    return today + timedelta(days=7 - today.weekday() + 7)  # a Monday 8-14 days out


def london_doctor(users, api, token) -> Http:
    doctor_id = unique("dr-ldn")
    register_doctor(doctor_id, "Europe/London", WEEKDAYS)
    return Http(api, token(doctor_id, "doctor"), doctor_id)


def slots(users, doctor: Http, query: str) -> dict:
    status, body = users["patient"]("GET", f"/doctors/{doctor.sub}/slots?{query}")
    assert status == 200, body
    return body


def book(users, doctor: Http, at: str) -> tuple[int, dict]:
    return users["patient"]("POST", "/appointments", {"doctor_id": doctor.sub, "scheduled_at": at})


def test_slots_are_the_working_hours_in_utc_across_the_clock_change(users, api, token) -> None:
    """Given 09:00-17:00 weekdays in London, a Friday before the March 2027 change offers 16
    slots from 09:00 UTC, the Monday after from 08:00 UTC (BST), each with its local time; the
    weekend between offers none."""
    doctor = london_doctor(users, api, token)
    before = slots(users, doctor, "date=2027-03-26")
    after = slots(users, doctor, "from=2027-03-27&to=2027-03-29")
    assert before["timezone"] == "Europe/London" and before["slot_minutes"] == 30
    assert [s["at"] for s in before["slots"]][:1] == ["2027-03-26T09:00:00Z"] and len(before["slots"]) == 16
    assert len(after["slots"]) == 16 and after["slots"][0]["at"] == "2027-03-29T08:00:00Z"
    assert after["slots"][0]["local"] == "2027-03-29T09:00:00+01:00"
    assert slots(users, doctor, "date=2027-03-28")["slots"] == []


def test_bookings_only_on_free_slots_inside_the_hours(users, api, token, clock) -> None:
    """Given a London doctor's Monday, 08:30 and 17:00 are 409 outside_availability, 09:15 is
    422 invalid_slot, 09:00 books (and leaves the day's free slots one fewer); a Saturday and a
    past time are refused; nothing refused is written."""
    doctor = london_doctor(users, api, token)
    monday = next_monday(clock)
    for at in ("08:30", "17:00"):
        status, body = book(users, doctor, f"{monday}T{at}:00+00:00")
        assert (status, body["error"]["code"]) == (409, "outside_availability"), body
        assert "Europe/London" in body["error"]["message"]
    assert book(users, doctor, f"{monday}T09:15:00+00:00")[1]["error"]["code"] == "invalid_slot"
    saturday = monday + timedelta(days=5)
    assert book(users, doctor, f"{saturday}T10:00:00+00:00")[1]["error"]["code"] == "outside_availability"
    assert users["patient"]("GET", "/appointments")[1]["appointments"] == []

    status, booked = book(users, doctor, f"{monday}T09:00:00+00:00")
    assert status == 201, booked
    free = [s["at"] for s in slots(users, doctor, f"date={monday}")["slots"]]
    assert len(free) == 15 and f"{monday}T09:00:00Z" not in free
    assert book(users, doctor, f"{monday}T10:00:00+01:00")[1]["error"]["code"] == "slot_taken"  # 09:00Z
    assert len(users["patient"]("GET", "/appointments")[1]["appointments"]) == 1


def test_leave_empties_a_day_and_extra_hours_open_one(users, api, token, clock) -> None:
    """Given a London doctor, leave on Monday empties it (booking it is 409); extra hours on
    Saturday 10:00-11:00 offer two slots that book; removing the leave restores Monday."""
    doctor = london_doctor(users, api, token)
    monday = next_monday(clock)
    saturday = monday + timedelta(days=5)
    status, body = doctor(
        "PUT", f"/me/consult/schedule/exceptions/{monday}", {"hours": [], "reason": "conference"}
    )
    assert status == 200 and body["exceptions"][0] == {
        "date": str(monday),
        "hours": [],
        "leave": True,
        "reason": "conference",
    }
    assert slots(users, doctor, f"date={monday}")["slots"] == []
    assert book(users, doctor, f"{monday}T10:00:00+00:00")[1]["error"]["code"] == "outside_availability"
    doctor("PUT", f"/me/consult/schedule/exceptions/{saturday}", {"hours": [["10:00", "11:00"]]})
    assert [s["at"] for s in slots(users, doctor, f"date={saturday}")["slots"]] == [
        f"{saturday}T10:00:00Z",
        f"{saturday}T10:30:00Z",
    ]
    assert book(users, doctor, f"{saturday}T10:30:00+00:00")[0] == 201
    assert doctor("DELETE", f"/me/consult/schedule/exceptions/{monday}")[0] == 200
    assert len(slots(users, doctor, f"date={monday}")["slots"]) == 16
    assert doctor("PUT", "/me/consult/schedule/exceptions/2027-02-30", {"hours": []})[0] == 404
    bad = doctor("PUT", f"/me/consult/schedule/exceptions/{monday}", {"hours": [["12:00", "11:00"]]})
    assert bad[1]["error"]["code"] == "invalid_hours"


def test_a_change_of_hours_lists_what_it_leaves_outside_and_cancels_nothing(users, api, token, clock) -> None:
    """Given bookings at 09:00 and 14:00 on a Monday, when the doctor moves Monday to
    13:00-17:00, the answer lists the 09:00 one (still pending, its slot still held), the
    doctor's conflicts list and inbox say so; rescheduling it into the new hours clears it."""
    doctor = london_doctor(users, api, token)
    monday = next_monday(clock)
    early = book(users, doctor, f"{monday}T09:00:00+00:00")[1]
    book(users, doctor, f"{monday}T14:00:00+00:00")
    hours = {**WEEKDAYS, "mon": [["13:00", "17:00"]]}

    status, body = doctor("PUT", "/me/consult/schedule", {"weekly": hours})

    assert status == 200 and body["weekly"]["mon"] == [["13:00", "17:00"]]
    assert [a["id"] for a in body["affected_appointments"]] == [early["id"]]
    assert users["patient"]("GET", f"/appointments/{early['id']}")[1]["status"] == "pending"
    assert [a["id"] for a in doctor("GET", "/me/consult/schedule/conflicts")[1]["appointments"]] == [
        early["id"]
    ]
    seen = users["admin"]("GET", f"/admin/consult/doctors/{doctor.sub}/schedule")[1]
    assert [a["id"] for a in seen["affected_appointments"]] == [early["id"]]
    notes = [n for n in inbox(doctor) if n["type"] == "ScheduleConflicts"]
    assert notes and notes[0]["detail"]["appointment_ids"] == [early["id"]]
    assert book(users, doctor, f"{monday}T10:00:00+00:00")[1]["error"]["code"] == "outside_availability"

    moved = doctor(
        "POST", f"/appointments/{early['id']}/reschedule", {"scheduled_at": f"{monday}T15:00:00+00:00"}
    )
    assert moved[0] == 200 and moved[1]["status"] == "reschedule_proposed"
    assert doctor("GET", "/me/consult/schedule/conflicts")[1]["appointments"] == []
    outside = doctor(
        "POST", f"/appointments/{early['id']}/reschedule", {"scheduled_at": f"{monday}T09:30:00+00:00"}
    )
    assert outside[1]["error"]["code"] == "outside_availability"


def test_slot_queries_are_bounded_and_checked(users, api, token) -> None:
    doctor = london_doctor(users, api, token)
    base = f"/doctors/{doctor.sub}/slots"
    assert (
        users["patient"]("GET", f"{base}?from=2027-01-01&to=2027-03-01")[1]["error"]["code"]
        == "range_too_long"
    )
    assert users["patient"]("GET", f"{base}?from=2027-01-05&to=2027-01-01")[0] == 400
    assert users["patient"]("GET", f"{base}?from=tomorrow")[1]["error"]["code"] == "invalid_query"
    assert users["patient"]("GET", f"{base}?from=2027-01-05T10:00:00")[1]["error"]["code"] == "invalid_query"
    week = users["patient"]("GET", f"{base}?from=2027-01-04T00:00:00Z")[1]
    assert len(week["slots"]) == 5 * 16 and week["end"] == "2027-01-11T00:00:00Z"
