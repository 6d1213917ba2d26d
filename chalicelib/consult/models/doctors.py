"""The doctor registry, hours, presence and request queue: reads and conditional writes.

Every change to what decides a booking (status, weekly hours, an exception) moves the profile's
``version`` in the same write, conditioned on the version read, so two editors never overwrite
each other and a booking conditioned on the version it checked fails if either changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chalicelib.consult.logic import Notice
from chalicelib.consult.models import items
from chalicelib.consult.models.doctor_items import Doctor, Presence, QueueEntry, ScheduleException
from chalicelib.core import db

DOCTOR = "doctor"  # the label of a doctor's condition in any transaction
ACTIVE, PENDING, INACTIVE = "active", "pending", "inactive"


def get_doctor(doctor_id: str) -> Doctor | None:
    return db.get_or_none(Doctor, *items.doctor_key(doctor_id), consistent=True)


def bookable(version: int) -> Any:
    """The condition a booking puts on the profile: active, and unchanged since it was read."""
    return (Doctor.status == ACTIVE) & (Doctor.version == version)


def offers(kind: str) -> Any:
    """The condition a session or call puts on the profile: active and offering ``kind``."""
    return (Doctor.status == ACTIVE) & Doctor.modes.contains(kind)


def take_booking(tx: db.Tx, doctor_id: str, version: int) -> None:
    """Hold a booking to the doctor's state it was checked against (active, ``version``), and
    count it: a change of hours computed before this commits fails its own condition on the
    count, so it re-reads and lists this booking too (label ``doctor``)."""
    tx.update(
        Doctor(*items.doctor_key(doctor_id)),
        [Doctor.booked.add(1)],
        condition=bookable(version),
        label=DOCTOR,
    )


def unchanged(doctor: Doctor) -> Any:
    """The condition of a change of hours: the profile and its bookings are as read."""
    booked = int(doctor.booked or 0)
    taken = (Doctor.booked == booked) if booked else (Doctor.booked.does_not_exist() | (Doctor.booked == 0))
    return (Doctor.version == int(doctor.version)) & taken


def check(tx: db.Tx, doctor_id: str, condition: Any) -> None:
    """Put the doctor's ``condition`` in ``tx`` (label ``doctor``): a doctor deactivated or
    changed concurrently fails the whole transaction, so nothing is written."""
    tx.check(Doctor, *items.doctor_key(doctor_id), condition=condition, label=DOCTOR)


def add_doctor(doctor: Doctor) -> bool:
    """Store a new registry entry; ``False`` if the id exists."""
    return db.put_if_absent(doctor)


def update_doctor(
    doctor: Doctor, actions: list[Any], *, bump: bool, notice: Notice | None = None, hours: bool = False
) -> None:
    """Apply ``actions`` if the profile is still at the version read (moving it on when
    ``bump``) — and for a change of ``hours``, with no booking taken since it was read — with
    the news of it. Raises ``db.Refused`` (label ``doctor``)."""
    if bump:
        actions = [*actions, Doctor.version.set(int(doctor.version) + 1)]
    condition = unchanged(doctor) if hours else Doctor.version == int(doctor.version)
    with db.transact() as tx:
        tx.update(Doctor(*items.doctor_key(doctor.doctor_id)), actions, condition=condition, label=DOCTOR)
        if notice:
            tx.emit(*notice.event())


def set_exception(
    doctor: Doctor, exception: ScheduleException | None, day: str, now: float, notice: Notice | None
) -> None:
    """Put (or, with ``None``, remove) one dated exception and move the profile's version, in
    one transaction, if no booking was taken since the profile was read. Raises ``db.Refused``."""
    with db.transact() as tx:
        tx.update(
            Doctor(*items.doctor_key(doctor.doctor_id)),
            [Doctor.version.set(int(doctor.version) + 1), Doctor.updated_at.set(now)],
            condition=unchanged(doctor),
            label=DOCTOR,
        )
        if exception is None:
            tx.delete(ScheduleException(*items.exception_key(doctor.doctor_id, day)))
        else:
            tx.put(exception)
        if notice:
            tx.emit(*notice.event())


def exceptions_between(doctor_id: str, first: str, last: str) -> list[ScheduleException]:
    """The exceptions of local dates ``first`` … ``last`` (inclusive, ``YYYY-MM-DD``)."""
    partition, low = items.exception_key(doctor_id, first)
    high = items.exception_key(doctor_id, last)[1]
    return list(
        ScheduleException.query(partition, ScheduleException.sk.between(low, high), consistent_read=True)
    )


def list_doctors(status: str, after: str | None, condition: Any = None) -> Iterator[Doctor]:
    """Doctors in ``status`` by name, from after the cursor ``after``, filtered by ``condition``."""
    key = Doctor.gsi1sk > after if after else None
    return Doctor.by_doctor.query(items.doctors_listed(status), key, filter_condition=condition)


# --- presence and the request queue -------------------------------------------------------------


def get_presence(doctor_id: str) -> Presence | None:
    return db.get_or_none(Presence, *items.presence_key(doctor_id), consistent=True)


def presences(doctor_ids: list[str]) -> dict[str, Presence]:
    keys = [items.presence_key(d) for d in dict.fromkeys(doctor_ids)]
    return {p.doctor_id: p for p in Presence.batch_get(keys)} if keys else {}


def set_presence(doctor_id: str, status: str, until: float | None, now: float, notice: Notice | None) -> None:
    """Record the doctor's presence (a newer state wins; one item per doctor), with its news."""
    with db.transact() as tx:
        tx.put(
            Presence(
                *items.presence_key(doctor_id),
                doctor_id=doctor_id,
                status=status,
                until=until,
                changed_at=now,
            )
        )
        if notice:
            tx.emit(*notice.event())


def lapse_presence(doctor_id: str, now: float, notice: Notice) -> bool:
    """``available → offline`` once its time ran out without a heartbeat; ``False`` if the doctor
    changed state or sent one meanwhile (a later timer covers that)."""
    presence = Presence(*items.presence_key(doctor_id))

    def write() -> None:
        with db.transact() as tx:
            tx.update(
                presence,
                [Presence.status.set("offline"), Presence.until.remove(), Presence.changed_at.set(now)],
                condition=(Presence.status == "available") & (Presence.until <= now),
                label="presence",
            )
            tx.emit(*notice.event())

    return db.applied(write, refused_by="presence")


def queue_of(doctor_id: str, limit: int = 100) -> list[QueueEntry]:
    """The doctor's waiting text requests, oldest first."""
    partition = items.presence_key(doctor_id)[0]
    found = QueueEntry.query(
        partition, QueueEntry.sk.startswith(items.QUEUE), consistent_read=True, limit=limit
    )
    return list(found)


def queue_entry(doctor_id: str, session_id: str, patient_id: str, routing: str, now: float) -> QueueEntry:
    return QueueEntry(
        *items.queue_key(doctor_id, now, session_id),
        session_id=session_id,
        patient_id=patient_id,
        routing=routing,
        created_at=now,
    )
