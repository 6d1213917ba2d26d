"""What every consult flow shares: the timer kinds, who may act, and how a read-decide-write
step is repeated when what it read moves under it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from chalicelib.consult import logic
from chalicelib.core import db, timers
from chalicelib.core.auth import Principal
from chalicelib.core.errors import Conflict, Forbidden
from chalicelib.core.observability import logger

TICK = "consult.tick"
IDLE = "consult.idle"
PENDING_TIMEOUT = "consult.pending_timeout"
CONNECT_TIMEOUT = "consult.connect_timeout"
APPOINTMENT_EXPIRY = "consult.appointment_expiry"
PRESENCE_LAPSE = "consult.presence"  # a doctor's ``available`` runs out
RETRIES = 8

T = TypeVar("T")


def party_of(patient_id: str, doctor_id: str, principal: Principal) -> str:
    """The caller's role in a session/appointment; admins may read (role ``admin``), not act."""
    role = logic.party_role(patient_id, doctor_id, principal.sub)
    if role:
        return role
    if principal.is_admin:
        return "admin"
    raise Forbidden("only the patient and the doctor of this consultation may do this")


def acting_party(patient_id: str, doctor_id: str, principal: Principal) -> str:
    role = logic.party_role(patient_id, doctor_id, principal.sub)
    if role is None:
        raise Forbidden("only the patient and the doctor of this consultation may do this")
    return role


def reread_until_written(step: Callable[[], T]) -> T:
    """Run ``step`` (read, decide, one conditional write) until its write stands. A refused
    condition means what it read moved under it (a racing tick, end or message): it reads again
    at once. Contention alone waits ``db.retry_on_conflict``'s backoff. Exhausted: 409 busy."""
    for _ in range(RETRIES):
        try:
            return db.retry_on_conflict(step, attempts=RETRIES)
        except db.Refused as refused:
            if refused.conflict:
                break
    raise Conflict("the session is busy; please retry", code="busy")


def drop_timer(kind: str, key: str) -> None:
    """Cancel a timer the committed state no longer needs. Its failure is only logged: a timer
    left behind fires, finds its handler's condition false, and does nothing."""
    try:
        timers.cancel(kind, key)
    except Exception:
        logger.exception("timer not cancelled; it will fire and do nothing", extra={"kind": kind, "key": key})


def log(message: str, session_id: str, kind: str, **extra: Any) -> None:
    logger.info(message, extra={"session_id": session_id, "kind": kind, **extra})
