"""Consult use cases: what the API routes, the timer handlers and the CLI call.

The routes and handlers stay thin; the rules are in ``logic``, the conditional writes in
``models``; here they are put in order, with the timers and events around them.

Ordering rule: a timer a new state needs is scheduled *before* the write that creates the state
(intent first). If the write loses a race or the process dies in between, the stray timer fires,
fails its handler's condition and does nothing; the reverse order could leave a state waiting on
a timer that never exists. (Ticks are the exception: tick *i+1* is scheduled after tick *i*
commits, and a re-run of tick *i* re-ensures it — so ended sessions leave no chain of strays.)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.consult import logic, models
from chalicelib.consult.models import Cancelled, Meter, Session
from chalicelib.consult.settings import award_for, settings
from chalicelib.core import clock, events, ids, timers
from chalicelib.core.auth import Principal
from chalicelib.core.errors import BadRequest, Conflict, Forbidden, NotFound, PaymentRequired, Unprocessable
from chalicelib.core.observability import MetricUnit, logger, metrics

DOMAIN = "consult"
TICK = "consult.tick"
IDLE = "consult.idle"
PENDING_TIMEOUT = "consult.pending_timeout"
CONNECT_TIMEOUT = "consult.connect_timeout"
APPOINTMENT_EXPIRY = "consult.appointment_expiry"
RETRIES = 8
START_GRACE_SECONDS = 60  # how long tick 1 waits for the start (activation, connection) it was scheduled for


def notify(name: str, detail: dict[str, Any], recipients: list[str], message: str) -> None:
    """Publish a domain event addressed to users' inboxes. After the commit, best effort: the
    state change stands whether or not the bus takes the event (logged if it does not)."""
    try:
        events.publish(DOMAIN, name, {**detail, "recipients": recipients, "message": message})
    except Exception:
        logger.exception("event not published", extra={"event": name, **detail})


def _backoff(attempt: int) -> None:
    """Jittered pause after a transaction conflict (DynamoDB refuses concurrent transactions on
    one item rather than queueing them)."""
    time.sleep(random.uniform(0, 0.02 * (2**attempt)))


def _best_effort(fn: Callable[[], Any], what: str, **extra: Any) -> None:
    try:
        fn()
    except Exception:
        logger.exception(f"{what} failed", extra=extra)


# --- access -----------------------------------------------------------------------------------


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


def load_session(session_id: str, principal: Principal, *, text: bool | None = None) -> tuple[Session, str]:
    session = models.get_session(session_id)
    if session is None or (text is not None and (session.kind == "text") != text):
        raise NotFound(
            f"no {'text session' if text else 'call' if text is False else 'session'} {session_id}"
        )
    return session, party_of(session.patient_id, session.doctor_id, principal)


# --- credits ----------------------------------------------------------------------------------


def require_credit(patient_id: str, kind: str) -> None:
    subscription = models.get_subscription(patient_id)
    label = {"text": "text session", "voice": "voice call", "video": "video call"}[kind]
    if subscription is None or subscription.status != "active":
        raise PaymentRequired(
            f"You need an active subscription with {label} credits. Please subscribe to a plan.",
            code="no_active_subscription",
        )
    if subscription.remaining(kind) < 1:
        raise PaymentRequired(
            f"You have no {label} credits left. Please top up or renew your plan.", code="no_credits"
        )


# --- the metering engine (text sessions and connected calls alike) ------------------------------


def tick_key(meter: Meter, interval: int) -> str:
    return f"{meter.session_id}:{round(meter.started_at * 1000)}:{interval}"


def schedule_tick(meter: Meter, interval: int) -> None:
    due = logic.tick_due(meter.started_at, interval, meter.interval_seconds)
    timers.schedule(TICK, tick_key(meter, interval), due, {**meter.payload(), "interval": interval})


def _log(message: str, meter: Meter, **extra: Any) -> None:
    logger.info(message, extra={"session_id": meter.session_id, "kind": meter.kind, **extra})


def start_metering(session: Session, now: float) -> Meter:
    """The meter of a session about to start at ``now``: tick 1 is scheduled before the start
    is written (intent first); a start that loses its race cancels it."""
    meter = Meter(
        session.session_id,
        session.kind,
        session.patient_id,
        session.doctor_id,
        now,
        int(session.award),
        float(session.interval_seconds),
    )
    schedule_tick(meter, 1)
    if session.kind == "text":
        due = logic.idle_due(now, None, settings().idle_seconds)
        timers.schedule(
            IDLE, f"{session.session_id}:{round(due * 1000)}", due, {"session_id": session.session_id}
        )
    return meter


def _drop_stray_tick(meter: Meter) -> None:
    """A start that lost its race cancels the tick it scheduled — unless the winner started at
    the very same instant, in which case that tick is the winner's too."""
    current = models.get_session(meter.session_id)
    if current is None or current.metered_from != meter.started_at:
        _best_effort(lambda: timers.cancel(TICK, tick_key(meter, 1)), "cancel stray tick")


def tick(meter: Meter, interval: int) -> str:
    """Bill interval ``interval`` at its due time: one TransactWrite in the common case, reading
    nothing (the meter rides in the timer). ``keep=1`` makes the write succeed only if a credit
    remains afterwards, so the tick that takes the last credit is the one that ends the session."""
    now = clock.now()
    for attempt in range(RETRIES):
        try:
            models.bill(meter, interval - 1, 1, end_reason=None, keep=1, now=now)
        except Cancelled as refused:
            if refused.failed(models.SESSION_ACTION):
                return _tick_skipped(meter, interval)
            if refused.failed(models.SUBSCRIPTION_ACTION):
                return _last_tick(meter, interval, now)
            _backoff(attempt)
            continue
        schedule_tick(meter, interval + 1)
        _log("auto-deduction processed", meter, interval=interval, credits=1, award=meter.award)
        metrics.add_metric(name="ConsultDeductions", unit=MetricUnit.Count, value=1)
        return "billed"
    raise RuntimeError(f"tick {interval} of {meter.session_id}: transaction kept conflicting")


def _tick_skipped(meter: Meter, interval: int) -> str:
    """The session moved on without this tick (billed already, ended, restarted): nothing to do,
    except re-ensuring the next tick in case this is the re-run of a tick that died after its
    commit and before scheduling it."""
    session = models.get_session(meter.session_id)
    if (
        session is not None
        and interval == 1
        and session.status in (logic.PENDING, logic.CONNECTING)
        and clock.now() < meter.started_at + START_GRACE_SECONDS
    ):
        # Intent first: tick 1 exists before the start is written, and on a slow write (or a
        # short interval) it can come first. Look again shortly; a start that never lands
        # (lost race, crash) leaves the session unstarted past the grace, and the tick lapses.
        due = clock.now() + 1
        timers.schedule(TICK, tick_key(meter, 1), due, {**meter.payload(), "interval": 1})
        _log("auto-deduction deferred - session not started yet", meter, interval=interval)
        return "deferred"
    if (
        session is not None
        and session.status in logic.METERING
        and session.metered_from == meter.started_at
        and int(session.billed) >= interval
    ):
        schedule_tick(meter, int(session.billed) + 1)
    _log("auto-deduction skipped - already processed", meter, interval=interval)
    return "skipped"


def _last_tick(meter: Meter, interval: int, now: float) -> str:
    """Fewer than two credits (or an inactive subscription): bill the last one and end, or end
    without billing when there is none."""
    for attempt in range(RETRIES):
        subscription = models.get_subscription(meter.patient_id)
        active = subscription is not None and subscription.status == "active"
        count = 1 if active and subscription.remaining(meter.kind) >= 1 else 0  # type: ignore[union-attr]
        reason = logic.CREDITS_EXHAUSTED if active or subscription is None else logic.SUBSCRIPTION_INACTIVE
        try:
            models.bill(meter, interval - 1, count, end_reason=reason, now=now)
        except Cancelled as refused:
            if refused.failed(models.SESSION_ACTION):
                return _tick_skipped(meter, interval)
            if not refused.failed(models.SUBSCRIPTION_ACTION):
                _backoff(attempt)
            continue
        if count:
            _log("auto-deduction processed", meter, interval=interval, credits=1, award=meter.award)
            metrics.add_metric(name="ConsultDeductions", unit=MetricUnit.Count, value=1)
        _ended(meter, interval - 1 + count, reason)
        return "ended"
    raise RuntimeError(f"last tick {interval} of {meter.session_id}: transaction kept conflicting")


def _ended(meter: Meter, billed: int, reason: str) -> None:
    _log("session ending processed", meter, intervals_billed=billed, reason=reason)
    _best_effort(lambda: timers.cancel(TICK, tick_key(meter, billed + 1)), "cancel next tick")
    what = "text session" if meter.kind == "text" else f"{meter.kind} call"
    notify(
        "SessionEnded",
        {"session_id": meter.session_id, "kind": meter.kind, "reason": reason, "intervals_billed": billed},
        [meter.patient_id, meter.doctor_id],
        f"Your {what} has ended ({reason.replace('_', ' ')}); {billed} credit(s) used.",
    )


def settle(session_id: str, reason: str | None) -> Session | None:
    """Bring a metered session's billing up to date; with ``reason``, end it.

    Manual end bills through the interval in progress, idle end what is owed (see
    ``logic.end_target``), ``None`` (reconcile) every elapsed interval — each as far as credits
    allow. Every attempt is one TransactWrite conditioned on the session's billed count, so a
    racing tick, a second end or the auto-end make it retry on fresh data, never bill twice.
    """
    cfg = settings()
    for attempt in range(RETRIES):
        session = models.get_session(session_id)
        if session is None or session.status not in logic.METERING:
            return session
        meter = Meter.of(session)
        now = clock.now()
        billed = int(session.billed)
        target = logic.end_target(
            reason or "reconcile", meter.started_at, now, meter.interval_seconds, session.last_activity
        )
        owed = max(0, target - billed)
        subscription = models.get_subscription(session.patient_id)
        active = subscription is not None and subscription.status == "active"
        available = subscription.remaining(session.kind) if active else 0  # type: ignore[union-attr]
        count = min(owed, available, cfg.max_intervals_per_end)
        end = reason
        if end is None and (count < owed or (count and available == count)):
            end = logic.CREDITS_EXHAUSTED if active else logic.SUBSCRIPTION_INACTIVE
        if end is None and count == 0:
            schedule_tick(meter, billed + 1)  # nothing owed: just make sure the next tick exists
            return session
        try:
            models.bill(meter, billed, count, end_reason=end, now=now)
        except Cancelled as refused:
            if not (refused.failed(models.SESSION_ACTION) or refused.failed(models.SUBSCRIPTION_ACTION)):
                _backoff(attempt)
            continue
        for n in range(billed + 1, billed + count + 1):
            _log("auto-deduction processed", meter, interval=n, credits=1, award=meter.award, reason=end)
        if count:
            metrics.add_metric(name="ConsultDeductions", unit=MetricUnit.Count, value=count)
        if end == logic.MANUAL:
            _log("session ended manually", meter, intervals_billed=billed + count)
        if end:
            _ended(meter, billed + count, end)
        else:
            schedule_tick(meter, billed + count + 1)
        return models.get_session(session_id)
    raise Conflict("the session is busy; please retry", code="busy")


def idle_check(session_id: str) -> str:
    """The idle timer: end the session if nobody was active for ``idle_seconds``, else look again
    when that could first be true (activity only writes a timestamp; this timer re-arms itself)."""
    session = models.get_session(session_id)
    if session is None or session.status != logic.ACTIVE:
        return "skipped"
    idle = settings().idle_seconds
    due = logic.idle_due(float(session.metered_from), session.last_activity, idle)
    if clock.now() >= due:
        settle(session_id, logic.IDLE)
        return "ended"
    timers.schedule(IDLE, f"{session_id}:{round(due * 1000)}", due, {"session_id": session_id})
    return "rearmed"


# --- text sessions ----------------------------------------------------------------------------


def create_text_session(principal: Principal, doctor_id: str) -> Session:
    if doctor_id == principal.sub:
        raise BadRequest("you cannot open a session with yourself", code="same_party")
    require_credit(principal.sub, "text")
    cfg = settings()
    now = clock.now()
    session = _new_session("ses_", "text", principal.sub, doctor_id, logic.PENDING, now)
    timers.schedule(
        PENDING_TIMEOUT,
        session.session_id,
        now + cfg.pending_timeout_seconds,
        {"session_id": session.session_id},
    )
    models.create_session(session)
    notify(
        "SessionRequested",
        {"session_id": session.session_id, "kind": "text", "patient_id": principal.sub},
        [doctor_id],
        "A patient is waiting for you in a text consultation.",
    )
    return session


def _new_session(prefix: str, kind: str, patient_id: str, doctor_id: str, status: str, now: float) -> Session:
    session_id = ids.new_id(prefix)
    created = f"SESSION#{models._stamp(now)}#{session_id}"
    return Session(
        *models.session_key(session_id),
        session_id=session_id,
        kind=kind,
        patient_id=patient_id,
        doctor_id=doctor_id,
        status=status,
        created_at=now,
        billed=0,
        award=award_for(kind),
        interval_seconds=settings().interval_seconds,
        gsi1pk=f"DOCTOR#{doctor_id}",
        gsi1sk=created,
        gsi2pk=f"PATIENT#{patient_id}",
        gsi2sk=created,
    )


def send_message(session_id: str, principal: Principal, body: str) -> models.Message:
    """Store a message from a party; the doctor's first message activates the session (once)."""
    for attempt in range(RETRIES):
        session, _ = load_session(session_id, principal, text=True)
        role = acting_party(session.patient_id, session.doctor_id, principal)
        if session.status not in (logic.PENDING, logic.ACTIVE):
            raise Conflict(f"this session is {session.status}; no more messages", code="session_closed")
        now = round(clock.now(), 3)
        message_id = ids.new_id()
        message = models.Message(
            f"SESSION#{session_id}",
            f"MSG#{message_id}",
            message_id=message_id,
            session_id=session_id,
            sender_id=principal.sub,
            sender_role=role,
            body=body,
            created_at=now,
        )
        if session.status == logic.PENDING and role == "doctor":
            meter = start_metering(session, now)
            try:
                models.activate(message, session_id, now)
            except Cancelled:
                _drop_stray_tick(meter)
                _backoff(attempt)
                continue
            _best_effort(lambda: timers.cancel(PENDING_TIMEOUT, session_id), "cancel pending timeout")
            _log("session activated", meter)
            notify(
                "SessionActivated",
                {"session_id": session_id, "kind": "text"},
                [session.patient_id],
                "Your doctor has joined the text consultation.",
            )
            return message
        attr = models.Session.patient_active_at if role == "patient" else models.Session.doctor_active_at
        try:
            models.put_message(
                message, session_id, session.status, [attr.set(now), Session.updated_at.set(now)]
            )
        except Cancelled:
            _backoff(attempt)
            continue
        return message
    raise Conflict("the session is busy; please retry", code="busy")


def record_activity(session_id: str, principal: Principal) -> Session:
    session, _ = load_session(session_id, principal, text=True)
    role = acting_party(session.patient_id, session.doctor_id, principal)
    if not models.touch(session_id, role, clock.now()):
        current = models.get_session(session_id)
        status = current.status if current else "gone"
        raise Conflict(
            f"activity is recorded only while the session is active (it is {status})", code="not_active"
        )
    return models.get_session(session_id)  # type: ignore[return-value]


def end_session(session_id: str, principal: Principal, *, text: bool) -> Session:
    """Manual end by a party: a pending text request is cancelled, a connecting call ends
    unconnected (no charge), a metered one is billed through the interval in progress. Ending
    an ended session returns it unchanged."""
    session, _ = load_session(session_id, principal, text=text)
    acting_party(session.patient_id, session.doctor_id, principal)
    if session.status == logic.PENDING:
        if models.close_unmetered(session_id, logic.PENDING, logic.CANCELLED, "ended_reason", logic.MANUAL):
            _best_effort(lambda: timers.cancel(PENDING_TIMEOUT, session_id), "cancel pending timeout")
    elif session.status == logic.CONNECTING and models.close_unmetered(
        session_id, logic.CONNECTING, logic.ENDED, "ended_reason", logic.NOT_CONNECTED
    ):
        _best_effort(lambda: timers.cancel(CONNECT_TIMEOUT, session_id), "cancel connect timeout")
    current = models.get_session(session_id)
    if current is not None and current.status in logic.METERING:
        return settle(session_id, logic.MANUAL)  # type: ignore[return-value]
    return current  # type: ignore[return-value]


def expire_pending(session_id: str) -> str:
    """A text request no doctor answered within ``pending_timeout_seconds``."""
    session = models.get_session(session_id)
    if session is None or session.status != logic.PENDING:
        return "skipped"
    if clock.now() < session.created_at + settings().pending_timeout_seconds:
        return "not_due"
    if not models.close_unmetered(session_id, logic.PENDING, logic.EXPIRED, "ended_reason", "no_response"):
        return "skipped"
    logger.info("session expired unanswered", extra={"session_id": session_id})
    notify(
        "SessionExpired",
        {"session_id": session_id, "kind": "text"},
        [session.patient_id],
        "No doctor answered your text consultation request in time; no credit was used.",
    )
    return "expired"


# --- calls ------------------------------------------------------------------------------------


def start_call(principal: Principal, doctor_id: str, kind: str) -> Session:
    if doctor_id == principal.sub:
        raise BadRequest("you cannot call yourself", code="same_party")
    require_credit(principal.sub, kind)
    now = clock.now()
    call = _new_session("call_", kind, principal.sub, doctor_id, logic.CONNECTING, now)
    timeout = settings().call_connect_timeout_seconds
    timers.schedule(CONNECT_TIMEOUT, call.session_id, now + timeout, {"session_id": call.session_id})
    models.create_session(call)
    notify(
        "CallStarted",
        {"session_id": call.session_id, "kind": kind, "patient_id": principal.sub},
        [doctor_id],
        f"Incoming {kind} call from a patient.",
    )
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
    meter = start_metering(call, now)
    if not models.connect(session_id, now, now - timeout):
        _drop_stray_tick(meter)
        current = models.get_session(session_id)
        if current is not None and current.status == logic.CONNECTED:
            return current
        raise Conflict(f"this call is {current.status if current else 'gone'}", code="call_not_connecting")
    _best_effort(lambda: timers.cancel(CONNECT_TIMEOUT, session_id), "cancel connect timeout")
    _log("call connected", meter)
    return models.get_session(session_id)  # type: ignore[return-value]


def _secs(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def fail_call(session_id: str) -> str:
    """The connection timeout: a call still connecting becomes ``failed`` — no charge — and the
    patient is told (``CallFailed``). Once."""
    call = models.get_session(session_id)
    if call is None or call.status != logic.CONNECTING:
        return "skipped"
    timeout = settings().call_connect_timeout_seconds
    if clock.now() < call.created_at + timeout:
        return "not_due"
    reason = logic.CONNECTION_TIMEOUT_REASON.format(seconds=_secs(timeout))
    if not models.close_unmetered(session_id, logic.CONNECTING, logic.FAILED, "failure_reason", reason):
        return "skipped"
    logger.info("call failed", extra={"session_id": session_id, "kind": call.kind, "reason": reason})
    notify(
        "CallFailed",
        {"session_id": session_id, "kind": call.kind, "reason": reason},
        [call.patient_id],
        f"Your {call.kind} call could not be connected ({reason}). No credit was used.",
    )
    return "failed"


# --- appointments -----------------------------------------------------------------------------


def _appointment_or_404(appointment_id: str, principal: Principal) -> tuple[models.Appointment, str]:
    appointment = models.get_appointment(appointment_id)
    if appointment is None:
        raise NotFound(f"no appointment {appointment_id}")
    return appointment, party_of(appointment.patient_id, appointment.doctor_id, principal)


def _check_slot(at: datetime) -> float:
    error = logic.slot_error(at, clock.now(), settings().slot_minutes)
    if error:
        raise Unprocessable(error, code="invalid_slot")
    return at.timestamp()


def _slot_taken() -> Conflict:
    return Conflict(logic.SLOT_TAKEN_MESSAGE, code="slot_taken")


def book(principal: Principal, doctor_id: str, at: datetime, note: str | None) -> models.Appointment:
    """Book a slot: the appointment and its slot lock in one transaction, so exactly one booking
    of a slot succeeds however many race."""
    if doctor_id == principal.sub:
        raise BadRequest("you cannot book yourself", code="same_party")
    scheduled = _check_slot(at)
    if models.slot_holder(doctor_id, scheduled):
        raise _slot_taken()  # cheap refusal; the transaction below decides races
    now = clock.now()
    appointment_id = ids.new_id("apt_")
    due, _ = logic.appointment_expiry(now, scheduled, settings().appointment_pending_seconds)
    timers.schedule(APPOINTMENT_EXPIRY, appointment_id, due, {"appointment_id": appointment_id})
    sort = f"APPT#{models._stamp(scheduled)}#{appointment_id}"
    appointment = models.Appointment(
        *models.appointment_key(appointment_id),
        appointment_id=appointment_id,
        patient_id=principal.sub,
        doctor_id=doctor_id,
        scheduled_at=scheduled,
        status=logic.A_PENDING,
        note=note,
        created_at=now,
        gsi1pk=f"DOCTOR#{doctor_id}",
        gsi1sk=sort,
        gsi2pk=f"PATIENT#{principal.sub}",
        gsi2sk=sort,
    )
    if not models.book(appointment):
        _best_effort(lambda: timers.cancel(APPOINTMENT_EXPIRY, appointment_id), "cancel stray expiry")
        raise _slot_taken()
    notify(
        "AppointmentBooked",
        {"appointment_id": appointment_id, "scheduled_at": at.isoformat()},
        [doctor_id],
        f"New appointment request for {clock.to_datetime(scheduled):%Y-%m-%d %H:%M} UTC.",
    )
    return appointment


def _transition(
    appointment: models.Appointment, expected: tuple[str, ...], actions: list[Any], **kwargs: Any
) -> models.Appointment:
    try:
        models.transition(appointment, expected, actions, **kwargs)
    except Cancelled as refused:
        if refused.failed("new_slot") and not refused.failed("appointment"):
            raise _slot_taken() from None
        current = models.get_appointment(appointment.appointment_id)
        status = current.status if current else "gone"
        raise Conflict(
            f"this appointment is {status}; that is not possible now", code="invalid_state"
        ) from None
    return models.get_appointment(appointment.appointment_id)  # type: ignore[return-value]


def confirm(appointment_id: str, principal: Principal) -> models.Appointment:
    appointment, _ = _appointment_or_404(appointment_id, principal)
    if acting_party(appointment.patient_id, appointment.doctor_id, principal) != "doctor":
        raise Forbidden("only the doctor confirms an appointment")
    result = _transition(
        appointment,
        (logic.A_PENDING,),
        [models.Appointment.status.set(logic.A_CONFIRMED), models.Appointment.updated_at.set(clock.now())],
        close_marker=True,
    )
    _best_effort(lambda: timers.cancel(APPOINTMENT_EXPIRY, appointment_id), "cancel expiry")
    notify(
        "AppointmentConfirmed",
        {"appointment_id": appointment_id},
        [appointment.patient_id],
        "Your appointment is confirmed.",
    )
    return result


def propose_reschedule(appointment_id: str, principal: Principal, at: datetime) -> models.Appointment:
    """Move the appointment to a new slot (the lock moves with it, atomically) and ask the other
    party to accept."""
    appointment, _ = _appointment_or_404(appointment_id, principal)
    role = acting_party(appointment.patient_id, appointment.doctor_id, principal)
    scheduled = _check_slot(at)
    if scheduled == appointment.scheduled_at:
        raise Unprocessable("that is already the appointment's time", code="same_slot")
    sort = f"APPT#{models._stamp(scheduled)}#{appointment_id}"
    A = models.Appointment
    result = _transition(
        appointment,
        logic.HOLDING,
        [
            A.status.set(logic.A_RESCHEDULE),
            A.previous_scheduled_at.set(appointment.scheduled_at),
            A.scheduled_at.set(scheduled),
            A.proposed_by.set(role),
            A.gsi1sk.set(sort),
            A.gsi2sk.set(sort),
            A.updated_at.set(clock.now()),
        ],
        take_at=scheduled,
        release=True,
        close_marker=True,
    )
    _best_effort(lambda: timers.cancel(APPOINTMENT_EXPIRY, appointment_id), "cancel expiry")
    other = appointment.doctor_id if role == "patient" else appointment.patient_id
    notify(
        "AppointmentRescheduleProposed",
        {"appointment_id": appointment_id, "scheduled_at": at.isoformat()},
        [other],
        f"A new time was proposed for your appointment: {clock.to_datetime(scheduled):%Y-%m-%d %H:%M} UTC.",
    )
    return result


def accept_reschedule(appointment_id: str, principal: Principal) -> models.Appointment:
    appointment, _ = _appointment_or_404(appointment_id, principal)
    role = acting_party(appointment.patient_id, appointment.doctor_id, principal)
    if appointment.status == logic.A_RESCHEDULE and appointment.proposed_by == role:
        raise Forbidden("the other party accepts a proposed time", code="own_proposal")
    result = _transition(
        appointment,
        (logic.A_RESCHEDULE,),
        [models.Appointment.status.set(logic.A_CONFIRMED), models.Appointment.updated_at.set(clock.now())],
    )
    other = appointment.doctor_id if role == "patient" else appointment.patient_id
    notify(
        "AppointmentConfirmed",
        {"appointment_id": appointment_id},
        [other],
        "The new appointment time was accepted.",
    )
    return result


def cancel_appointment(appointment_id: str, principal: Principal, reason: str | None) -> models.Appointment:
    appointment, _ = _appointment_or_404(appointment_id, principal)
    role = acting_party(appointment.patient_id, appointment.doctor_id, principal)
    A = models.Appointment
    result = _transition(
        appointment,
        logic.HOLDING,
        [
            A.status.set(logic.A_CANCELLED),
            A.cancelled_by.set(role),
            A.cancellation_reason.set(reason or f"Cancelled by {role}"),
            A.updated_at.set(clock.now()),
        ],
        release=True,
        close_marker=True,
    )
    _best_effort(lambda: timers.cancel(APPOINTMENT_EXPIRY, appointment_id), "cancel expiry")
    other = appointment.doctor_id if role == "patient" else appointment.patient_id
    notify(
        "AppointmentCancelled", {"appointment_id": appointment_id}, [other], "An appointment was cancelled."
    )
    return result


def complete(appointment_id: str, principal: Principal) -> models.Appointment:
    appointment, _ = _appointment_or_404(appointment_id, principal)
    if acting_party(appointment.patient_id, appointment.doctor_id, principal) != "doctor":
        raise Forbidden("only the doctor completes an appointment")
    if clock.now() < appointment.scheduled_at:
        raise Conflict("an appointment completes after its time", code="not_yet")
    return _transition(
        appointment,
        (logic.A_CONFIRMED,),
        [models.Appointment.status.set(logic.A_COMPLETED), models.Appointment.updated_at.set(clock.now())],
    )


def expire_appointment(appointment_id: str) -> str:
    """A pending appointment whose time passed or that waited 24 h: cancelled by the system,
    slot released, patient told (``AppointmentExpired``). Once."""
    appointment = models.get_appointment(appointment_id)
    if appointment is None or appointment.status != logic.A_PENDING:
        return "skipped"
    due, why = logic.appointment_expiry(
        appointment.created_at, appointment.scheduled_at, settings().appointment_pending_seconds
    )
    if clock.now() < due:
        return "not_due"
    reason = logic.expiry_reason(why)
    A = models.Appointment
    try:
        models.transition(
            appointment,
            (logic.A_PENDING,),
            [
                A.status.set(logic.A_CANCELLED),
                A.cancelled_by.set("system"),
                A.cancellation_reason.set(reason),
                A.updated_at.set(clock.now()),
            ],
            release=True,
            close_marker=True,
        )
    except Cancelled:
        return "skipped"
    logger.info("appointment expired", extra={"appointment_id": appointment_id, "reason": reason})
    notify(
        "AppointmentExpired",
        {"appointment_id": appointment_id, "reason": reason},
        [appointment.patient_id],
        f"Your appointment request expired: {why}.",
    )
    return "expired"


def free_slots(doctor_id: str, day_start: float, slot_minutes: int) -> list[tuple[float, bool]]:
    """The doctor's grid for one UTC day: each slot and whether it is free."""
    step = slot_minutes * 60
    taken = {
        float(a.scheduled_at)
        for a in models.appointments_on(doctor_id, day_start, day_start + 86400)
        if a.status in logic.HOLDING
    }
    return [(at, at not in taken) for at in (day_start + n * step for n in range(86400 // step))]
