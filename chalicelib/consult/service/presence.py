"""Online status for instant text sessions, and the queue of requests waiting for a doctor.

``available`` lasts ``presence_idle_seconds`` after the doctor last said so (each
``available`` is a heartbeat that moves the one ``consult.presence`` timer of the doctor);
when it lapses the spine's timer turns it ``offline`` — conditionally, so a heartbeat that
won the race keeps the doctor available. A new text request is announced to an available
doctor at once; otherwise it waits in the doctor's queue (``GET /me/consult/queue``), and the
doctor hears how many wait when they become available."""

from __future__ import annotations

from chalicelib.consult.logic import Notice
from chalicelib.consult.models import doctors
from chalicelib.consult.models.doctor_items import Presence, QueueEntry
from chalicelib.consult.service.common import PRESENCE_LAPSE, drop_timer
from chalicelib.consult.service.doctors import require_doctor
from chalicelib.consult.settings import settings
from chalicelib.core import clock, timers
from chalicelib.core.observability import logger

AVAILABLE, BUSY, OFFLINE = "available", "busy", "offline"
STATUSES = (AVAILABLE, BUSY, OFFLINE)


def _notice(doctor_id: str, name: str, message: str, **detail: object) -> Notice:
    return Notice(f"doctor#{doctor_id}", name, {"doctor_id": doctor_id, **detail}, (doctor_id,), message)


def current(doctor_id: str, now: float | None = None) -> tuple[str, float | None]:
    """The doctor's status now (an ``available`` past its time reads ``offline`` even before
    its timer has run) and until when it lasts."""
    return effective(doctors.get_presence(doctor_id), clock.now() if now is None else now)


def effective(presence: Presence | None, now: float) -> tuple[str, float | None]:
    if presence is None:
        return OFFLINE, None
    if presence.status == AVAILABLE and (presence.until is None or float(presence.until) <= now):
        return OFFLINE, None
    until = float(presence.until) if presence.status == AVAILABLE and presence.until is not None else None
    return presence.status, until


def set_status(doctor_id: str, status: str) -> tuple[str, float | None, int]:
    """Mark the doctor ``status``; answers it, when ``available`` lapses, and how many wait."""
    require_doctor(doctor_id)
    now = clock.now()
    waiting = len(doctors.queue_of(doctor_id))
    until = None
    notice = None
    if status == AVAILABLE:
        until = round(now + settings().presence_idle_seconds, 3)
        # Intent first: the timer exists before the state that needs it; a stray one finds the
        # doctor not available (or available longer) and does nothing.
        timers.schedule(PRESENCE_LAPSE, doctor_id, until, {"doctor_id": doctor_id})
        was, _ = current(doctor_id, now)
        if waiting and was != AVAILABLE:
            notice = _notice(
                doctor_id, "RequestsWaiting", f"{waiting} patient(s) are waiting for you.", waiting=waiting
            )
    doctors.set_presence(doctor_id, status, until, now, notice)
    if status != AVAILABLE:
        drop_timer(PRESENCE_LAPSE, doctor_id)
    return status, until, waiting


def lapse(doctor_id: str) -> str:
    """The idle time ran out without a heartbeat: ``available → offline``, once."""
    presence = doctors.get_presence(doctor_id)
    now = clock.now()
    if presence is None or presence.status != AVAILABLE:
        return "skipped"
    if presence.until is not None and now < float(presence.until):
        return "not_due"
    notice = _notice(doctor_id, "PresenceLapsed", "You were set offline after a quiet spell.")
    if not doctors.lapse_presence(doctor_id, now, notice):
        return "skipped"
    logger.info("doctor presence lapsed", extra={"doctor_id": doctor_id})
    return "offline"


def routing(doctor_id: str) -> str:
    """Where a new text request goes: ``delivered`` to an available doctor, else ``queued``."""
    return "delivered" if current(doctor_id)[0] == AVAILABLE else "queued"


def queue(doctor_id: str, limit: int) -> list[QueueEntry]:
    return doctors.queue_of(doctor_id, limit)
