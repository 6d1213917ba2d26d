"""The rules of a class session, without AWS: its moments, which transition is due, who may
join, who pays a credit. Every function here is pure; models.py applies what it decides.

A session has four moments, fixed by its schedule and its academy's settings::

    ready    = scheduled_at - preparation       SCHEDULED -> READY (meeting room fixed)
    start    = scheduled_at (or the first join)  READY     -> ONGOING
    absent   = scheduled_at + late tolerance     individual, no student joined -> ABSENT
    complete = scheduled_at + duration + buffer  ONGOING   -> COMPLETED (ABSENT if individual
                                                                        and still no student)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

SCHEDULED, READY, ONGOING, COMPLETED, ABSENT, CANCELLED = (
    "scheduled",
    "ready",
    "ongoing",
    "completed",
    "absent",
    "cancelled",
)
FINAL = (COMPLETED, ABSENT, CANCELLED)
OPEN = (SCHEDULED, READY, ONGOING)
JOINABLE = (READY, ONGOING)
INDIVIDUAL, GROUP = "individual", "group"
MAX_GROUP_STUDENTS = 40  # a settlement stays well inside one transaction per student, and a room

Moment = Literal["ready", "start", "absent", "complete"]
MOMENTS: tuple[Moment, ...] = ("ready", "start", "absent", "complete")


@dataclass(frozen=True)
class Schedule:
    """When a session runs and the academy settings it was scheduled with (minutes)."""

    kind: str  # individual | group
    scheduled_at: float  # epoch seconds, UTC
    duration_minutes: float
    preparation_minutes: float
    buffer_minutes: float
    late_tolerance_minutes: float

    def moments(self) -> dict[Moment, float]:
        """Each moment's time; ``absent`` only for individual sessions."""
        start = self.scheduled_at
        result: dict[Moment, float] = {
            "ready": start - self.preparation_minutes * 60,
            "start": start,
            "complete": start + (self.duration_minutes + self.buffer_minutes) * 60,
        }
        if self.kind == INDIVIDUAL:
            result["absent"] = start + self.late_tolerance_minutes * 60
        return dict(sorted(result.items(), key=lambda kv: (kv[1], MOMENTS.index(kv[0]))))

    def timer_moments(self) -> dict[Moment, float]:
        """Moments that need a timer: ``absent`` at or after ``complete`` is decided by ``complete``."""
        moments = self.moments()
        if "absent" in moments and moments["absent"] >= moments["complete"]:
            del moments["absent"]
        return moments


@dataclass(frozen=True)
class State:
    status: str
    schedule: Schedule
    student_joined: bool = False
    first_join_at: float | None = None


@dataclass(frozen=True)
class Transition:
    moment: Moment
    from_status: str
    to_status: str
    due_at: float


def next_transition(state: State, now: float) -> Transition | None:
    """The one transition due from ``state`` at ``now``, in the order the moments fall."""
    m = state.schedule.moments()
    status = state.status
    if status == SCHEDULED and now >= m["ready"]:
        return Transition("ready", SCHEDULED, READY, m["ready"])
    if status == READY:
        if state.first_join_at is not None and state.first_join_at < m["start"]:
            return Transition("start", READY, ONGOING, state.first_join_at)
        if now >= m["start"]:
            return Transition("start", READY, ONGOING, m["start"])
    if status == ONGOING:
        if state.schedule.kind == INDIVIDUAL and not state.student_joined:
            due = min(m["absent"], m["complete"])
            if now >= due:
                return Transition(
                    "absent" if m["absent"] <= m["complete"] else "complete", ONGOING, ABSENT, due
                )
        if now >= m["complete"]:
            return Transition("complete", ONGOING, COMPLETED, m["complete"])
    return None


def due_transitions(state: State, now: float) -> list[Transition]:
    """Every transition due at ``now``, in order (a session created late, or a system that was
    down, catches up through each state it missed)."""
    result = []
    while (step := next_transition(state, now)) is not None:
        result.append(step)
        state = State(step.to_status, state.schedule, state.student_joined, state.first_join_at)
    return result


def next_due(state: State) -> float | None:
    """When the next transition falls due if nobody joins; ``None`` once final."""
    m = state.schedule.moments()
    if state.status == SCHEDULED:
        return m["ready"]
    if state.status == READY:
        return m["start"]
    if state.status == ONGOING:
        if state.schedule.kind == INDIVIDUAL and not state.student_joined:
            return min(m["absent"], m["complete"])
        return m["complete"]
    return None


def timer_key(class_id: str, moment: str, version: int) -> str:
    """One timer per session, moment and schedule version: a reschedule or cancel bumps the
    version, so timers of the old schedule find nothing to do even if they fire anyway."""
    return f"{class_id}#{moment}#v{version}"


def parse_timer_key(key: str) -> tuple[str, str, int]:
    class_id, moment, version = key.rsplit("#", 2)
    return class_id, moment, int(version.removeprefix("v"))


def room_name(stage: str, class_id: str) -> str:
    """The session's LiveKit room (fixed at READY; the room itself is created by the first join)."""
    return f"muda-{stage}-class-{class_id}"


def class_id_of_room(stage: str, room: str) -> str | None:
    prefix = f"muda-{stage}-class-"
    return room[len(prefix) :] if room.startswith(prefix) and len(room) > len(prefix) else None


# --- who may do what --------------------------------------------------------------------------


def role_in(user: str, teacher_id: str, student_ids: list[str]) -> str | None:
    """``teacher``, ``student`` or ``None`` (not a participant)."""
    if user == teacher_id:
        return "teacher"
    if user in student_ids:
        return "student"
    return None


def join_refusal(status: str, ready_at: float) -> str | None:
    """Why a participant cannot join now, or ``None`` if they can."""
    if status in JOINABLE:
        return None
    if status == SCHEDULED:
        return f"the meeting opens at the ready moment ({ready_at:.0f}, epoch seconds)"
    return f"the class is {status}; the meeting is closed"


def token_ttl(now: float, complete_at: float, minimum: int) -> int:
    """A join token lives until the class ends (it only gates the first connection)."""
    return max(minimum, math.ceil(complete_at - now))


def validate_students(kind: str, teacher_id: str, student_ids: list[str]) -> str | None:
    """What is wrong with a session's participants, or ``None``."""
    if len(set(student_ids)) != len(student_ids):
        return "student_ids has duplicates"
    if teacher_id in student_ids:
        return "the teacher cannot be a student of the same class"
    if kind == INDIVIDUAL and len(student_ids) != 1:
        return "an individual class has exactly one student"
    if kind == GROUP and not 1 <= len(student_ids) <= MAX_GROUP_STUDENTS:
        return f"a group class has 1 to {MAX_GROUP_STUDENTS} students"
    return None


# --- credits ------------------------------------------------------------------------------------


def students_to_charge(kind: str, status: str, student_ids: list[str], attended: set[str]) -> list[str]:
    """Whose class credit a final session uses: an individual session that ended completed or
    absent uses its student's (absent "counts towards the subscription"); a completed group
    session uses one of each student who attended; a cancelled one uses none."""
    if kind == INDIVIDUAL and status in (COMPLETED, ABSENT):
        return list(student_ids)
    if kind == GROUP and status == COMPLETED:
        return [s for s in student_ids if s in attended]
    return []


def status_message(title: str, to_status: str) -> str:
    return {
        READY: f"{title}: the meeting is ready, you can join now",
        ONGOING: f"{title} has started",
        COMPLETED: f"{title} has ended",
        ABSENT: f"{title}: marked absent (no student joined)",
        CANCELLED: f"{title} was cancelled",
        SCHEDULED: f"{title} is scheduled",
    }.get(to_status, f"{title}: {to_status}")
