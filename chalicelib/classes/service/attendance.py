"""Participants joining and leaving: from the API, or from LiveKit's signed webhook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.classes import logic
from chalicelib.classes.models import attendance, sessions
from chalicelib.classes.models.items import Attendance, ClassSession
from chalicelib.classes.service.meeting import livekit_credentials, participant_role
from chalicelib.classes.service.sessions import advance, session_or_404
from chalicelib.core import clock
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Conflict
from chalicelib.integrations import livekit


def attendance_of(class_id: str) -> list[Attendance]:
    return attendance.attendance(class_id)


def record_attendance(session: ClassSession, user: str, action: str, at: float) -> str:
    """A join or leave of a participant; a first join moves a READY session to ONGOING."""
    role = participant_role(session, user)
    if action == "leave":
        return "left" if attendance.record_leave(session.class_id, user, at) else "not_in_room"
    outcome = attendance.record_join(session, user, role, at)
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
    session = sessions.get_session(class_id) if class_id else None
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
