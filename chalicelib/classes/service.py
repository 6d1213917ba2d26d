"""The classes use cases, shared by the API, the timer handler, the reconcile and the CLI.

Every effect goes through models.py's conditional writes; this module only sequences them:
write first, then arm timers / publish / delete rooms, and make every step safe to repeat, so a
timer firing twice, a handler re-run after a crash, or the reconcile running beside the workers
all end in the same state.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from chalicelib.classes import logic, models
from chalicelib.classes.settings import settings
from chalicelib.core import clock, events, ids, timers
from chalicelib.core.aws import client
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Conflict, Forbidden, NotFound, Unavailable
from chalicelib.core.observability import MetricUnit, logger, metrics
from chalicelib.integrations import livekit

DOMAIN = "classes"
MOMENT_TIMER = "classes.moment"
MAX_STEPS = 10  # transitions of one advance (at most four exist; re-reads after lost races)
OUTBOX_LEASE_SECONDS = 30


# --- LiveKit credentials (Secrets Manager, cached) --------------------------------------------

_providers: dict[int, tuple[Any, SecretsProvider]] = {}
_providers_lock = threading.Lock()


def livekit_credentials() -> livekit.Credentials:
    """The LiveKit API key/secret from Secrets Manager (cached five minutes per client)."""
    sm = client("secretsmanager")
    with _providers_lock:
        if id(sm) not in _providers:
            _providers[id(sm)] = (sm, SecretsProvider(boto3_client=sm))
        provider = _providers[id(sm)][1]
    try:
        value = provider.get(settings().secret_id, transform="json", max_age=300)
    except Exception as error:  # missing or empty secret: the meeting side is not configured
        raise Unavailable(f"LiveKit credentials unavailable: {type(error).__name__}") from None
    if not isinstance(value, dict) or not value.get("api_key") or not value.get("api_secret"):
        raise Unavailable("LiveKit credentials are incomplete")
    return livekit.Credentials(str(value["api_key"]), str(value["api_secret"]))


# --- academies and sessions -------------------------------------------------------------------


def create_academy(
    name: str, preparation: float | None, buffer: float | None, tolerance: float | None
) -> models.Academy:
    conf = settings()
    return models.create_academy(
        ids.new_id("ac_"),
        name,
        conf.preparation_minutes if preparation is None else preparation,
        conf.buffer_minutes if buffer is None else buffer,
        conf.late_tolerance_minutes if tolerance is None else tolerance,
    )


def academy_or_404(academy_id: str) -> models.Academy:
    academy = models.get_academy(academy_id)
    if academy is None:
        raise NotFound(f"no academy {academy_id}")
    return academy


def session_or_404(class_id: str) -> models.ClassSession:
    session = models.get_session(class_id)
    if session is None:
        raise NotFound(f"no class {class_id}")
    return session


def create_session(
    academy: models.Academy,
    teacher_id: str,
    kind: str,
    student_ids: list[str],
    title: str,
    scheduled_at: float,
    duration_minutes: float,
    created_by: str,
) -> models.ClassSession:
    """Write the session, arm a timer per future moment, and catch up on moments already past."""
    session = models.new_session(
        ids.new_id("cl_"),
        academy,
        teacher_id,
        kind,
        student_ids,
        title,
        scheduled_at,
        duration_minutes,
        created_by,
    )
    arm(session)
    return (
        advance(session, "created late: catching up")
        if logic.due_transitions(session.state, clock.now())
        else session
    )


def arm(session: models.ClassSession) -> int:
    """A timer for each moment still ahead, keyed by session + moment + schedule version.
    Moments already past need none: the caller advances at once (and the reconcile would)."""
    now = clock.now()
    armed = 0
    for moment, due in session.schedule.timer_moments().items():
        if due > now:
            key = logic.timer_key(session.class_id, moment, int(session.version))
            timers.schedule(MOMENT_TIMER, key, due, {"class_id": session.class_id})
            armed += 1
    return armed


def disarm(session: models.ClassSession, version: int) -> None:
    """Cancel the timers of an old schedule version. Only tidiness: a timer of an old version
    that fires anyway (cancel raced its delivery) finds the version moved and does nothing."""
    for moment in logic.MOMENTS:
        timers.cancel(MOMENT_TIMER, logic.timer_key(session.class_id, moment, version))


def reschedule(
    session: models.ClassSession, scheduled_at: float, duration_minutes: float
) -> models.ClassSession:
    old_version = int(session.version)
    if not models.reschedule(session, scheduled_at, duration_minutes):
        current = session_or_404(session.class_id)
        raise Conflict(
            f"only a scheduled class can be rescheduled (this one is {current.status})",
            code="not_reschedulable",
        )
    disarm(session, old_version)
    arm(session)
    if logic.due_transitions(session.state, clock.now()):
        session = advance(session, "rescheduled into the past: catching up")
    return session


def cancel(session: models.ClassSession, reason: str) -> models.ClassSession:
    old_version = int(session.version)
    if session.status not in logic.OPEN or not models.cancel(session, reason):
        current = session_or_404(session.class_id)
        raise Conflict(f"the class is {current.status}; it cannot be cancelled", code="not_cancellable")
    disarm(session, old_version)
    settle(session)
    return session


# --- transitions ------------------------------------------------------------------------------


def on_moment(timer: timers.Timer) -> None:
    """A moment's timer: advance the session if the timer belongs to its current schedule."""
    class_id, moment, version = logic.parse_timer_key(timer.key)
    session = models.get_session(class_id)
    if session is None:
        logger.warning("class timer for a missing class", extra={"class_id": class_id, "moment": moment})
        return
    if int(session.version) != version:
        logger.info(
            "class timer skipped - schedule moved",
            extra={
                "class_id": class_id,
                "moment": moment,
                "timer_version": version,
                "version": int(session.version),
            },
        )
        return
    advance(session, f"{moment} timer")


def advance(session: models.ClassSession, reason: str) -> models.ClassSession:
    """Apply every transition due now, in order, each a conditional write on the current status
    and schedule version; a lost race re-reads and goes on from what the winner left. Then send
    the outbox, and settle a final session (credits, room)."""
    stage = get_settings().stage
    for _ in range(MAX_STEPS):
        now = clock.now()
        step = logic.next_transition(session.state, now)
        if step is None:
            break
        if models.apply_transition(session, step, reason, stage):
            lateness = max(0.0, now - step.due_at)
            metrics.add_metric(
                name="ClassTransitionLatenessMs", unit=MetricUnit.Milliseconds, value=lateness * 1000
            )
            logger.info(
                "class status changed",
                extra={
                    "class_id": session.class_id,
                    "from": step.from_status,
                    "to": step.to_status,
                    "reason": reason,
                    "lateness_ms": round(lateness * 1000),
                },
            )
            continue
        fresh = models.get_session(session.class_id)
        if fresh is None:
            break
        session = fresh
    publish_pending(session)
    if session.status in logic.FINAL:
        settle(session)
    return session


def publish_pending(session: models.ClassSession) -> int:
    """The outbox: every history entry not yet on the bus becomes a ``ClassStatusChanged``, sent
    by one holder of the outbox lease at a time (at least once: a sender that dies mid-send is
    repeated after its lease; consumers dedupe on ``event_id`` = class + transition number).
    The holder re-reads after sending, so entries added meanwhile by a racer that found the
    outbox taken are sent too."""
    sent = 0
    while int(session.published or 0) < len(session.history):
        if not models.claim_outbox(session, OUTBOX_LEASE_SECONDS):
            return sent  # the holder sends what we added: it re-reads when it releases
        start = int(session.published or 0)
        entries = list(session.history)[start:]
        try:
            events.publish_many([_status_event(session, start + n + 1, e) for n, e in enumerate(entries)])
        except Exception:
            models.release_outbox(session, start)
            raise
        models.release_outbox(session, start + len(entries))
        sent += len(entries)
    return sent


def _status_event(
    session: models.ClassSession, number: int, entry: models.HistoryEntry
) -> events.DomainEvent:
    return events.DomainEvent(
        DOMAIN,
        "ClassStatusChanged",
        {
            "event_id": f"{session.class_id}#{number}",
            "class_id": session.class_id,
            "academy_id": session.academy_id,
            "title": session.title,
            "from": entry.from_status,
            "to": entry.to_status,
            "at": clock.to_datetime(float(entry.at)).isoformat(),
            "due_at": None if entry.due_at is None else clock.to_datetime(float(entry.due_at)).isoformat(),
            "reason": entry.reason,
            "recipients": session.participants,
            "message": logic.status_message(session.title, entry.to_status),
        },
    )


def settle(session: models.ClassSession) -> None:
    """After a final status: close open attendance, use credits (once each, ledger-keyed),
    send the outbox, attempt room deletion, and drop out of the open index. Safe to repeat."""
    if session.settled:
        return
    end = min(clock.now(), session.schedule.moments()["complete"])
    present = models.attendance(session.class_id)
    for att in present:
        if att.in_room_since is not None:
            models.record_leave(session.class_id, att.user_id, max(end, float(att.in_room_since)))
    attended = {a.user_id for a in present if a.role == "student" and a.first_joined_at is not None}
    for student in logic.students_to_charge(
        session.kind, session.status, list(session.student_ids), attended
    ):
        use = models.use_credit(session.class_id, student)
        if use.outcome == "owed":
            logger.warning(
                "class credit owed - student has none left",
                extra={"class_id": session.class_id, "student": student},
            )
        elif use.outcome == "used":
            logger.info("class credit used", extra={"class_id": session.class_id, "student": student})
    publish_pending(session)
    close_meeting(session)
    models.mark_settled(session)


def close_meeting(session: models.ClassSession) -> None:
    """Best effort: LiveKit closes empty rooms by itself; a failure is logged, never raised."""
    if not session.room_name:
        return
    try:
        livekit.delete_room(
            livekit_credentials(),
            settings().livekit_url,
            session.room_name,
            settings().livekit_timeout_seconds,
        )
        logger.info("meeting room deleted", extra={"class_id": session.class_id, "room": session.room_name})
    except (livekit.LiveKitError, Unavailable) as error:
        logger.warning(
            "meeting room deletion failed (best effort)",
            extra={"class_id": session.class_id, "room": session.room_name, "error": str(error)},
        )


# --- meetings and attendance ------------------------------------------------------------------


@dataclass(frozen=True)
class JoinGrant:
    url: str
    token: str
    room: str
    identity: str
    role: str
    expires_at: float


def participant_role(session: models.ClassSession, user: str) -> str:
    role = logic.role_in(user, session.teacher_id, list(session.student_ids))
    if role is None:
        raise Forbidden("only the class's teacher and students can do this")
    return role


def join_grant(session: models.ClassSession, user: str, name: str) -> JoinGrant:
    role = participant_role(session, user)
    refusal = logic.join_refusal(session.status, session.schedule.moments()["ready"])
    if refusal or not session.room_name:
        raise Conflict(refusal or "the meeting is not prepared yet", code="meeting_not_open")
    now = clock.now()
    ttl = logic.token_ttl(now, session.schedule.moments()["complete"], settings().token_min_ttl_seconds)
    token = livekit.access_token(
        livekit_credentials(),
        livekit.VideoGrant(room=session.room_name, room_join=True),
        identity=user,
        name=name,
        ttl_seconds=ttl,
    )
    return JoinGrant(settings().livekit_url, token, session.room_name, user, role, int(now) + ttl)


def record_attendance(session: models.ClassSession, user: str, action: str, at: float) -> str:
    """A join or leave of a participant; a first join moves a READY session to ONGOING."""
    role = participant_role(session, user)
    if action == "leave":
        return "left" if models.record_leave(session.class_id, user, at) else "not_in_room"
    outcome = models.record_join(session, user, role, at)
    if outcome == "closed":
        current = session_or_404(session.class_id)
        raise Conflict(
            logic.join_refusal(current.status, current.schedule.moments()["ready"])
            or "the meeting is closed",
            code="meeting_not_open",
        )
    fresh = session_or_404(session.class_id)
    if fresh.status == logic.READY:
        advance(fresh, "first join")
    return outcome


@dataclass
class WebhookResult:
    handled: bool
    detail: str


def livekit_webhook(body: bytes, authorization: str | None) -> WebhookResult:
    """LiveKit's participant_joined / participant_left, verified, as attendance."""
    event = livekit.verify_webhook(livekit_credentials(), body, authorization)
    kind = event["event"]
    if kind not in ("participant_joined", "participant_left"):
        return WebhookResult(False, f"ignored {kind}")
    room = (event.get("room") or {}).get("name", "")
    identity = (event.get("participant") or {}).get("identity", "")
    class_id = logic.class_id_of_room(get_settings().stage, str(room))
    session = models.get_session(class_id) if class_id else None
    if session is None or logic.role_in(str(identity), session.teacher_id, list(session.student_ids)) is None:
        return WebhookResult(False, "not a class participant")
    at = _event_time(event.get("createdAt"))
    try:
        outcome = record_attendance(
            session, str(identity), "join" if kind == "participant_joined" else "leave", at
        )
    except Conflict as error:  # joined a closed room: nothing to record, nothing to retry
        return WebhookResult(False, error.message)
    return WebhookResult(True, outcome)


def _event_time(created_at: Any) -> float:
    """The webhook's own time (seconds), unless absent or implausible."""
    now = clock.now()
    try:
        at = float(created_at)
    except (TypeError, ValueError):
        return now
    return at if now - 3600 <= at <= now + 60 else now


# --- reconcile and explain --------------------------------------------------------------------


@dataclass
class Reconciled:
    class_id: str
    status_before: str
    steps: list[str] = field(default_factory=list)
    status_after: str = ""


def reconcile(grace: float, dry_run: bool = False) -> list[Reconciled]:
    """Every unsettled session whose next moment passed ``grace`` seconds ago: advance it (or,
    with ``dry_run``, say what would happen). Safe beside the workers: the same conditional
    writes as the timers, so whoever comes second changes nothing."""
    now = clock.now()
    report = []
    for session in models.due_sessions(now - grace):
        planned = [f"{t.from_status} -> {t.to_status}" for t in logic.due_transitions(session.state, now)]
        if session.status in logic.FINAL and not session.settled:
            planned.append("settle")
        entry = Reconciled(session.class_id, session.status, planned, session.status)
        if not dry_run and planned:
            entry.status_after = advance(session, "reconcile").status
        report.append(entry)
    if report and not dry_run:
        logger.warning("classes reconcile moved sessions", extra={"count": len(report)})
    return report


def explain(class_id: str) -> dict[str, Any]:
    """Where a session is and why: its moments, its timers, its history, what comes next."""
    session = session_or_404(class_id)
    now = clock.now()
    moments = session.schedule.moments()
    timer_rows = []
    for moment, due in session.schedule.timer_moments().items():
        key = logic.timer_key(class_id, moment, int(session.version))
        item = timers.get(MOMENT_TIMER, key)
        timer_rows.append(
            {"moment": moment, "due_at": due, "key": key, "state": item.state if item else "none"}
        )
    pending = logic.due_transitions(session.state, now)
    due = logic.next_due(session.state)
    if pending:
        steps = ", ".join(f"{t.from_status} -> {t.to_status}" for t in pending)
        why = f"overdue: {steps} (run update-statuses)"
    elif due is not None:
        upcoming = logic.next_transition(session.state, due)
        target = upcoming.to_status if upcoming else "?"
        why = (
            f"{session.status} until {clock.to_datetime(due).isoformat()} ({due - now:+.0f}s), then {target}"
        )
    elif not session.settled:
        why = f"{session.status}: final, settlement pending (credits, events)"
    else:
        why = f"{session.status}: final and settled"
    return {
        "session": session,
        "moments": moments,
        "timers": timer_rows,
        "history": list(session.history),
        "attendance": models.attendance(class_id),
        "why": why,
    }
