"""Text sessions and calls: opening, messages, activity, ending, and the timeouts of a request
no doctor answered and of a call that never connected.

Ordering rule: a timer a new state needs is scheduled *before* the write that creates the state
(intent first). If the write loses a race or the process dies in between, the stray timer fires,
fails its handler's condition and does nothing; the reverse order could leave a state waiting on
a timer that never exists. Each state change that users hear of carries its event (a ``Notice``)
in its own transaction.
"""

from __future__ import annotations

from chalicelib.consult import logic
from chalicelib.consult.models import billing, doctors, items, sessions
from chalicelib.consult.models.doctor_items import QueueEntry
from chalicelib.consult.models.items import LedgerEntry, Message, Session
from chalicelib.consult.service import metering, presence
from chalicelib.consult.service.common import (
    CONNECT_TIMEOUT,
    PENDING_TIMEOUT,
    acting_party,
    drop_timer,
    log,
    party_of,
    reread_until_written,
)
from chalicelib.consult.service.credits import require_credit
from chalicelib.consult.service.doctors import refusal, require_doctor
from chalicelib.consult.settings import award_for, settings
from chalicelib.core import clock, db, ids, timers
from chalicelib.core.auth import Principal
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.core.observability import logger


def load_session(session_id: str, principal: Principal, *, text: bool | None = None) -> tuple[Session, str]:
    session = sessions.get_session(session_id)
    if session is None or (text is not None and (session.kind == "text") != text):
        raise NotFound(
            f"no {'text session' if text else 'call' if text is False else 'session'} {session_id}"
        )
    return session, party_of(session.patient_id, session.doctor_id, principal)


def sessions_of(sub: str, role: str, limit: int, *, text: bool) -> list[Session]:
    """A party's text sessions or calls, newest first."""
    return [s for s in sessions.sessions_of(sub, role, limit) if (s.kind == "text") == text]


def messages(session_id: str, principal: Principal, limit: int, after: str | None) -> list[Message]:
    load_session(session_id, principal, text=True)
    return sessions.messages(session_id, limit, after)


def session_ledger(session_id: str, principal: Principal) -> list[LedgerEntry]:
    load_session(session_id, principal)
    return billing.ledger_of_session(session_id)


def _new_session(
    prefix: str, kind: str, patient_id: str, doctor_id: str, status: str, now: float, **fields: object
) -> Session:
    return items.new_session(
        ids.new_id(prefix),
        kind,
        patient_id,
        doctor_id,
        status,
        now,
        award=award_for(kind),
        interval_seconds=settings().interval_seconds,
        **fields,
    )


# --- text sessions ----------------------------------------------------------------------------


def _open(
    session: Session, timer: str, due: float, notice: logic.Notice | None, queued: QueueEntry | None = None
) -> None:
    """Schedule the session's timeout, then store it — only if the doctor is still active and
    offers its mode (checked in the same transaction): else nothing is written (the timer
    dropped) and the answer says why."""
    timers.schedule(timer, session.session_id, due, {"session_id": session.session_id})
    try:
        db.retry_on_conflict(lambda: sessions.create(session, notice, queued))
    except db.Refused as refused:
        drop_timer(timer, session.session_id)
        if refused.by(doctors.DOCTOR):
            raise refusal(session.doctor_id, session.kind) from None
        raise


def create_text_session(principal: Principal, doctor_id: str) -> Session:
    """A text request: announced to the doctor at once if available, else it waits in the
    doctor's queue (``routing``); either way it expires unanswered after the pending timeout."""
    if doctor_id == principal.sub:
        raise BadRequest("you cannot open a session with yourself", code="same_party")
    require_doctor(doctor_id, "text")
    require_credit(principal.sub, "text")
    now = clock.now()
    route = presence.routing(doctor_id)
    session = _new_session("ses_", "text", principal.sub, doctor_id, logic.PENDING, now, routing=route)
    notice = None
    if route == "delivered":
        notice = logic.session_notice(
            session.session_id,
            "SessionRequested",
            [doctor_id],
            "A patient is waiting for you in a text consultation.",
            kind="text",
            patient_id=principal.sub,
        )
    entry = doctors.queue_entry(doctor_id, session.session_id, principal.sub, route, now)
    _open(session, PENDING_TIMEOUT, now + settings().pending_timeout_seconds, notice, entry)
    return session


def send_message(session_id: str, principal: Principal, body: str) -> Message:
    """Store a message from a party; the doctor's first message activates the session (once)."""

    def step() -> Message:
        session, _ = load_session(session_id, principal, text=True)
        role = acting_party(session.patient_id, session.doctor_id, principal)
        if session.status not in (logic.PENDING, logic.ACTIVE):
            raise Conflict(f"this session is {session.status}; no more messages", code="session_closed")
        now = round(clock.now(), 3)
        message = items.new_message(
            session_id, ids.new_id(), sender_id=principal.sub, sender_role=role, body=body, created_at=now
        )
        if session.status == logic.PENDING and role == "doctor":
            _activate(session, message, now)
            return message
        attr = Session.patient_active_at if role == "patient" else Session.doctor_active_at
        sessions.put_message(
            message, session_id, session.status, [attr.set(now), Session.updated_at.set(now)]
        )
        return message

    return reread_until_written(step)


def _activate(session: Session, message: Message, now: float) -> None:
    meter = metering.start_metering(session, now)
    notice = logic.session_notice(
        session.session_id,
        "SessionActivated",
        [session.patient_id],
        "Your doctor has joined the text consultation.",
        kind="text",
    )
    try:
        sessions.activate(message, session, now, notice)
    except Exception:
        metering.drop_stray_tick(meter)
        raise
    drop_timer(PENDING_TIMEOUT, session.session_id)
    log("session activated", meter.session_id, meter.kind)


def record_activity(session_id: str, principal: Principal) -> Session:
    session, _ = load_session(session_id, principal, text=True)
    role = acting_party(session.patient_id, session.doctor_id, principal)
    if not sessions.touch(session_id, role, clock.now()):
        current = sessions.get_session(session_id)
        status = current.status if current else "gone"
        raise Conflict(
            f"activity is recorded only while the session is active (it is {status})", code="not_active"
        )
    return sessions.get_session(session_id)  # type: ignore[return-value]


def end_session(session_id: str, principal: Principal, *, text: bool) -> Session:
    """Manual end by a party: a pending text request is cancelled, a connecting call ends
    unconnected (no charge), a metered one is billed through the interval in progress. Ending
    an ended session returns it unchanged."""
    session, _ = load_session(session_id, principal, text=text)
    acting_party(session.patient_id, session.doctor_id, principal)
    if session.status == logic.PENDING:
        if sessions.close_unmetered(session, logic.PENDING, logic.CANCELLED, "ended_reason", logic.MANUAL):
            drop_timer(PENDING_TIMEOUT, session_id)
    elif session.status == logic.CONNECTING and sessions.close_unmetered(
        session, logic.CONNECTING, logic.ENDED, "ended_reason", logic.NOT_CONNECTED
    ):
        drop_timer(CONNECT_TIMEOUT, session_id)
    current = sessions.get_session(session_id)
    if current is not None and current.status in logic.METERING:
        return metering.settle(session_id, logic.MANUAL)  # type: ignore[return-value]
    return current  # type: ignore[return-value]


def expire_pending(session_id: str) -> str:
    """A text request no doctor answered within ``pending_timeout_seconds``."""
    session = sessions.get_session(session_id)
    if session is None or session.status != logic.PENDING:
        return "skipped"
    if clock.now() < session.created_at + settings().pending_timeout_seconds:
        return "not_due"
    notice = logic.session_notice(
        session_id,
        "SessionExpired",
        [session.patient_id],
        "No doctor answered your text consultation request in time; no credit was used.",
        kind="text",
    )
    if not sessions.close_unmetered(
        session, logic.PENDING, logic.EXPIRED, "ended_reason", "no_response", notice
    ):
        return "skipped"
    logger.info("session expired unanswered", extra={"session_id": session_id})
    return "expired"


# --- calls ------------------------------------------------------------------------------------


def start_call(principal: Principal, doctor_id: str, kind: str) -> Session:
    if doctor_id == principal.sub:
        raise BadRequest("you cannot call yourself", code="same_party")
    require_doctor(doctor_id, kind)
    require_credit(principal.sub, kind)
    now = clock.now()
    call = _new_session("call_", kind, principal.sub, doctor_id, logic.CONNECTING, now)
    timeout = settings().call_connect_timeout_seconds
    notice = logic.session_notice(
        call.session_id,
        "CallStarted",
        [doctor_id],
        f"Incoming {kind} call from a patient.",
        kind=kind,
        patient_id=principal.sub,
    )
    _open(call, CONNECT_TIMEOUT, now + timeout, notice)
    return call


def call_connected(session_id: str, principal: Principal) -> Session:
    """``connecting → connected`` before the timeout runs out; metering starts now."""
    call, _ = load_session(session_id, principal, text=False)
    acting_party(call.patient_id, call.doctor_id, principal)
    if call.status == logic.CONNECTED:
        return call
    if call.status != logic.CONNECTING:
        raise Conflict(f"this call is {call.status}", code="call_not_connecting")
    timeout = settings().call_connect_timeout_seconds
    now = round(clock.now(), 3)
    if now >= call.created_at + timeout:
        fail_call(session_id)
        raise Conflict(logic.CONNECTION_TIMEOUT_REASON.format(seconds=_secs(timeout)), code="call_timed_out")
    meter = metering.start_metering(call, now)
    if not sessions.connect(session_id, now, now - timeout):
        metering.drop_stray_tick(meter)
        current = sessions.get_session(session_id)
        if current is not None and current.status == logic.CONNECTED:
            return current
        raise Conflict(f"this call is {current.status if current else 'gone'}", code="call_not_connecting")
    drop_timer(CONNECT_TIMEOUT, session_id)
    log("call connected", meter.session_id, meter.kind)
    return sessions.get_session(session_id)  # type: ignore[return-value]


def _secs(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def fail_call(session_id: str) -> str:
    """The connection timeout: a call still connecting becomes ``failed`` — no charge — and the
    patient is told (``CallFailed``, in the same transaction). Once."""
    call = sessions.get_session(session_id)
    if call is None or call.status != logic.CONNECTING:
        return "skipped"
    timeout = settings().call_connect_timeout_seconds
    if clock.now() < call.created_at + timeout:
        return "not_due"
    reason = logic.CONNECTION_TIMEOUT_REASON.format(seconds=_secs(timeout))
    notice = logic.session_notice(
        session_id,
        "CallFailed",
        [call.patient_id],
        f"Your {call.kind} call could not be connected ({reason}). No credit was used.",
        kind=call.kind,
        reason=reason,
    )
    if not sessions.close_unmetered(call, logic.CONNECTING, logic.FAILED, "failure_reason", reason, notice):
        return "skipped"
    logger.info("call failed", extra={"session_id": session_id, "kind": call.kind, "reason": reason})
    return "failed"
