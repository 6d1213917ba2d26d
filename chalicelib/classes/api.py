"""Classes API routes: academies, class sessions, meetings, attendance, credits."""

from __future__ import annotations

from typing import Any

from chalicelib.classes import logic, models, service
from chalicelib.classes.schemas import (
    AcademyIn,
    AcademyOut,
    AcademyPatch,
    AttendanceIn,
    AttendanceOut,
    AttendanceResult,
    CancelIn,
    ClassIn,
    ClassList,
    ClassOut,
    ClassQuery,
    GrantIn,
    GrantOut,
    HistoryOut,
    JoinOut,
    LedgerOut,
    Moments,
    RescheduleIn,
    WalletOut,
    WebhookOut,
)
from chalicelib.core import clock
from chalicelib.core.errors import BadRequest, Forbidden, Unauthorized
from chalicelib.core.http import Api, Call
from chalicelib.integrations import livekit

api = Api(__name__, tag="classes")
ADMIN = ("admin",)
STAFF = ("teacher", "admin")
MAX_PAST_SECONDS = 30 * 24 * 3600  # a class may be recorded up to a month late (it catches up)
MAX_AHEAD_SECONDS = 366 * 24 * 3600


# --- rendering --------------------------------------------------------------------------------


def _dt(epoch: float | None) -> Any:
    return None if epoch is None else clock.to_datetime(float(epoch))


def academy_out(a: models.Academy) -> AcademyOut:
    return AcademyOut(
        id=a.academy_id,
        name=a.name,
        preparation_minutes=float(a.preparation_minutes),
        buffer_minutes=float(a.buffer_minutes),
        late_tolerance_minutes=float(a.late_tolerance_minutes),
    )


def class_out(s: models.ClassSession, attendance: list[models.Attendance] | None = None) -> ClassOut:
    m = s.schedule.moments()
    return ClassOut(
        id=s.class_id,
        academy_id=s.academy_id,
        teacher_id=s.teacher_id,
        type=s.kind,
        student_ids=list(s.student_ids),
        title=s.title,
        scheduled_at=_dt(s.scheduled_at),
        duration_minutes=float(s.duration_minutes),
        preparation_minutes=float(s.preparation_minutes),
        buffer_minutes=float(s.buffer_minutes),
        late_tolerance_minutes=float(s.late_tolerance_minutes),
        status=s.status,
        version=int(s.version),
        room_name=s.room_name,
        moments=Moments(
            ready_at=_dt(m["ready"]),
            start_at=_dt(m["start"]),
            absent_at=_dt(m.get("absent")),
            complete_at=_dt(m["complete"]),
        ),
        next_due_at=_dt(logic.next_due(s.state)),
        history=[
            HistoryOut(
                from_status=h.from_status,
                to_status=h.to_status,
                at=_dt(h.at),
                due_at=_dt(h.due_at),
                reason=h.reason,
            )
            for h in s.history
        ],
        attendance=None
        if attendance is None
        else [
            AttendanceOut(
                user_id=a.user_id,
                role=a.role,
                first_joined_at=_dt(a.first_joined_at),
                last_left_at=_dt(a.last_left_at),
                in_room=a.in_room_since is not None,
                minutes=round(float(a.seconds or 0) / 60, 2),
                joins=int(a.joins or 0),
            )
            for a in attendance
        ],
    )


def wallet_out(student: str) -> WalletOut:
    w = service.get_wallet(student)
    return WalletOut(
        student_id=student,
        credits=int(w.credits or 0),
        granted=int(w.granted or 0),
        used=int(w.used or 0),
        ledger=[
            LedgerOut(
                delta=int(e.delta),
                outcome=e.outcome,
                class_id=e.class_id,
                reference=e.reference,
                at=_dt(e.at),
            )
            for e in service.ledger(student)
        ],
    )


def _epoch_in_range(value: Any) -> float:
    epoch = value.timestamp()
    now = clock.now()
    if not now - MAX_PAST_SECONDS <= epoch <= now + MAX_AHEAD_SECONDS:
        raise BadRequest(
            "scheduled_at must be within a month in the past and a year ahead", code="out_of_range"
        )
    return epoch


def _may_manage(call: Call, session: models.ClassSession) -> None:
    if not (call.user.is_admin or call.user.sub == session.teacher_id):
        raise Forbidden("only the class's teacher or an admin can change it")


# --- academies --------------------------------------------------------------------------------


@api.route("/academies", "POST", body=AcademyIn, response=AcademyOut, status=201, roles=ADMIN)
def create_academy(call: Call) -> AcademyOut:
    """Create an academy with its preparation, buffer and late-tolerance minutes (10/5/15 by default)."""
    body: AcademyIn = call.body
    academy = service.create_academy(
        body.name, body.preparation_minutes, body.buffer_minutes, body.late_tolerance_minutes
    )
    return academy_out(academy)


@api.route("/academies/{academy_id}", response=AcademyOut)
def get_academy(call: Call, academy_id: str) -> AcademyOut:
    """An academy and its settings."""
    return academy_out(service.academy_or_404(academy_id))


@api.route("/academies/{academy_id}", "PATCH", body=AcademyPatch, response=AcademyOut, roles=ADMIN)
def update_academy(call: Call, academy_id: str) -> AcademyOut:
    """Change an academy's settings (classes already scheduled keep the ones they were made with)."""
    academy = service.academy_or_404(academy_id)
    body: AcademyPatch = call.body
    service.update_academy(academy, body.model_dump(exclude_none=True))
    return academy_out(service.academy_or_404(academy_id))


# --- class sessions ---------------------------------------------------------------------------


@api.route("/classes", "POST", body=ClassIn, response=ClassOut, status=201, roles=STAFF, errors=(404,))
def create_class(call: Call) -> ClassOut:
    """Schedule a class session (a teacher for themself, an admin for any teacher)."""
    body: ClassIn = call.body
    if call.user.is_admin:
        teacher = body.teacher_id or ""
        if not teacher:
            raise BadRequest("an admin must name the teacher_id", code="teacher_required")
    else:
        teacher = call.user.sub
        if body.teacher_id not in (None, teacher):
            raise Forbidden("a teacher schedules classes for themself only")
    problem = logic.validate_students(body.type, teacher, body.student_ids)
    if problem:
        raise BadRequest(problem, code="invalid_students")
    scheduled_at = _epoch_in_range(body.scheduled_at)
    academy = service.academy_or_404(body.academy_id)
    session = service.create_session(
        academy,
        teacher,
        body.type,
        body.student_ids,
        body.title,
        scheduled_at,
        body.duration_minutes,
        call.user.sub,
    )
    return class_out(session)


@api.route("/classes", query=ClassQuery, response=ClassList, roles=STAFF)
def list_classes(call: Call) -> ClassList:
    """A teacher's classes by start time (an admin passes ``?teacher_id=``)."""
    args: ClassQuery = call.args
    teacher = args.teacher_id if call.user.is_admin else call.user.sub
    if not teacher:
        raise BadRequest("give teacher_id", code="teacher_required")
    return ClassList(classes=[class_out(s) for s in service.sessions_of_teacher(teacher)])


@api.route("/classes/{class_id}", response=ClassOut, errors=(403,))
def get_class(call: Call, class_id: str) -> ClassOut:
    """A class session with its moments, status history and attendance (participants and admins)."""
    session = service.session_or_404(class_id)
    if not call.user.is_admin:
        service.participant_role(session, call.user.sub)
    return class_out(session, service.attendance_of(class_id))


@api.route(
    "/classes/{class_id}/reschedule", "POST", body=RescheduleIn, response=ClassOut, roles=STAFF, errors=(409,)
)
def reschedule_class(call: Call, class_id: str) -> ClassOut:
    """Move a scheduled class; every pending timer moves with it."""
    session = service.session_or_404(class_id)
    _may_manage(call, session)
    body: RescheduleIn = call.body
    scheduled_at = _epoch_in_range(body.scheduled_at)
    duration = body.duration_minutes or float(session.duration_minutes)
    return class_out(service.reschedule(session, scheduled_at, duration))


@api.route("/classes/{class_id}/cancel", "POST", body=CancelIn, response=ClassOut, roles=STAFF, errors=(409,))
def cancel_class(call: Call, class_id: str) -> ClassOut:
    """Cancel a class that has not ended; its timers are cancelled, its meeting closed."""
    session = service.session_or_404(class_id)
    _may_manage(call, session)
    body: CancelIn = call.body
    return class_out(service.cancel(session, body.reason or f"cancelled by {call.user.sub}"))


@api.route("/classes/{class_id}/join", response=JoinOut, errors=(403, 409))
def join_class(call: Call, class_id: str) -> JoinOut:
    """The meeting URL and a LiveKit access token, for the class's teacher and students while it is
    READY or ONGOING (409 before, with when it opens; 403 for anyone else)."""
    session = service.session_or_404(class_id)
    name = str(call.user.claims.get("name") or call.user.sub)
    grant = service.join_grant(session, call.user.sub, name)
    return JoinOut(
        url=grant.url,
        token=grant.token,
        room=grant.room,
        identity=grant.identity,
        role=grant.role,
        expires_at=_dt(grant.expires_at),
    )


@api.route(
    "/classes/{class_id}/attendance", "POST", body=AttendanceIn, response=AttendanceResult, errors=(403, 409)
)
def record_attendance(call: Call, class_id: str) -> AttendanceResult:
    """Record the caller joining or leaving the meeting (a first join starts a READY class)."""
    session = service.session_or_404(class_id)
    body: AttendanceIn = call.body
    outcome = service.record_attendance(session, call.user.sub, body.action, clock.now())
    current = service.session_or_404(class_id)
    return AttendanceResult(class_id=class_id, user_id=call.user.sub, outcome=outcome, status=current.status)


# --- credits ----------------------------------------------------------------------------------


@api.route(
    "/class-credits/{student_id}/grants", "POST", body=GrantIn, response=GrantOut, status=201, roles=ADMIN
)
def grant_credits(call: Call, student_id: str) -> GrantOut:
    """Grant class credits to a student, once per reference (a repeat grants nothing)."""
    body: GrantIn = call.body
    granted = service.grant_credits(student_id, body.credits, body.reference)
    return GrantOut(**wallet_out(student_id).model_dump(), granted_now=granted)


@api.route("/class-credits/{student_id}", response=WalletOut, roles=ADMIN)
def student_credits(call: Call, student_id: str) -> WalletOut:
    """A student's class credits and ledger."""
    return wallet_out(student_id)


@api.route("/me/class-credits", response=WalletOut, roles=("student",))
def my_credits(call: Call) -> WalletOut:
    """The calling student's class credits and ledger."""
    return wallet_out(call.user.sub)


# --- LiveKit webhook --------------------------------------------------------------------------


@api.route("/webhooks/livekit", "POST", response=WebhookOut, roles=None, errors=(401,))
def livekit_webhook(call: Call) -> WebhookOut:
    """LiveKit's webhook: participant joins and leaves, verified by its signed body hash."""
    try:
        result = service.livekit_webhook(call.raw_body, call.headers.get("authorization"))
    except livekit.WebhookError as error:
        raise Unauthorized(str(error), code="invalid_webhook") from None
    return WebhookOut(handled=result.handled, detail=result.detail)
