"""Academies and sessions: create, reschedule, cancel, and walk a session through its statuses.

Every effect is a conditional write of ``models``; this module only sequences them: write
first, then arm timers / delete rooms, and make every step safe to repeat, so a timer firing
twice, a handler re-run after a crash, or the reconcile running beside the workers all end in
the same state. Status events leave with their transition (``models.sessions``), so nothing
here publishes.
"""

from __future__ import annotations

from typing import Any

from chalicelib.classes import logic
from chalicelib.classes.models import academies, attendance, credits, sessions
from chalicelib.classes.models.items import Academy, ClassSession
from chalicelib.classes.service.meeting import close_meeting
from chalicelib.classes.settings import settings
from chalicelib.core import clock, ids, timers
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.observability import MetricUnit, logger, metrics

MOMENT_TIMER = "classes.moment"
MAX_STEPS = 10  # transitions of one advance (at most four exist; re-reads after lost races)


# --- academies --------------------------------------------------------------------------------


def create_academy(
    name: str, preparation: float | None, buffer: float | None, tolerance: float | None
) -> Academy:
    conf = settings()
    return academies.create_academy(
        ids.new_id("ac_"),
        name,
        conf.preparation_minutes if preparation is None else preparation,
        conf.buffer_minutes if buffer is None else buffer,
        conf.late_tolerance_minutes if tolerance is None else tolerance,
    )


def academy_or_404(academy_id: str) -> Academy:
    academy = academies.get_academy(academy_id)
    if academy is None:
        raise NotFound(f"no academy {academy_id}")
    return academy


def update_academy(academy: Academy, changes: dict[str, Any]) -> bool:
    """Change an academy's settings (sessions already scheduled keep theirs)."""
    return academies.update_academy(academy, changes)


# --- sessions ---------------------------------------------------------------------------------


def session_or_404(class_id: str) -> ClassSession:
    session = sessions.get_session(class_id)
    if session is None:
        raise NotFound(f"no class {class_id}")
    return session


def sessions_of_teacher(teacher_id: str) -> list[ClassSession]:
    return sessions.sessions_of_teacher(teacher_id)


def create_session(
    academy: Academy,
    teacher_id: str,
    kind: str,
    student_ids: list[str],
    title: str,
    scheduled_at: float,
    duration_minutes: float,
    created_by: str,
) -> ClassSession:
    """Write the session, arm a timer per future moment, and catch up on moments already past."""
    session = sessions.new_session(
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
    return _catch_up(session, "created late: catching up")


def _catch_up(session: ClassSession, reason: str) -> ClassSession:
    return advance(session, reason) if logic.due_transitions(session.state, clock.now()) else session


def arm(session: ClassSession) -> int:
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


def disarm(session: ClassSession, version: int) -> None:
    """Cancel the timers of an old schedule version. Only tidiness: a timer of an old version
    that fires anyway (cancel raced its delivery) finds the version moved and does nothing."""
    for moment in logic.MOMENTS:
        timers.cancel(MOMENT_TIMER, logic.timer_key(session.class_id, moment, version))


def reschedule(session: ClassSession, scheduled_at: float, duration_minutes: float) -> ClassSession:
    old_version = int(session.version)
    if not sessions.reschedule(session, scheduled_at, duration_minutes):
        current = session_or_404(session.class_id)
        raise Conflict(
            f"only a scheduled class can be rescheduled (this one is {current.status})",
            code="not_reschedulable",
        )
    disarm(session, old_version)
    arm(session)
    return _catch_up(session, "rescheduled into the past: catching up")


def cancel(session: ClassSession, reason: str) -> ClassSession:
    old_version = int(session.version)
    if session.status not in logic.OPEN or not sessions.cancel(session, reason):
        current = session_or_404(session.class_id)
        raise Conflict(f"the class is {current.status}; it cannot be cancelled", code="not_cancellable")
    disarm(session, old_version)
    settle(session)
    return session


# --- transitions ------------------------------------------------------------------------------


def on_moment(timer: timers.Timer) -> None:
    """A moment's timer: advance the session if the timer belongs to its current schedule."""
    class_id, moment, version = logic.parse_timer_key(timer.key)
    session = sessions.get_session(class_id)
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


def advance(session: ClassSession, reason: str) -> ClassSession:
    """Apply every transition due now, in order, each a conditional write on the current status
    and schedule version (with its event); a lost race re-reads and goes on from what the
    winner left. Then settle a final session (credits, room)."""
    stage = get_settings().stage
    for _ in range(MAX_STEPS):
        now = clock.now()
        step = logic.next_transition(session.state, now)
        if step is None:
            break
        if sessions.apply_transition(session, step, reason, stage):
            _log_transition(session.class_id, step, reason, max(0.0, now - step.due_at))
            continue
        fresh = sessions.get_session(session.class_id)
        if fresh is None:
            break
        session = fresh
    if session.status in logic.FINAL:
        settle(session)
    return session


def _log_transition(class_id: str, step: logic.Transition, reason: str, lateness: float) -> None:
    metrics.add_metric(name="ClassTransitionLatenessMs", unit=MetricUnit.Milliseconds, value=lateness * 1000)
    logger.info(
        "class status changed",
        extra={
            "class_id": class_id,
            "from": step.from_status,
            "to": step.to_status,
            "reason": reason,
            "lateness_ms": round(lateness * 1000),
        },
    )


def settle(session: ClassSession) -> None:
    """After a final status: close open attendance, use credits (once each, ledger-keyed),
    attempt room deletion, and drop out of the open index. Safe to repeat."""
    if session.settled:
        return
    end = min(clock.now(), session.schedule.moments()["complete"])
    present = attendance.attendance(session.class_id)
    for att in present:
        if att.in_room_since is not None:
            attendance.record_leave(session.class_id, att.user_id, max(end, float(att.in_room_since)))
    attended = {a.user_id for a in present if a.role == "student" and a.first_joined_at is not None}
    for student in logic.students_to_charge(
        session.kind, session.status, list(session.student_ids), attended
    ):
        use = credits.use_credit(session.class_id, student)
        if use.outcome == "owed":
            logger.warning(
                "class credit owed - student has none left",
                extra={"class_id": session.class_id, "student": student},
            )
        elif use.outcome == "used":
            logger.info("class credit used", extra={"class_id": session.class_id, "student": student})
    close_meeting(session)
    sessions.mark_settled(session)
