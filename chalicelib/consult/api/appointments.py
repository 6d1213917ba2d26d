"""Appointments on the doctor's slot grid: book, confirm, reschedule, accept, cancel, complete."""

from __future__ import annotations

from chalicelib.consult import service
from chalicelib.consult.api import PARTIES, PATIENT, api
from chalicelib.consult.api.shapes import appointment_out, viewer
from chalicelib.consult.schemas import (
    AppointmentList,
    AppointmentOut,
    BookAppointment,
    CancelIn,
    Reschedule,
    ViewerPage,
)
from chalicelib.core.http import Call


@api.route(
    "/appointments",
    "POST",
    body=BookAppointment,
    response=AppointmentOut,
    status=201,
    roles=PATIENT,
    errors=(400, 404, 409),
)
def book(call: Call) -> AppointmentOut:
    """Book a free slot of the doctor (409 ``slot_taken`` if someone holds it,
    ``outside_availability`` outside the doctor's hours; 404/409 unknown or inactive doctor)."""
    body: BookAppointment = call.body
    return appointment_out(service.book(call.user, body.doctor_id, body.scheduled_at, body.note))


@api.route("/appointments", query=ViewerPage, response=AppointmentList, roles=PARTIES)
def list_appointments(call: Call) -> AppointmentList:
    """Your appointments, latest time first."""
    sub, role = viewer(call)
    return AppointmentList(
        appointments=[appointment_out(a) for a in service.appointments_of(sub, role, call.args.limit)]
    )


@api.route("/appointments/{appointment_id}", response=AppointmentOut, roles=PARTIES)
def get_appointment(call: Call, appointment_id: str) -> AppointmentOut:
    """One appointment."""
    return appointment_out(service.load_appointment(appointment_id, call.user)[0])


@api.route(
    "/appointments/{appointment_id}/confirm", "POST", response=AppointmentOut, roles=PARTIES, errors=(409,)
)
def confirm(call: Call, appointment_id: str) -> AppointmentOut:
    """The doctor confirms a pending appointment."""
    return appointment_out(service.confirm(appointment_id, call.user))


@api.route(
    "/appointments/{appointment_id}/reschedule",
    "POST",
    body=Reschedule,
    response=AppointmentOut,
    roles=PARTIES,
    errors=(409,),
)
def reschedule(call: Call, appointment_id: str) -> AppointmentOut:
    """Propose a new time: the slot lock moves at once (409 if the new slot is taken)."""
    return appointment_out(service.propose_reschedule(appointment_id, call.user, call.body.scheduled_at))


@api.route(
    "/appointments/{appointment_id}/accept", "POST", response=AppointmentOut, roles=PARTIES, errors=(409,)
)
def accept(call: Call, appointment_id: str) -> AppointmentOut:
    """The other party accepts a proposed time."""
    return appointment_out(service.accept_reschedule(appointment_id, call.user))


@api.route(
    "/appointments/{appointment_id}/cancel",
    "POST",
    body=CancelIn,
    response=AppointmentOut,
    roles=PARTIES,
    errors=(409,),
)
def cancel(call: Call, appointment_id: str) -> AppointmentOut:
    """Cancel (either party); the slot is free again at once."""
    return appointment_out(service.cancel_appointment(appointment_id, call.user, call.body.reason))


@api.route(
    "/appointments/{appointment_id}/complete", "POST", response=AppointmentOut, roles=PARTIES, errors=(409,)
)
def complete(call: Call, appointment_id: str) -> AppointmentOut:
    """The doctor marks a confirmed appointment done, after its time."""
    return appointment_out(service.complete(appointment_id, call.user))
