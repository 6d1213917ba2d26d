"""Appointments and the slot locks that keep a doctor's slot to one booking: reads, booking, and
conditional transitions that move, release or take a lock in the same transaction."""

from __future__ import annotations

from typing import Any

from chalicelib.consult.logic import Notice
from chalicelib.consult.models import doctors, items
from chalicelib.consult.models.items import Appointment, SlotLock
from chalicelib.core import db

# Labels of the conditional actions, for reading a refusal.
APPOINTMENT, SLOT, NEW_SLOT = "appointment", "slot", "new_slot"


def get_appointment(appointment_id: str) -> Appointment | None:
    return db.get_or_none(Appointment, *items.appointment_key(appointment_id), consistent=True)


def appointments_of(sub: str, role: str, limit: int = 50) -> list[Appointment]:
    return items.party_list(Appointment, role, sub, items.APPOINTMENTS, limit)


def appointments_on(doctor_id: str, start: float, end: float) -> list[Appointment]:
    between = Appointment.gsi1sk.between(items.appointment_sort(start), items.appointment_sort(end))
    return list(Appointment.by_doctor.query(items.party_key("doctor", doctor_id), between))


def slot_holder(doctor_id: str, at: float) -> str | None:
    lock = db.get_or_none(SlotLock, *items.slot_key(doctor_id, at), consistent=True)
    return lock.appointment_id if lock else None


def book(appointment: Appointment, notice: Notice, doctor_version: int) -> bool:
    """Create the appointment, its slot lock and the news of it together, only while the doctor
    is active with the hours (``doctor_version``) the booking was checked against; ``False`` if
    the slot is taken. Raises ``db.Refused`` (label ``doctor``) if the doctor changed."""
    lock = items.slot_lock(appointment.doctor_id, appointment.scheduled_at, appointment.appointment_id)

    def write() -> None:
        with db.transact() as tx:
            doctors.take_booking(tx, appointment.doctor_id, doctor_version)
            tx.put(lock, condition=SlotLock.pk.does_not_exist(), label=SLOT)
            tx.put(appointment, condition=Appointment.pk.does_not_exist(), label=APPOINTMENT)
            tx.put(items.marker("appointment", appointment.appointment_id))
            tx.emit(*notice.event())

    return db.applied(write, refused_by=SLOT)


def transition(
    appointment: Appointment,
    expected: tuple[str, ...],
    actions: list[Any],
    *,
    release: bool = False,
    take_at: float | None = None,
    close_marker: bool = False,
    notice: Notice | None = None,
    doctor_version: int | None = None,
) -> None:
    """Move an appointment from one of ``expected`` (and its current time), optionally releasing
    its slot lock and/or taking the lock of ``take_at``, with its news — all in one transaction.
    A move to ``take_at`` also holds the doctor to the hours it was checked against
    (``doctor_version``). Raises ``db.Refused`` (labels ``appointment``, ``new_slot``, ``doctor``)."""
    with db.transact() as tx:
        if doctor_version is not None:
            doctors.take_booking(tx, appointment.doctor_id, doctor_version)
        tx.update(
            Appointment(*items.appointment_key(appointment.appointment_id)),
            actions,
            condition=Appointment.status.is_in(*expected)
            & (Appointment.scheduled_at == appointment.scheduled_at),
            label=APPOINTMENT,
        )
        if take_at is not None:
            tx.put(
                items.slot_lock(appointment.doctor_id, take_at, appointment.appointment_id),
                condition=SlotLock.pk.does_not_exist(),
                label=NEW_SLOT,
            )
        if release:
            tx.delete(
                SlotLock(*items.slot_key(appointment.doctor_id, appointment.scheduled_at)),
                condition=SlotLock.appointment_id == appointment.appointment_id,
                label="old_slot",
            )
        if close_marker:
            tx.delete(items.marker("appointment", appointment.appointment_id))
        if notice:
            tx.emit(*notice.event())
