"""Appointments: booking a slot (one winner however many race), confirm, reschedule, accept,
cancel, complete, and the system's expiry of a pending one. Each transition carries its news
(a ``Notice``) in its own transaction; a timer is scheduled before the state that needs it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.consult import logic
from chalicelib.consult.logic import Notice
from chalicelib.consult.models import appointments, doctors, items
from chalicelib.consult.models.appointments import APPOINTMENT, NEW_SLOT
from chalicelib.consult.models.doctor_items import Doctor
from chalicelib.consult.models.items import Appointment
from chalicelib.consult.service import availability
from chalicelib.consult.service.common import APPOINTMENT_EXPIRY, acting_party, drop_timer, party_of
from chalicelib.consult.service.doctors import refusal, require_doctor
from chalicelib.consult.settings import settings
from chalicelib.core import clock, db, ids, timers
from chalicelib.core.auth import Principal
from chalicelib.core.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from chalicelib.core.observability import logger

A = Appointment


def load_appointment(appointment_id: str, principal: Principal) -> tuple[Appointment, str]:
    appointment = appointments.get_appointment(appointment_id)
    if appointment is None:
        raise NotFound(f"no appointment {appointment_id}")
    return appointment, party_of(appointment.patient_id, appointment.doctor_id, principal)


def appointments_of(sub: str, role: str, limit: int) -> list[Appointment]:
    """A party's appointments, latest time first."""
    return appointments.appointments_of(sub, role, limit)


def _slot_taken() -> Conflict:
    return Conflict(logic.SLOT_TAKEN_MESSAGE, code="slot_taken")


def _when(at: float) -> str:
    return f"{clock.to_datetime(at):%Y-%m-%d %H:%M} UTC"


def _other(appointment: Appointment, role: str) -> str:
    return appointment.doctor_id if role == "patient" else appointment.patient_id


def book(principal: Principal, doctor_id: str, at: datetime, note: str | None) -> Appointment:
    """Book a slot inside the doctor's hours: the appointment and its slot lock in one
    transaction that also holds the doctor to the hours checked, so exactly one booking of a
    slot succeeds however many race, and none lands in hours changed meanwhile."""
    if doctor_id == principal.sub:
        raise BadRequest("you cannot book yourself", code="same_party")
    for _ in range(3):
        try:
            return _book(principal, require_doctor(doctor_id), at, note)
        except db.Refused as refused:
            if not refused.by(doctors.DOCTOR):
                raise
            # the doctor changed (hours, status) under the booking: check again from the start
    raise refusal(doctor_id)


def _book(principal: Principal, doctor: Doctor, at: datetime, note: str | None) -> Appointment:
    doctor_id = doctor.doctor_id
    scheduled = availability.check_bookable(doctor, at)
    if appointments.slot_holder(doctor_id, scheduled):
        raise _slot_taken()  # cheap refusal; the transaction below decides races
    now = clock.now()
    appointment_id = ids.new_id("apt_")
    due, _ = logic.appointment_expiry(now, scheduled, settings().appointment_pending_seconds)
    timers.schedule(APPOINTMENT_EXPIRY, appointment_id, due, {"appointment_id": appointment_id})
    appointment = items.new_appointment(
        appointment_id,
        principal.sub,
        doctor_id,
        scheduled,
        status=logic.A_PENDING,
        note=note,
        created_at=now,
    )
    notice = logic.appointment_notice(
        appointment_id,
        "AppointmentBooked",
        [doctor_id],
        f"New appointment request for {_when(scheduled)}.",
        scheduled_at=at.isoformat(),
    )
    try:
        booked = appointments.book(appointment, notice, int(doctor.version))
    except db.Refused:
        drop_timer(APPOINTMENT_EXPIRY, appointment_id)
        raise
    if not booked:
        drop_timer(APPOINTMENT_EXPIRY, appointment_id)
        raise _slot_taken()
    return appointment


def _transition(
    appointment: Appointment, expected: tuple[str, ...], actions: list[Any], **kwargs: Any
) -> Appointment:
    try:
        appointments.transition(appointment, expected, actions, **kwargs)
    except db.Refused as refused:
        if refused.by(NEW_SLOT) and not refused.by(APPOINTMENT):
            raise _slot_taken() from None
        if refused.by(doctors.DOCTOR) and not refused.by(APPOINTMENT):
            raise refusal(appointment.doctor_id) from None
        current = appointments.get_appointment(appointment.appointment_id)
        status = current.status if current else "gone"
        raise Conflict(
            f"this appointment is {status}; that is not possible now", code="invalid_state"
        ) from None
    return appointments.get_appointment(appointment.appointment_id)  # type: ignore[return-value]


def confirm(appointment_id: str, principal: Principal) -> Appointment:
    appointment, _ = load_appointment(appointment_id, principal)
    if acting_party(appointment.patient_id, appointment.doctor_id, principal) != "doctor":
        raise Forbidden("only the doctor confirms an appointment")
    result = _transition(
        appointment,
        (logic.A_PENDING,),
        [A.status.set(logic.A_CONFIRMED), A.updated_at.set(clock.now())],
        close_marker=True,
        notice=_confirmed(appointment_id, appointment.patient_id, "Your appointment is confirmed."),
    )
    drop_timer(APPOINTMENT_EXPIRY, appointment_id)
    return result


def _confirmed(appointment_id: str, recipient: str, message: str) -> Notice:
    return logic.appointment_notice(appointment_id, "AppointmentConfirmed", [recipient], message)


def propose_reschedule(appointment_id: str, principal: Principal, at: datetime) -> Appointment:
    """Move the appointment to a new slot (the lock moves with it, atomically) and ask the other
    party to accept."""
    appointment, _ = load_appointment(appointment_id, principal)
    role = acting_party(appointment.patient_id, appointment.doctor_id, principal)
    doctor = require_doctor(appointment.doctor_id)
    scheduled = availability.check_bookable(doctor, at)
    if scheduled == appointment.scheduled_at:
        raise Unprocessable("that is already the appointment's time", code="same_slot")
    listed = items.appointment_sort(scheduled, appointment_id)
    result = _transition(
        appointment,
        logic.HOLDING,
        [
            A.status.set(logic.A_RESCHEDULE),
            A.previous_scheduled_at.set(appointment.scheduled_at),
            A.scheduled_at.set(scheduled),
            A.proposed_by.set(role),
            A.gsi1sk.set(listed),
            A.gsi2sk.set(listed),
            A.updated_at.set(clock.now()),
        ],
        take_at=scheduled,
        release=True,
        close_marker=True,
        doctor_version=int(doctor.version),
        notice=logic.appointment_notice(
            appointment_id,
            "AppointmentRescheduleProposed",
            [_other(appointment, role)],
            f"A new time was proposed for your appointment: {_when(scheduled)}.",
            scheduled_at=at.isoformat(),
        ),
    )
    drop_timer(APPOINTMENT_EXPIRY, appointment_id)
    return result


def accept_reschedule(appointment_id: str, principal: Principal) -> Appointment:
    appointment, _ = load_appointment(appointment_id, principal)
    role = acting_party(appointment.patient_id, appointment.doctor_id, principal)
    if appointment.status == logic.A_RESCHEDULE and appointment.proposed_by == role:
        raise Forbidden("the other party accepts a proposed time", code="own_proposal")
    return _transition(
        appointment,
        (logic.A_RESCHEDULE,),
        [A.status.set(logic.A_CONFIRMED), A.updated_at.set(clock.now())],
        notice=_confirmed(
            appointment_id, _other(appointment, role), "The new appointment time was accepted."
        ),
    )


def cancel_appointment(appointment_id: str, principal: Principal, reason: str | None) -> Appointment:
    appointment, _ = load_appointment(appointment_id, principal)
    role = acting_party(appointment.patient_id, appointment.doctor_id, principal)
    result = _transition(
        appointment,
        logic.HOLDING,
        _cancelled(role, reason or f"Cancelled by {role}"),
        release=True,
        close_marker=True,
        notice=logic.appointment_notice(
            appointment_id,
            "AppointmentCancelled",
            [_other(appointment, role)],
            "An appointment was cancelled.",
        ),
    )
    drop_timer(APPOINTMENT_EXPIRY, appointment_id)
    return result


def _cancelled(by: str, reason: str) -> list[Any]:
    """A cancellation's actions (``by`` a party or the system); the slot is released with it."""
    return [
        A.status.set(logic.A_CANCELLED),
        A.cancelled_by.set(by),
        A.cancellation_reason.set(reason),
        A.updated_at.set(clock.now()),
    ]


def complete(appointment_id: str, principal: Principal) -> Appointment:
    appointment, _ = load_appointment(appointment_id, principal)
    if acting_party(appointment.patient_id, appointment.doctor_id, principal) != "doctor":
        raise Forbidden("only the doctor completes an appointment")
    if clock.now() < appointment.scheduled_at:
        raise Conflict("an appointment completes after its time", code="not_yet")
    return _transition(
        appointment, (logic.A_CONFIRMED,), [A.status.set(logic.A_COMPLETED), A.updated_at.set(clock.now())]
    )


def expire_appointment(appointment_id: str) -> str:
    """A pending appointment whose time passed or that waited 24 h: cancelled by the system,
    slot released, patient told (``AppointmentExpired``, in the same transaction). Once."""
    appointment = appointments.get_appointment(appointment_id)
    if appointment is None or appointment.status != logic.A_PENDING:
        return "skipped"
    due, why = logic.appointment_expiry(
        appointment.created_at, appointment.scheduled_at, settings().appointment_pending_seconds
    )
    if clock.now() < due:
        return "not_due"
    reason = logic.expiry_reason(why)
    try:
        appointments.transition(
            appointment,
            (logic.A_PENDING,),
            _cancelled("system", reason),
            release=True,
            close_marker=True,
            notice=logic.appointment_notice(
                appointment_id,
                "AppointmentExpired",
                [appointment.patient_id],
                f"Your appointment request expired: {why}.",
                reason=reason,
            ),
        )
    except db.Refused:
        return "skipped"
    logger.info("appointment expired", extra={"appointment_id": appointment_id, "reason": reason})
    return "expired"
