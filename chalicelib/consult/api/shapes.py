"""The consult API's answers: items shaped into response models, and whose list a caller sees."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from zoneinfo import ZoneInfo

from chalicelib.consult import availability, logic, models, service
from chalicelib.consult.doctor_schemas import DoctorOut, ExceptionOut
from chalicelib.consult.schemas import (
    AppointmentOut,
    LedgerEntryOut,
    LedgerOut,
    MessageOut,
    PlanOut,
    SessionOut,
    SubscriptionOut,
    WalletOut,
)
from chalicelib.core import clock
from chalicelib.core.errors import BadRequest
from chalicelib.core.http import Call


def _dt(epoch: float | None) -> datetime | None:
    return None if epoch is None else clock.to_datetime(float(epoch))


def utc(epoch: float) -> datetime:
    return clock.to_datetime(float(epoch))


def session_out(s: models.Session) -> SessionOut:
    metering = s.status in logic.METERING and s.metered_from is not None
    return SessionOut(
        id=s.session_id,
        kind=s.kind,
        status=s.status,
        patient_id=s.patient_id,
        doctor_id=s.doctor_id,
        created_at=utc(s.created_at),
        activated_at=_dt(s.activated_at),
        connected_at=_dt(s.connected_at),
        ended_at=_dt(s.ended_at),
        ended_reason=s.ended_reason,
        failure_reason=s.failure_reason,
        intervals_billed=int(s.billed),
        interval_seconds=float(s.interval_seconds),
        next_tick_at=_dt(
            logic.tick_due(float(s.metered_from), int(s.billed) + 1, float(s.interval_seconds))
            if metering
            else None
        ),
        last_activity_at=_dt(s.last_activity),
        routing=s.routing,
    )


def appointment_out(a: models.Appointment) -> AppointmentOut:
    return AppointmentOut(
        id=a.appointment_id,
        patient_id=a.patient_id,
        doctor_id=a.doctor_id,
        scheduled_at=utc(a.scheduled_at),
        status=a.status,
        note=a.note,
        created_at=utc(a.created_at),
        previous_scheduled_at=_dt(a.previous_scheduled_at),
        proposed_by=a.proposed_by,
        cancelled_by=a.cancelled_by,
        cancellation_reason=a.cancellation_reason,
    )


def subscription_out(s: models.Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        patient_id=s.patient_id,
        plan_id=s.plan_id,
        status=s.status,
        text_sessions_remaining=int(s.text_sessions_remaining or 0),
        voice_calls_remaining=int(s.voice_calls_remaining or 0),
        video_calls_remaining=int(s.video_calls_remaining or 0),
    )


def plan_out(p: models.Plan) -> PlanOut:
    return PlanOut(
        id=p.plan_id,
        name=p.name,
        text_sessions=int(p.text_sessions),
        voice_calls=int(p.voice_calls),
        video_calls=int(p.video_calls),
        price=int(p.price),
        currency=p.currency,
    )


def wallet_out(doctor_id: str) -> WalletOut:
    w = service.wallet(doctor_id)
    return WalletOut(
        doctor_id=doctor_id,
        balance=int(w.balance or 0) if w else 0,
        credits_earned=int(w.credits_earned or 0) if w else 0,
    )


def ledger_out(entries: list[models.LedgerEntry]) -> LedgerOut:
    return LedgerOut(
        entries=[
            LedgerEntryOut(
                session_id=e.session_id,
                interval=int(e.interval),
                entry=e.entry,  # type: ignore[arg-type]
                kind=e.kind,
                party_id=e.party_id,
                credits=int(e.credits),
                amount=int(e.amount),
                created_at=utc(e.created_at),
            )
            for e in entries
        ]
    )


def viewer(call: Call) -> tuple[str, str]:
    """Whose list to show: your own (as patient or doctor, ``?as=`` when you are both), or for
    an admin the one named by ``?patient_id=`` / ``?doctor_id=``."""
    p, args = call.user, call.args
    if p.is_admin and (args.patient_id or args.doctor_id):
        if args.doctor_id:
            return args.doctor_id, "doctor"
        return args.patient_id, "patient"
    wanted = args.as_
    roles = [r for r in ("patient", "doctor") if r in p.roles]
    if wanted:
        if wanted not in roles:
            raise BadRequest("as must be one of your roles: patient or doctor", code="invalid_as")
        return p.sub, wanted
    if not roles:
        raise BadRequest("admins list by ?patient_id= or ?doctor_id=", code="missing_filter")
    return p.sub, roles[0]


def message_out(m: models.Message) -> MessageOut:
    return MessageOut(
        id=m.message_id,
        session_id=m.session_id,
        sender_id=m.sender_id,
        sender_role=m.sender_role,
        body=m.body,
        created_at=utc(m.created_at),
    )


# --- doctors, hours, presence -------------------------------------------------------------------


def doctor_out(d: models.Doctor, presence: models.Presence | None = None) -> DoctorOut:
    from chalicelib.consult.service import presence as presence_service

    status, until = presence_service.effective(presence, clock.now())
    return DoctorOut(
        id=d.doctor_id,
        name=d.name,
        bio=d.bio,
        specialties=sorted(d.specialties or ()),
        languages=sorted(d.languages or ()),
        modes=sorted(d.modes or ()),
        status=d.status,
        active=d.status == "active",
        timezone=d.timezone,
        presence=status,
        available_until=_dt(until),
    )


def exception_out(e: models.ScheduleException) -> ExceptionOut:
    return ExceptionOut(date=dt.date.fromisoformat(e.day), hours=e.hours, leave=not e.hours, reason=e.reason)


def instant(text: str | None, tz: ZoneInfo, *, end: bool = False) -> float | None:
    """A query's ``from``/``to``: a date is the doctor's local day (its start; with ``end`` the
    start of the next day, so ``to`` includes its date), a datetime must carry an offset."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return availability.local_day_bounds(day, tz)[1 if end else 0]
        value = datetime.fromisoformat(text.replace(" ", "+").replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{text!r} is not a date (YYYY-MM-DD) or a datetime", code="invalid_query") from None
    if value.tzinfo is None:
        raise BadRequest(f"{text!r} needs an offset (e.g. +03:00 or Z)", code="invalid_query")
    return value.timestamp()
