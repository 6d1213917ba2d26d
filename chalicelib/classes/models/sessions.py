"""Class sessions: created, moved along their statuses, rescheduled, cancelled, settled.

Every status change is one transaction: the session's conditional update (still in the status
and schedule version it was read in) and its ``ClassStatusChanged`` event in the core outbox,
so the event exists if and only if the change does, and leaves in the session's order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chalicelib.classes import DOMAIN, logic
from chalicelib.classes.models.items import (
    Academy,
    ClassSession,
    HistoryEntry,
    aggregate,
    class_key,
    open_shard,
    open_shard_key,
    teacher_index,
    teacher_order,
)
from chalicelib.classes.settings import settings
from chalicelib.core import clock, db

STATUS_CHANGED = "ClassStatusChanged"


def new_session(
    class_id: str,
    academy: Academy,
    teacher_id: str,
    kind: str,
    student_ids: list[str],
    title: str,
    scheduled_at: float,
    duration_minutes: float,
    created_by: str,
) -> ClassSession:
    now = clock.now()
    pk, sk = class_key(class_id)
    item = ClassSession(
        pk=pk,
        sk=sk,
        class_id=class_id,
        academy_id=academy.academy_id,
        teacher_id=teacher_id,
        kind=kind,
        student_ids=student_ids,
        title=title,
        scheduled_at=scheduled_at,
        duration_minutes=duration_minutes,
        preparation_minutes=float(academy.preparation_minutes),
        buffer_minutes=float(academy.buffer_minutes),
        late_tolerance_minutes=float(academy.late_tolerance_minutes),
        status=logic.SCHEDULED,
        version=1,
        history=[],
        settled=False,
        student_joined=False,
        created_by=created_by,
        created_at=now,
        updated_at=now,
        gsi1pk=teacher_index(teacher_id),
        gsi1sk=teacher_order(scheduled_at, class_id),
        gsi2pk=open_shard(class_id),
    )
    item.gsi2sk = clock.time_key(logic.next_due(item.state) or now)
    if not db.put_if_absent(item):
        raise RuntimeError(f"class id {class_id} already taken")  # a fresh ULID: never expected
    return item


def get_session(class_id: str) -> ClassSession | None:
    return db.get_or_none(ClassSession, *class_key(class_id), consistent=True)


def sessions_of_teacher(teacher_id: str, limit: int = 100) -> list[ClassSession]:
    return list(ClassSession.by_teacher.query(teacher_index(teacher_id), limit=limit))


def apply_transition(session: ClassSession, step: logic.Transition, reason: str, stage: str) -> bool:
    """Move the session by one transition, only if it is still in ``step.from_status`` on the
    same schedule version; ``False`` if someone else moved it first (the caller re-reads)."""
    now = clock.now()
    after = logic.State(step.to_status, session.schedule, bool(session.student_joined), session.first_join_at)
    due = logic.next_due(after)
    # Final sessions stay in the open index (due now) until settled: credits and room.
    changes: dict[str, Any] = {
        "status": step.to_status,
        "gsi2sk": clock.time_key(due if due is not None else now),
    }
    if step.to_status == logic.READY:
        changes["room_name"] = logic.room_name(stage, session.class_id)
    condition = (ClassSession.status == step.from_status) & (ClassSession.version == session.version)
    if step.to_status == logic.ABSENT:
        # A student's join (record_join) sets student_joined in its own conditional write: with
        # this condition a join racing the absent moment has exactly one winner.
        condition &= ClassSession.student_joined.does_not_exist() | (ClassSession.student_joined == False)  # noqa: E712
    entry = HistoryEntry(
        from_status=step.from_status, to_status=step.to_status, at=now, due_at=step.due_at, reason=reason
    )
    return _change_status(session, changes, entry, condition)


def cancel(session: ClassSession, reason: str) -> bool:
    """CANCELLED from any open status; bumps the version so no pending timer can act."""
    now = clock.now()
    entry = HistoryEntry(
        from_status=session.status, to_status=logic.CANCELLED, at=now, due_at=None, reason=reason
    )
    condition = (ClassSession.status == session.status) & (ClassSession.version == session.version)
    changes = {"status": logic.CANCELLED, "gsi2sk": clock.time_key(now), "version": int(session.version) + 1}
    return _change_status(session, changes, entry, condition)


def _change_status(
    session: ClassSession, changes: dict[str, Any], entry: HistoryEntry, condition: Any
) -> bool:
    """Apply ``changes`` and append ``entry`` to the history while ``condition`` holds, with the
    ``ClassStatusChanged`` event in the same transaction; ``False`` if the condition refused.
    On success ``session`` holds the new values (a transaction returns no item to refresh from)."""
    changes = {**changes, "updated_at": entry.at}
    actions = [getattr(ClassSession, name).set(value) for name, value in changes.items()]
    actions.append(ClassSession.history.set(ClassSession.history.append([entry])))

    def write() -> None:
        with db.transact() as tx:
            tx.update(session, actions, condition, label="session")
            tx.emit(
                aggregate(session.class_id),
                DOMAIN.name,
                STATUS_CHANGED,
                _status_changed(session, entry),
                sequence=len(session.history or []),  # the transition's place in the history
            )

    if not db.applied(write, refused_by="session"):
        return False
    for name, value in changes.items():
        setattr(session, name, value)
    session.history = [*session.history, entry]
    return True


def _status_changed(session: ClassSession, entry: HistoryEntry) -> dict[str, Any]:
    """The event's detail: the history entry, and who is told what (the notifications inbox)."""
    return {
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
    }


def reschedule(session: ClassSession, scheduled_at: float, duration_minutes: float) -> bool:
    """New time for a session still SCHEDULED; bumps the version so old timers are no-ops."""
    now = clock.now()
    moved = logic.Schedule(
        session.kind,
        scheduled_at,
        duration_minutes,
        float(session.preparation_minutes),
        float(session.buffer_minutes),
        float(session.late_tolerance_minutes),
    )
    due = logic.next_due(logic.State(logic.SCHEDULED, moved))
    return db.update_if(
        session,
        [
            ClassSession.scheduled_at.set(scheduled_at),
            ClassSession.duration_minutes.set(duration_minutes),
            ClassSession.version.add(1),
            ClassSession.updated_at.set(now),
            ClassSession.gsi1sk.set(teacher_order(scheduled_at, session.class_id)),
            ClassSession.gsi2sk.set(clock.time_key(due or now)),
        ],
        (ClassSession.status == logic.SCHEDULED) & (ClassSession.version == session.version),
    )


def mark_settled(session: ClassSession) -> None:
    """Out of the open index: a final session whose credits are used and room closed. A repeat
    (already settled) changes nothing."""
    db.update_if(
        session,
        [ClassSession.settled.set(True), ClassSession.gsi2pk.remove(), ClassSession.gsi2sk.remove()],
        ClassSession.status.is_in(*logic.FINAL) & (ClassSession.settled == False),  # noqa: E712
    )


def due_sessions(before: float) -> Iterator[ClassSession]:
    """Unsettled sessions whose next moment is at or before ``before`` (every shard)."""
    for shard in range(settings().open_shards):
        yield from ClassSession.open_sessions.query(
            open_shard_key(shard), ClassSession.gsi2sk <= clock.time_key(before)
        )
