"""The doctor registry over the API on moto: admin-added and self-registered doctors, approval,
the public list and its filters, and unknown or inactive doctors refused with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.consult import models
from chalicelib.core import timers
from tests.integration.consult.conftest import ALWAYS, Http
from tests.support.ids import unique


def profile(doctor_id: str, **fields) -> dict:
    return {"doctor_id": doctor_id, "name": f"Dr {doctor_id}", "timezone": "Africa/Nairobi", **fields}


def names(http: Http, query: str) -> list[str]:
    status, body = http("GET", f"/doctors?{query}")
    assert status == 200, body
    return [d["id"] for d in body["doctors"]]


def test_admin_adds_doctors_that_patients_find_by_specialty_and_mode_in_pages(users) -> None:
    """Given three doctors an admin added (two cardiologists, one of them text only), a patient
    finds both cardiologists by specialty, the voice ones by mode, and pages through them."""
    tag = unique("spec")
    a, b, c = unique("dr-a"), unique("dr-b"), unique("dr-c")
    for doctor_id, specialties, modes in (
        (a, [tag], ["text"]),
        (b, [tag, "gp"], ["text", "voice"]),
        (c, ["gp"], ["voice"]),
    ):
        status, body = users["admin"](
            "POST", "/admin/consult/doctors", profile(doctor_id, specialties=specialties, modes=modes)
        )
        assert status == 201 and body["active"] and body["status"] == "active", body
    assert users["admin"]("POST", "/admin/consult/doctors", profile(a))[1]["error"]["code"] == "doctor_exists"

    assert sorted(names(users["patient"], f"specialty={tag.upper()}")) == sorted([a, b])
    assert names(users["patient"], f"specialty={tag}&mode=voice") == [b]
    status, first = users["patient"]("GET", f"/doctors?specialty={tag}&limit=1")
    assert len(first["doctors"]) == 1 and first["next"]
    second = users["patient"]("GET", f"/doctors?specialty={tag}&limit=1&after={first['next']}")[1]
    assert {first["doctors"][0]["id"], second["doctors"][0]["id"]} == {a, b} and second["next"] is None
    one = users["patient"]("GET", f"/doctors/{b}")[1]
    assert (one["timezone"], one["modes"], one["presence"]) == (
        "Africa/Nairobi",
        ["text", "voice"],
        "offline",
    )


def test_self_registration_waits_for_approval(users, token, api, credits) -> None:
    """Given a doctor who registers themselves, they are pending: not listed, not bookable (409
    doctor_inactive), not registrable twice; once an admin approves, patients find them."""
    doctor_id, tag = unique("dr-self"), unique("spec")
    me = Http(api, token(doctor_id, "doctor"), doctor_id)
    status, body = me(
        "POST", "/consult/doctors/register", {"name": "Dr Self", "specialties": [tag], "weekly": ALWAYS}
    )
    assert status == 201 and (body["status"], body["active"]) == ("pending", False)
    assert me("POST", "/consult/doctors/register", {"name": "Again"})[0] == 409
    assert users["patient"]("POST", "/consult/doctors/register", {"name": "Patient"})[0] == 403
    assert names(users["patient"], f"specialty={tag}") == []
    credits(1)
    refused = users["patient"]("POST", "/text-sessions", {"doctor_id": doctor_id})
    assert refused[0] == 409 and refused[1]["error"]["code"] == "doctor_inactive"
    pending = users["admin"]("GET", "/admin/consult/doctors?status=pending&limit=200")[1]["doctors"]
    assert doctor_id in [d["id"] for d in pending]

    status, approved = users["admin"]("POST", f"/admin/consult/doctors/{doctor_id}/approve")
    assert status == 200 and approved["active"]
    assert (
        users["admin"]("POST", f"/admin/consult/doctors/{doctor_id}/approve")[1]["error"]["code"]
        == "not_pending"
    )
    assert names(users["patient"], f"specialty={tag}") == [doctor_id]
    assert (
        me("PATCH", "/me/consult/profile", {"bio": "Twenty years of practice"})[1]["bio"]
        == "Twenty years of practice"
    )
    assert me("PATCH", "/me/consult/profile", {"name": None})[1]["error"]["code"] == "no_name"
    assert me("PATCH", "/me/consult/profile", {"modes": None})[1]["error"]["code"] == "no_modes"
    assert me("GET", "/me/consult/profile")[1]["name"] == "Dr Self"


def nothing_written(users, patient_sessions: int = 0) -> None:
    p = users["patient"]
    assert len(p("GET", "/text-sessions")[1]["sessions"]) == patient_sessions
    assert p("GET", "/calls")[1]["sessions"] == []
    assert p("GET", "/appointments")[1]["appointments"] == []
    mine = [
        t
        for t in timers.pending()
        if t.state == timers.PENDING and t.payload.get("session_id", "").startswith(("ses_", "call_"))
    ]
    assert all(models.get_session(t.payload["session_id"]) is not None for t in mine)  # no stray timers


@pytest.mark.parametrize("who", ["unknown", "inactive", "pending"])
def test_unknown_or_inactive_doctor_refused_on_sessions_calls_and_appointments(
    users, credits, clock, who
) -> None:
    """Given an unknown, deactivated or unapproved doctor, a text session, a call and an
    appointment are each refused (404 doctor_not_found / 409 doctor_inactive) and nothing is
    written: no session, call, appointment, credit used or timer left."""
    doctor_id = unique("dr-x")
    if who != "unknown":
        users["admin"]("POST", "/admin/consult/doctors", profile(doctor_id, weekly=ALWAYS))
        if who == "inactive":
            assert (
                users["admin"]("PUT", f"/admin/consult/doctors/{doctor_id}/status", {"status": "inactive"})[0]
                == 200
            )
        else:
            models.Doctor(*models.items.doctor_key(doctor_id)).update([models.Doctor.status.set("pending")])
    credits(2)
    credits(2, "voice")
    expected = (404, "doctor_not_found") if who == "unknown" else (409, "doctor_inactive")
    slot = datetime.fromtimestamp(clock.t // 1800 * 1800 + 7200, tz=UTC).isoformat()
    for path, body in (
        ("/text-sessions", {"doctor_id": doctor_id}),
        ("/calls", {"doctor_id": doctor_id, "kind": "voice"}),
        ("/appointments", {"doctor_id": doctor_id, "scheduled_at": slot}),
    ):
        status, answer = users["patient"]("POST", path, body)
        assert (status, answer["error"]["code"]) == expected, (path, answer)
    nothing_written(users)
    subscription = users["patient"]("GET", "/me/consult/subscription")[1]
    assert (subscription["text_sessions_remaining"], subscription["voice_calls_remaining"]) == (2, 2)
    assert users["patient"]("GET", f"/doctors/{doctor_id}")[0] == 404
    assert users["patient"]("GET", f"/doctors/{doctor_id}/slots")[0] == expected[0]


def test_a_mode_the_doctor_does_not_offer_is_refused(users, credits) -> None:
    """Given a doctor offering text only, a video call is 409 mode_not_offered, nothing written."""
    doctor_id = unique("dr-text")
    users["admin"]("POST", "/admin/consult/doctors", profile(doctor_id, modes=["text"]))
    credits(1, "video")
    status, body = users["patient"]("POST", "/calls", {"doctor_id": doctor_id, "kind": "video"})
    assert (status, body["error"]["code"]) == (409, "mode_not_offered")
    assert users["patient"]("GET", "/calls")[1]["sessions"] == []


def test_a_doctor_deactivated_between_the_check_and_the_write_writes_nothing(
    users, credits, monkeypatch
) -> None:
    """Given the doctor passes the first check, when an admin deactivates them before the
    session's transaction, the transaction's own condition refuses it: 409, nothing written."""
    from chalicelib.consult.service import doctors, sessions

    credits(1)
    real = doctors.require_doctor

    def then_deactivated(doctor_id: str, mode: str | None = None):
        found = real(doctor_id, mode)
        doctors.set_status(doctor_id, "inactive", "admin")
        return found

    monkeypatch.setattr(sessions, "require_doctor", then_deactivated)
    status, body = users["patient"]("POST", "/text-sessions", {"doctor_id": users["doctor"].sub})
    assert (status, body["error"]["code"]) == (409, "doctor_inactive")
    nothing_written(users)
    assert users["doctor"]("GET", "/me/consult/queue")[1]["waiting"] == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "X", "timezone": "Mars/Olympus"}, "invalid_timezone"),
        ({"name": "X", "weekly": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "invalid_hours"),
        ({"name": "X", "weekly": {"mon": [["17:00", "09:00"]]}}, "invalid_hours"),
        ({"name": "X", "weekly": {"funday": [["09:00", "10:00"]]}}, "validation_error"),
        ({"name": "X", "modes": []}, "validation_error"),
        ({"name": "X", "modes": ["telepathy"]}, "validation_error"),
        ({"name": ""}, "validation_error"),
    ],
)
def test_bad_profiles_are_clear_4xx_and_store_nothing(users, body, code) -> None:
    doctor_id = unique("dr-bad")
    status, answer = users["admin"]("POST", "/admin/consult/doctors", {"doctor_id": doctor_id, **body})
    assert status in (400, 422) and answer["error"]["code"] == code, answer
    assert models.get_doctor(doctor_id) is None


def test_a_booking_checked_against_old_hours_or_status_writes_nothing(users, clock, monkeypatch) -> None:
    """Given a booking that passed the hours check, when the doctor is deactivated before its
    transaction, the transaction's condition on the doctor refuses it: 409, no appointment, the
    slot free."""
    from chalicelib.consult.service import appointments, doctors

    real = appointments.availability.check_bookable

    def then_deactivated(doctor, at):
        found = real(doctor, at)
        doctors.set_status(doctor.doctor_id, "inactive", "admin")
        return found

    monkeypatch.setattr(appointments.availability, "check_bookable", then_deactivated)
    at = datetime.fromtimestamp(clock.t // 1800 * 1800 + 7200, tz=UTC)
    status, body = users["patient"](
        "POST", "/appointments", {"doctor_id": users["doctor"].sub, "scheduled_at": at.isoformat()}
    )
    assert (status, body["error"]["code"]) == (409, "doctor_inactive")
    assert users["patient"]("GET", "/appointments")[1]["appointments"] == []
    assert models.slot_holder(users["doctor"].sub, at.timestamp()) is None


def test_available_on_lists_doctors_with_a_free_slot_that_day(users, clock) -> None:
    """Given two doctors of one specialty, one working weekdays only, a Saturday lists only the
    one who works every day; a Monday lists both."""
    tag = unique("spec")
    daily, weekdays = unique("dr-daily"), unique("dr-wkdy")
    hours = {d: [["09:00", "12:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    users["admin"]("POST", "/admin/consult/doctors", profile(daily, specialties=[tag], weekly=ALWAYS))
    users["admin"]("POST", "/admin/consult/doctors", profile(weekdays, specialties=[tag], weekly=hours))
    today = datetime.fromtimestamp(clock.t, tz=UTC).date()
    monday = today + timedelta(days=7 - today.weekday())
    saturday = monday + timedelta(days=5)
    assert names(users["patient"], f"specialty={tag}&available_on={saturday}") == [daily]
    assert sorted(names(users["patient"], f"specialty={tag}&available_on={monday}")) == sorted(
        [daily, weekdays]
    )
