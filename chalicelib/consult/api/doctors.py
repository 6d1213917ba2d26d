"""Doctors: the registry (admin-created or self-registered and approved), their hours and free
slots, their online status and the queue of text requests waiting for them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from chalicelib.consult import availability
from chalicelib.consult.api import ADMIN, api
from chalicelib.consult.api.shapes import appointment_out, doctor_out, exception_out, instant, utc
from chalicelib.consult.doctor_schemas import (
    AdminDoctorQuery,
    ConflictList,
    DoctorIn,
    DoctorList,
    DoctorOut,
    DoctorQuery,
    DoctorStatusIn,
    ExceptionIn,
    PresenceIn,
    PresenceOut,
    ProfileIn,
    ProfilePatch,
    QueuedOut,
    QueueOut,
    ScheduleIn,
    ScheduleOut,
    SlotList,
    SlotOut,
    SlotQuery,
)
from chalicelib.consult.models import doctors as doctor_models
from chalicelib.consult.models.items import Appointment
from chalicelib.consult.service import availability as hours
from chalicelib.consult.service import doctors, presence
from chalicelib.consult.settings import settings
from chalicelib.core import clock
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.core.http import Call

DOCTOR = ("doctor",)


def _profile(body: ProfileIn) -> dict[str, Any]:
    return body.model_dump(exclude={"doctor_id"})


def _list(call: Call, status: str) -> DoctorList:
    args: DoctorQuery = call.args
    keep = None
    if args.available_on is not None:
        day = args.available_on
        keep = lambda d: hours.works_on(d, day)  # noqa: E731
    found = doctors.listing(status, args.specialty, args.mode, args.after, args.limit, keep)
    return DoctorList(
        doctors=[doctor_out(d, found.presence.get(d.doctor_id)) for d in found.doctors], next=found.next
    )


# --- registry -------------------------------------------------------------------------------------


@api.route(
    "/admin/consult/doctors",
    "POST",
    body=DoctorIn,
    response=DoctorOut,
    status=201,
    roles=ADMIN,
    errors=(409,),
)
def add_doctor(call: Call) -> DoctorOut:
    """Add a doctor (active at once); the id is the doctor's token ``sub``."""
    body: DoctorIn = call.body
    return doctor_out(doctors.register(body.doctor_id, _profile(body), by=call.user.sub, approved=True))


@api.route(
    "/consult/doctors/register",
    "POST",
    body=ProfileIn,
    response=DoctorOut,
    status=201,
    roles=DOCTOR,
    errors=(409,),
)
def register(call: Call) -> DoctorOut:
    """Register yourself as a doctor; patients see you once an admin approves."""
    return doctor_out(doctors.register(call.user.sub, _profile(call.body), by=call.user.sub, approved=False))


@api.route("/admin/consult/doctors", query=AdminDoctorQuery, response=DoctorList, roles=ADMIN)
def admin_list(call: Call) -> DoctorList:
    """Doctors by status (``?status=pending`` for those awaiting approval), by name."""
    return _list(call, call.args.status)


@api.route("/admin/consult/doctors/{doctor_id}", response=DoctorOut, roles=ADMIN)
def admin_get(call: Call, doctor_id: str) -> DoctorOut:
    """Any doctor's profile, whatever its status."""
    return doctor_out(doctors.load(doctor_id), doctor_models.get_presence(doctor_id))


@api.route("/admin/consult/doctors/{doctor_id}", "PATCH", body=ProfilePatch, response=DoctorOut, roles=ADMIN)
def admin_edit(call: Call, doctor_id: str) -> DoctorOut:
    """Change a doctor's profile."""
    return doctor_out(doctors.update_profile(doctor_id, call.body.model_dump(exclude_unset=True)))


@api.route(
    "/admin/consult/doctors/{doctor_id}/approve", "POST", response=DoctorOut, roles=ADMIN, errors=(409,)
)
def approve(call: Call, doctor_id: str) -> DoctorOut:
    """Approve a self-registered doctor (``pending → active``)."""
    if doctors.load(doctor_id).status != doctor_models.PENDING:
        raise Conflict(f"doctor {doctor_id} is not awaiting approval", code="not_pending")
    return doctor_out(doctors.set_status(doctor_id, doctor_models.ACTIVE, call.user.sub))


@api.route(
    "/admin/consult/doctors/{doctor_id}/status", "PUT", body=DoctorStatusIn, response=DoctorOut, roles=ADMIN
)
def set_status(call: Call, doctor_id: str) -> DoctorOut:
    """Deactivate or reactivate a doctor; booked appointments stay (listed to the doctor)."""
    return doctor_out(doctors.set_status(doctor_id, call.body.status, call.user.sub))


@api.route("/me/consult/profile", response=DoctorOut, roles=DOCTOR)
def my_profile(call: Call) -> DoctorOut:
    """Your doctor profile (404 until you register)."""
    return doctor_out(doctors.load(call.user.sub), doctor_models.get_presence(call.user.sub))


@api.route("/me/consult/profile", "PATCH", body=ProfilePatch, response=DoctorOut, roles=DOCTOR)
def edit_profile(call: Call) -> DoctorOut:
    """Change your profile: name, bio, specialties, languages, modes."""
    return doctor_out(doctors.update_profile(call.user.sub, call.body.model_dump(exclude_unset=True)))


@api.route("/doctors", query=DoctorQuery, response=DoctorList)
def list_doctors(call: Call) -> DoctorList:
    """Active doctors by name: ``?specialty=&mode=&available_on=YYYY-MM-DD``, paged by ``?after=``."""
    return _list(call, doctor_models.ACTIVE)


@api.route("/doctors/{doctor_id}", response=DoctorOut)
def get_doctor(call: Call, doctor_id: str) -> DoctorOut:
    """An active doctor's profile and online status."""
    doctor = doctor_models.get_doctor(doctor_id)
    if doctor is None or (
        doctor.status != doctor_models.ACTIVE and not call.user.is_admin and call.user.sub != doctor_id
    ):
        raise doctors.not_found(doctor_id)
    return doctor_out(doctor, doctor_models.get_presence(doctor_id))


# --- hours and slots ----------------------------------------------------------------------------------


@api.route("/doctors/{doctor_id}/slots", query=SlotQuery, response=SlotList, errors=(409,))
def slots(call: Call, doctor_id: str) -> SlotList:
    """Free slots (in hours, not taken, not past) in UTC, ``?from=&to=`` (default: the next 7
    days) or ``?date=`` (one local day); dates are the doctor's local days."""
    args: SlotQuery = call.args
    doctor = doctors.require_doctor(doctor_id)
    tz = availability.zone(doctor.timezone)
    if args.date is not None:
        start, end = availability.local_day_bounds(args.date, tz)
    else:
        start = instant(args.from_, tz) or clock.now()
        end = instant(args.to, tz, end=True) or start + 7 * 86400
    if end <= start:
        raise BadRequest("to must be after from", code="invalid_query")
    if end - start > settings().slots_max_days * 86400:
        raise BadRequest(f"ask for at most {settings().slots_max_days} days of slots", code="range_too_long")
    zone, free = hours.free_slots(doctor, start, end)
    step = hours.slot_seconds()
    return SlotList(
        doctor_id=doctor_id,
        timezone=doctor.timezone,
        slot_minutes=settings().slot_minutes,
        start=utc(start),
        end=utc(end),
        slots=[
            SlotOut(at=utc(at), end=utc(at + step), local=utc(at).astimezone(zone).isoformat()) for at in free
        ],
    )


def _schedule(doctor_id: str, affected: list[Appointment] | None = None) -> ScheduleOut:
    doctor = doctors.load(doctor_id)
    return ScheduleOut(
        doctor_id=doctor_id,
        timezone=doctor.timezone,
        slot_minutes=settings().slot_minutes,
        weekly={day: doctor.weekly.get(day, []) for day in availability.DAYS} if doctor.weekly else {},
        exceptions=[exception_out(e) for e in hours.exceptions_from(doctor_id, clock.now())],
        affected_appointments=[
            appointment_out(a) for a in (affected if affected is not None else hours.conflicts(doctor_id))
        ],
    )


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise NotFound(f"{text!r} is not a date (YYYY-MM-DD)", code="invalid_date") from None


@api.route("/me/consult/schedule", response=ScheduleOut, roles=DOCTOR)
def my_schedule(call: Call) -> ScheduleOut:
    """Your weekly hours, upcoming exceptions, and booked appointments outside your hours."""
    return _schedule(call.user.sub)


@api.route("/me/consult/schedule", "PUT", body=ScheduleIn, response=ScheduleOut, roles=DOCTOR)
def set_my_schedule(call: Call) -> ScheduleOut:
    """Replace your weekly hours (and zone). Nothing is cancelled: booked appointments now
    outside them are listed (``affected_appointments``) to reschedule or cancel."""
    body: ScheduleIn = call.body
    _, affected = hours.set_weekly(call.user.sub, body.model_dump()["weekly"], body.timezone)
    return _schedule(call.user.sub, affected)


@api.route("/admin/consult/doctors/{doctor_id}/schedule", response=ScheduleOut, roles=ADMIN)
def schedule_of(call: Call, doctor_id: str) -> ScheduleOut:
    """A doctor's hours, exceptions and the booked appointments outside them."""
    return _schedule(doctor_id)


@api.route(
    "/admin/consult/doctors/{doctor_id}/schedule", "PUT", body=ScheduleIn, response=ScheduleOut, roles=ADMIN
)
def set_schedule(call: Call, doctor_id: str) -> ScheduleOut:
    """Replace a doctor's weekly hours (and zone); affected appointments are listed."""
    body: ScheduleIn = call.body
    _, affected = hours.set_weekly(doctor_id, body.model_dump()["weekly"], body.timezone)
    return _schedule(doctor_id, affected)


@api.route(
    "/me/consult/schedule/exceptions/{day}", "PUT", body=ExceptionIn, response=ScheduleOut, roles=DOCTOR
)
def set_exception(call: Call, day: str) -> ScheduleOut:
    """Set one local date's hours: ``{"hours": []}`` is leave, others replace that day's hours."""
    body: ExceptionIn = call.body
    _, affected = hours.set_exception(call.user.sub, _day(day), [list(h) for h in body.hours], body.reason)
    return _schedule(call.user.sub, affected)


@api.route("/me/consult/schedule/exceptions/{day}", "DELETE", response=ScheduleOut, roles=DOCTOR)
def drop_exception(call: Call, day: str) -> ScheduleOut:
    """Remove a date's exception: the weekly hours apply again."""
    _, affected = hours.set_exception(call.user.sub, _day(day), None, None)
    return _schedule(call.user.sub, affected)


@api.route("/me/consult/schedule/conflicts", response=ConflictList, roles=DOCTOR)
def my_conflicts(call: Call) -> ConflictList:
    """Booked appointments your current hours leave outside: reschedule or cancel each."""
    return ConflictList(appointments=[appointment_out(a) for a in hours.conflicts(call.user.sub)])


# --- presence and queue -------------------------------------------------------------------------------


def _presence(doctor_id: str, status: str, until: float | None, waiting: int) -> PresenceOut:
    return PresenceOut(
        doctor_id=doctor_id,
        status=status,
        available_until=None if until is None else utc(until),
        waiting=waiting,
    )


@api.route("/me/consult/presence", "PUT", body=PresenceIn, response=PresenceOut, roles=DOCTOR, errors=(409,))
def set_presence(call: Call) -> PresenceOut:
    """Mark yourself available (again, as a heartbeat: it lapses after the idle time), busy or offline."""
    status, until, waiting = presence.set_status(call.user.sub, call.body.status)
    return _presence(call.user.sub, status, until, waiting)


@api.route("/me/consult/presence", response=PresenceOut, roles=DOCTOR)
def my_presence(call: Call) -> PresenceOut:
    """Your online status and how many text requests wait for you."""
    status, until = presence.current(call.user.sub)
    return _presence(call.user.sub, status, until, len(presence.queue(call.user.sub, 100)))


@api.route("/me/consult/queue", response=QueueOut, roles=DOCTOR)
def my_queue(call: Call) -> QueueOut:
    """Text requests waiting for you, oldest first: answer one by sending its first message."""
    entries = presence.queue(call.user.sub, 100)
    return QueueOut(
        waiting=[
            QueuedOut(
                session_id=e.session_id,
                patient_id=e.patient_id,
                routing=e.routing,
                requested_at=utc(e.created_at),
                position=n,
            )
            for n, e in enumerate(entries, 1)
        ]
    )
