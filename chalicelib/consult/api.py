"""Consult API routes: plans and credits, text sessions, calls, appointments. Thin: parse, call
``service``, shape the answer. Only a consultation's patient and doctor act on it; admins see all."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.consult import logic, models, service
from chalicelib.consult.schemas import (
    AppointmentList,
    AppointmentOut,
    BookAppointment,
    CancelIn,
    CreateTextSession,
    LedgerEntryOut,
    LedgerOut,
    LedgerPage,
    MessageIn,
    MessageList,
    MessageOut,
    MessagePage,
    PlanIn,
    PlanList,
    PlanOut,
    Reschedule,
    SessionList,
    SessionOut,
    SlotList,
    SlotOut,
    SlotQuery,
    StartCall,
    StatusIn,
    SubscribeIn,
    SubscriptionOut,
    TopUpIn,
    ViewerPage,
    WalletOut,
)
from chalicelib.consult.settings import settings
from chalicelib.core import clock
from chalicelib.core.errors import BadRequest
from chalicelib.core.http import Api, Call

api = Api(__name__, tag="consult")
ADMIN = ("admin",)
PATIENT = ("patient",)
PARTIES = ("patient", "doctor", "admin")


def _dt(epoch: float | None) -> datetime | None:
    return None if epoch is None else clock.to_datetime(float(epoch))


def _at(epoch: float) -> datetime:
    return clock.to_datetime(float(epoch))


def session_out(s: models.Session) -> SessionOut:
    metering = s.status in logic.METERING and s.metered_from is not None
    return SessionOut(
        id=s.session_id,
        kind=s.kind,
        status=s.status,
        patient_id=s.patient_id,
        doctor_id=s.doctor_id,
        created_at=_at(s.created_at),
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
    )


def appointment_out(a: models.Appointment) -> AppointmentOut:
    return AppointmentOut(
        id=a.appointment_id,
        patient_id=a.patient_id,
        doctor_id=a.doctor_id,
        scheduled_at=_at(a.scheduled_at),
        status=a.status,
        note=a.note,
        created_at=_at(a.created_at),
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
                created_at=_at(e.created_at),
            )
            for e in entries
        ]
    )


def _viewer(call: Call) -> tuple[str, str]:
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


# --- plans, subscriptions, wallets --------------------------------------------------------------


@api.route("/admin/consult/plans", "POST", body=PlanIn, response=PlanOut, status=201, roles=ADMIN)
def create_plan(call: Call) -> PlanOut:
    """Create a plan: credits per kind and a price."""
    body: PlanIn = call.body
    return plan_out(service.create_plan(**body.model_dump()))


@api.route("/consult/plans", response=PlanList)
def list_plans(call: Call) -> PlanList:
    """The plans on offer."""
    return PlanList(plans=[plan_out(p) for p in service.list_plans()])


@api.route(
    "/admin/consult/subscriptions",
    "POST",
    body=SubscribeIn,
    response=SubscriptionOut,
    status=201,
    roles=ADMIN,
    errors=(404, 409),
)
def subscribe(call: Call) -> SubscriptionOut:
    """Subscribe a patient to a plan: adds the plan's credits and (re)activates, once per reference."""
    body: SubscribeIn = call.body
    return subscription_out(service.subscribe(body.patient_id, body.plan_id, body.reference, call.user.sub))


@api.route(
    "/admin/consult/top-ups",
    "POST",
    body=TopUpIn,
    response=SubscriptionOut,
    status=201,
    roles=ADMIN,
    errors=(409,),
)
def top_up(call: Call) -> SubscriptionOut:
    """Add credits of one kind to a patient, once per reference (e.g. the M-Pesa receipt)."""
    body: TopUpIn = call.body
    return subscription_out(
        service.top_up(body.patient_id, body.kind, body.credits, body.reference, call.user.sub)
    )


@api.route(
    "/admin/consult/subscriptions/{patient_id}/status",
    "PUT",
    body=StatusIn,
    response=SubscriptionOut,
    roles=ADMIN,
)
def set_status(call: Call, patient_id: str) -> SubscriptionOut:
    """Set a subscription's status (active, expired, suspended); only active ones are charged."""
    return subscription_out(service.set_status(patient_id, call.body.status))


@api.route("/admin/consult/subscriptions/{patient_id}", response=SubscriptionOut, roles=ADMIN)
def admin_subscription(call: Call, patient_id: str) -> SubscriptionOut:
    """Any patient's subscription."""
    return subscription_out(service.subscription(patient_id))


@api.route("/admin/consult/wallets/{doctor_id}", response=WalletOut, roles=ADMIN)
def admin_wallet(call: Call, doctor_id: str) -> WalletOut:
    """Any doctor's wallet."""
    return wallet_out(doctor_id)


@api.route("/me/consult/subscription", response=SubscriptionOut, roles=PATIENT, errors=(404,))
def my_subscription(call: Call) -> SubscriptionOut:
    """Your credits per kind and subscription status."""
    return subscription_out(service.subscription(call.user.sub, mine=True))


@api.route("/me/consult/wallet", response=WalletOut, roles=("doctor",))
def my_wallet(call: Call) -> WalletOut:
    """Your earnings (KES minor units) and the credits they came from."""
    return wallet_out(call.user.sub)


@api.route("/me/consult/ledger", query=LedgerPage, response=LedgerOut, roles=("patient", "doctor"))
def my_ledger(call: Call) -> LedgerOut:
    """Your debits (patient) or awards (doctor), newest first."""
    sub, role = _viewer(call)
    return ledger_out(service.ledger(sub, role, call.args.limit))


# --- text sessions ----------------------------------------------------------------------------


@api.route(
    "/text-sessions",
    "POST",
    body=CreateTextSession,
    response=SessionOut,
    status=201,
    roles=PATIENT,
    errors=(400, 402, 404),
)
def create_text_session(call: Call) -> SessionOut:
    """Ask a doctor for a text session (needs a text credit; 402 without)."""
    return session_out(service.create_text_session(call.user, call.body.doctor_id))


@api.route("/text-sessions", query=ViewerPage, response=SessionList, roles=PARTIES)
def list_text_sessions(call: Call) -> SessionList:
    """Your text sessions, newest first."""
    sub, role = _viewer(call)
    sessions = service.sessions_of(sub, role, call.args.limit, text=True)
    return SessionList(sessions=[session_out(s) for s in sessions])


@api.route("/text-sessions/{session_id}", response=SessionOut, roles=PARTIES)
def get_text_session(call: Call, session_id: str) -> SessionOut:
    """One text session."""
    return session_out(service.load_session(session_id, call.user, text=True)[0])


@api.route(
    "/text-sessions/{session_id}/messages",
    "POST",
    body=MessageIn,
    response=MessageOut,
    status=201,
    roles=PARTIES,
    errors=(409,),
)
def post_message(call: Call, session_id: str) -> MessageOut:
    """Send a message; the doctor's first one activates the session."""
    m = service.send_message(session_id, call.user, call.body.body)
    return _message_out(m)


def _message_out(m: models.Message) -> MessageOut:
    return MessageOut(
        id=m.message_id,
        session_id=m.session_id,
        sender_id=m.sender_id,
        sender_role=m.sender_role,
        body=m.body,
        created_at=_at(m.created_at),
    )


@api.route("/text-sessions/{session_id}/messages", query=MessagePage, response=MessageList, roles=PARTIES)
def get_messages(call: Call, session_id: str) -> MessageList:
    """The session's messages, oldest first (``?after=<message id>`` for the next page)."""
    args: MessagePage = call.args
    found = service.messages(session_id, call.user, args.limit, args.after)
    return MessageList(messages=[_message_out(m) for m in found])


@api.route("/text-sessions/{session_id}/activity", "POST", response=SessionOut, roles=PARTIES, errors=(409,))
def post_activity(call: Call, session_id: str) -> SessionOut:
    """Record that you are active in the session (only while it is active; 409 otherwise)."""
    return session_out(service.record_activity(session_id, call.user))


@api.route("/text-sessions/{session_id}/end", "POST", response=SessionOut, roles=PARTIES, errors=(409,))
def end_text_session(call: Call, session_id: str) -> SessionOut:
    """End the session: bills the interval in progress; ending it again changes nothing."""
    return session_out(service.end_session(session_id, call.user, text=True))


@api.route("/text-sessions/{session_id}/ledger", response=LedgerOut, roles=PARTIES)
def session_ledger(call: Call, session_id: str) -> LedgerOut:
    """The debits and awards of one session, by interval."""
    return ledger_out(service.session_ledger(session_id, call.user))


# --- calls ------------------------------------------------------------------------------------


@api.route(
    "/calls", "POST", body=StartCall, response=SessionOut, status=201, roles=PATIENT, errors=(400, 402, 404)
)
def start_call(call: Call) -> SessionOut:
    """Start a voice or video call (needs a credit of its kind; 402 without)."""
    return session_out(service.start_call(call.user, call.body.doctor_id, call.body.kind))


@api.route("/calls", query=ViewerPage, response=SessionList, roles=PARTIES)
def list_calls(call: Call) -> SessionList:
    """Your calls, newest first."""
    sub, role = _viewer(call)
    calls = service.sessions_of(sub, role, call.args.limit, text=False)
    return SessionList(sessions=[session_out(s) for s in calls])


@api.route("/calls/{session_id}", response=SessionOut, roles=PARTIES)
def get_call(call: Call, session_id: str) -> SessionOut:
    """One call."""
    return session_out(service.load_session(session_id, call.user, text=False)[0])


@api.route("/calls/{session_id}/connected", "POST", response=SessionOut, roles=PARTIES, errors=(409,))
def call_connected(call: Call, session_id: str) -> SessionOut:
    """The call connected: metering starts (409 once the connection timeout has run out)."""
    return session_out(service.call_connected(session_id, call.user))


@api.route("/calls/{session_id}/end", "POST", response=SessionOut, roles=PARTIES, errors=(409,))
def end_call(call: Call, session_id: str) -> SessionOut:
    """Hang up: bills the interval in progress if connected; free if it never connected."""
    return session_out(service.end_session(session_id, call.user, text=False))


# --- appointments -----------------------------------------------------------------------------


@api.route(
    "/appointments",
    "POST",
    body=BookAppointment,
    response=AppointmentOut,
    status=201,
    roles=PATIENT,
    errors=(400, 409),
)
def book(call: Call) -> AppointmentOut:
    """Book a slot on the doctor's grid (409 ``slot_taken`` if someone holds it)."""
    body: BookAppointment = call.body
    return appointment_out(service.book(call.user, body.doctor_id, body.scheduled_at, body.note))


@api.route("/appointments", query=ViewerPage, response=AppointmentList, roles=PARTIES)
def list_appointments(call: Call) -> AppointmentList:
    """Your appointments, latest time first."""
    sub, role = _viewer(call)
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


@api.route("/doctors/{doctor_id}/slots", query=SlotQuery, response=SlotList)
def slots(call: Call, doctor_id: str) -> SlotList:
    """The doctor's slot grid for one UTC day (``?date=YYYY-MM-DD``, default today), free or taken."""
    args: SlotQuery = call.args
    date = args.date or clock.utcnow().date()
    day = datetime(date.year, date.month, date.day, tzinfo=UTC)
    minutes = settings().slot_minutes
    grid = service.free_slots(doctor_id, day.timestamp(), minutes)
    return SlotList(
        doctor_id=doctor_id,
        slot_minutes=minutes,
        slots=[SlotOut(at=_at(at), free=free) for at, free in grid],
    )
