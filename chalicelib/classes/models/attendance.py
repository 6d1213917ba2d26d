"""Attendance of a session's participants: one open interval per user at a time."""

from __future__ import annotations

from typing import Literal

from chalicelib.classes import logic
from chalicelib.classes.models.items import ATTEND, Attendance, ClassSession, attendance_key, class_key
from chalicelib.core import db

JoinOutcome = Literal["joined", "already_in_room", "closed"]


def record_join(session: ClassSession, user: str, role: str, at: float) -> JoinOutcome:
    """One transaction: the session (still joinable; a student's join clears the absent check)
    and the attendance interval (opened only if not already open, so a repeat is a no-op)."""
    att = Attendance(*attendance_key(session.class_id, user))
    session_actions = [ClassSession.first_join_at.set(ClassSession.first_join_at | at)]
    if role == "student":
        session_actions.append(ClassSession.student_joined.set(True))

    def write() -> None:
        with db.transact() as tx:
            tx.update(
                ClassSession(session.pk, session.sk),
                session_actions,
                ClassSession.status.is_in(*logic.JOINABLE),
                label="session",
            )
            tx.update(
                att,
                [
                    Attendance.user_id.set(user),
                    Attendance.role.set(role),
                    Attendance.first_joined_at.set(Attendance.first_joined_at | at),
                    Attendance.in_room_since.set(at),
                    Attendance.joins.add(1),
                ],
                Attendance.in_room_since.does_not_exist(),
                label="attendance",
            )

    try:
        db.retry_on_conflict(write)
    except db.Refused as refused:
        if refused.by("session"):
            return "closed"
        if refused.by("attendance"):
            return "already_in_room"
        raise
    return "joined"


def record_leave(class_id: str, user: str, at: float) -> bool:
    """Close the open interval (adds its seconds); ``False`` if the user was not in the room."""
    current = db.get_or_none(Attendance, *attendance_key(class_id, user), consistent=True)
    if current is None or current.in_room_since is None:
        return False
    since = current.in_room_since
    return db.update_if(
        current,
        [
            Attendance.in_room_since.remove(),
            Attendance.last_left_at.set(at),
            Attendance.seconds.add(max(0.0, at - float(since))),
        ],
        Attendance.in_room_since == since,
    )


def attendance(class_id: str) -> list[Attendance]:
    return list(
        Attendance.query(class_key(class_id)[0], Attendance.sk.startswith(ATTEND), consistent_read=True)
    )
