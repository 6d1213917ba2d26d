"""Classes data (one table, ``muda-<stage>-classes``) and the conditional writes that own it.

Items::

    ACADEMY#<id>   / ACADEMY            academy and its three settings
    CLASS#<id>     / CLASS              the session: schedule, status, version, history, outbox
    CLASS#<id>     / ATTEND#<user>      attendance of one participant
    CLASS#<id>     / CREDIT#<student>   ledger: the credit this session used of this student
    STUDENT#<id>   / CREDITS            the student's class-credit balance
    STUDENT#<id>   / GRANT#<reference>  ledger: a grant of credits, once per reference

gsi1: ``TEACHER#<id>`` (a teacher's sessions) and ``STUDENT#<id>#LEDGER`` (a student's credit
ledger). gsi2 (sparse): ``OPEN#<shard>`` / next due moment — sessions not yet settled, which is
what the reconcile reads instead of scanning.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.classes import logic
from chalicelib.classes.settings import settings
from chalicelib.core import clock, db
from chalicelib.core.db import MudaModel, transaction


def _sortable(epoch: float) -> str:
    return f"{epoch:017.3f}"


# --- academies --------------------------------------------------------------------------------


class Academy(MudaModel):
    table = "classes"
    pk = UnicodeAttribute(hash_key=True)  # ACADEMY#<id>
    sk = UnicodeAttribute(range_key=True)  # ACADEMY
    academy_id = UnicodeAttribute()
    name = UnicodeAttribute()
    preparation_minutes = NumberAttribute()
    buffer_minutes = NumberAttribute()
    late_tolerance_minutes = NumberAttribute()
    created_at = NumberAttribute()
    updated_at = NumberAttribute()


def create_academy(
    academy_id: str, name: str, preparation: float, buffer: float, tolerance: float
) -> Academy:
    now = clock.now()
    item = Academy(
        pk=f"ACADEMY#{academy_id}",
        sk="ACADEMY",
        academy_id=academy_id,
        name=name,
        preparation_minutes=preparation,
        buffer_minutes=buffer,
        late_tolerance_minutes=tolerance,
        created_at=now,
        updated_at=now,
    )
    item.save(condition=Academy.pk.does_not_exist())
    return item


def get_academy(academy_id: str) -> Academy | None:
    try:
        return Academy.get(f"ACADEMY#{academy_id}", "ACADEMY", consistent_read=True)
    except Academy.DoesNotExist:
        return None


def update_academy(academy: Academy, changes: dict[str, Any]) -> bool:
    """Change settings of an existing academy (sessions already scheduled keep theirs)."""
    actions = [getattr(Academy, k).set(v) for k, v in changes.items()]
    try:
        academy.update(actions=[*actions, Academy.updated_at.set(clock.now())], condition=Academy.pk.exists())
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise
    return True


# --- sessions ---------------------------------------------------------------------------------


class HistoryEntry(MapAttribute):
    from_status = UnicodeAttribute()
    to_status = UnicodeAttribute()
    at = NumberAttribute()  # when it was applied
    due_at = NumberAttribute(null=True)  # when its moment fell (lateness = at - due_at)
    reason = UnicodeAttribute()


class TeacherIndex(GlobalSecondaryIndex["ClassSession"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class OpenIndex(GlobalSecondaryIndex["ClassSession"]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class ClassSession(MudaModel):
    table = "classes"
    pk = UnicodeAttribute(hash_key=True)  # CLASS#<id>
    sk = UnicodeAttribute(range_key=True)  # CLASS
    class_id = UnicodeAttribute()
    academy_id = UnicodeAttribute()
    teacher_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # individual | group
    student_ids = ListAttribute(of=UnicodeAttribute)
    title = UnicodeAttribute()
    scheduled_at = NumberAttribute()
    duration_minutes = NumberAttribute()
    preparation_minutes = NumberAttribute()
    buffer_minutes = NumberAttribute()
    late_tolerance_minutes = NumberAttribute()
    status = UnicodeAttribute()
    version = NumberAttribute()  # schedule version: bumped by reschedule and cancel
    room_name = UnicodeAttribute(null=True)
    student_joined = BooleanAttribute(default=False)
    first_join_at = NumberAttribute(null=True)
    history = ListAttribute(of=HistoryEntry, default=list)
    published = NumberAttribute(default=0)  # outbox: history entries already on the bus
    outbox_lease = NumberAttribute(null=True)  # while one sender publishes them
    settled = BooleanAttribute(default=False)  # credits used and events sent after a final status
    created_by = UnicodeAttribute()
    created_at = NumberAttribute()
    updated_at = NumberAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    by_teacher = TeacherIndex()
    open_sessions = OpenIndex()

    @property
    def schedule(self) -> logic.Schedule:
        return logic.Schedule(
            kind=self.kind,
            scheduled_at=float(self.scheduled_at),
            duration_minutes=float(self.duration_minutes),
            preparation_minutes=float(self.preparation_minutes),
            buffer_minutes=float(self.buffer_minutes),
            late_tolerance_minutes=float(self.late_tolerance_minutes),
        )

    @property
    def state(self) -> logic.State:
        return logic.State(
            self.status,
            self.schedule,
            bool(self.student_joined),
            None if self.first_join_at is None else float(self.first_join_at),
        )

    @property
    def participants(self) -> list[str]:
        return [self.teacher_id, *self.student_ids]


def _open_shard(class_id: str) -> str:
    return f"OPEN#{zlib.crc32(class_id.encode()) % settings().open_shards}"


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
    item = ClassSession(
        pk=f"CLASS#{class_id}",
        sk="CLASS",
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
        published=0,
        settled=False,
        student_joined=False,
        created_by=created_by,
        created_at=now,
        updated_at=now,
        gsi1pk=f"TEACHER#{teacher_id}",
        gsi1sk=f"{_sortable(scheduled_at)}#{class_id}",
        gsi2pk=_open_shard(class_id),
    )
    item.gsi2sk = _sortable(logic.next_due(item.state) or now)
    item.save(condition=ClassSession.pk.does_not_exist())
    return item


def get_session(class_id: str) -> ClassSession | None:
    try:
        return ClassSession.get(f"CLASS#{class_id}", "CLASS", consistent_read=True)
    except ClassSession.DoesNotExist:
        return None


def sessions_of_teacher(teacher_id: str, limit: int = 100) -> list[ClassSession]:
    return list(ClassSession.by_teacher.query(f"TEACHER#{teacher_id}", limit=limit))


def _append_history(from_status: str, to_status: str, at: float, due_at: float | None, reason: str) -> Any:
    entry = HistoryEntry(from_status=from_status, to_status=to_status, at=at, due_at=due_at, reason=reason)
    return ClassSession.history.set(ClassSession.history.append([entry]))


def apply_transition(session: ClassSession, step: logic.Transition, reason: str, stage: str) -> bool:
    """Move the session by one transition, only if it is still in ``step.from_status`` on the
    same schedule version; ``False`` if someone else moved it first (the caller re-reads)."""
    now = clock.now()
    after = logic.State(step.to_status, session.schedule, bool(session.student_joined), session.first_join_at)
    due = logic.next_due(after)
    actions = [
        ClassSession.status.set(step.to_status),
        _append_history(step.from_status, step.to_status, now, step.due_at, reason),
        ClassSession.updated_at.set(now),
        # Final sessions stay in the open index (due now) until settled: credits and events.
        ClassSession.gsi2sk.set(_sortable(due if due is not None else now)),
    ]
    if step.to_status == logic.READY:
        actions.append(ClassSession.room_name.set(logic.room_name(stage, session.class_id)))
    condition = (ClassSession.status == step.from_status) & (ClassSession.version == session.version)
    if step.to_status == logic.ABSENT:
        # A student's join (record_join) sets student_joined in its own conditional write: with
        # this condition a join racing the absent moment has exactly one winner.
        condition &= ClassSession.student_joined.does_not_exist() | (ClassSession.student_joined == False)  # noqa: E712
    try:
        session.update(actions=actions, condition=condition)
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise
    return True


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
    try:
        session.update(
            actions=[
                ClassSession.scheduled_at.set(scheduled_at),
                ClassSession.duration_minutes.set(duration_minutes),
                ClassSession.version.add(1),
                ClassSession.updated_at.set(now),
                ClassSession.gsi1sk.set(f"{_sortable(scheduled_at)}#{session.class_id}"),
                ClassSession.gsi2sk.set(_sortable(due or now)),
            ],
            condition=(ClassSession.status == logic.SCHEDULED) & (ClassSession.version == session.version),
        )
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise
    return True


def cancel(session: ClassSession, reason: str) -> bool:
    """CANCELLED from any open status; bumps the version so no pending timer can act."""
    now = clock.now()
    try:
        session.update(
            actions=[
                ClassSession.status.set(logic.CANCELLED),
                ClassSession.version.add(1),
                _append_history(session.status, logic.CANCELLED, now, None, reason),
                ClassSession.updated_at.set(now),
                ClassSession.gsi2sk.set(_sortable(now)),
            ],
            condition=(ClassSession.status == session.status) & (ClassSession.version == session.version),
        )
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise
    return True


def claim_outbox(session: ClassSession, lease_seconds: float) -> bool:
    """Take the outbox (one sender at a time, so racing handlers do not publish the same change
    many times); a sender that died leaves a lease that expires. On success ``session`` holds
    the item as it is now (history and cursor included)."""
    now = clock.now()
    try:
        session.update(
            actions=[ClassSession.outbox_lease.set(now + lease_seconds)],
            condition=ClassSession.outbox_lease.does_not_exist() | (ClassSession.outbox_lease < now),
        )
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise
    return True


def release_outbox(session: ClassSession, published: int) -> None:
    """Outbox cursor: history entries up to ``published`` are on the bus; the lease is freed
    (``session`` is refreshed, so the sender sees entries added meanwhile)."""
    session.update(actions=[ClassSession.published.set(published), ClassSession.outbox_lease.remove()])


def mark_settled(session: ClassSession) -> None:
    """Out of the open index: a final session whose credits are used and every event sent."""
    try:
        session.update(
            actions=[
                ClassSession.settled.set(True),
                ClassSession.gsi2pk.remove(),
                ClassSession.gsi2sk.remove(),
            ],
            condition=ClassSession.status.is_in(*logic.FINAL)
            & (ClassSession.settled == False)  # noqa: E712
            & (ClassSession.published == len(session.history)),
        )
    except UpdateError as error:
        if not db.condition_failed(error):
            raise


def due_sessions(before: float) -> Iterator[ClassSession]:
    """Unsettled sessions whose next moment is at or before ``before`` (every shard)."""
    for shard in range(settings().open_shards):
        yield from ClassSession.open_sessions.query(f"OPEN#{shard}", ClassSession.gsi2sk <= _sortable(before))


# --- attendance -------------------------------------------------------------------------------


class Attendance(MudaModel):
    table = "classes"
    pk = UnicodeAttribute(hash_key=True)  # CLASS#<id>
    sk = UnicodeAttribute(range_key=True)  # ATTEND#<user>
    user_id = UnicodeAttribute()
    role = UnicodeAttribute()  # teacher | student
    first_joined_at = NumberAttribute(null=True)
    last_left_at = NumberAttribute(null=True)
    in_room_since = NumberAttribute(null=True)  # set while in the room
    seconds = NumberAttribute(default=0)
    joins = NumberAttribute(default=0)


JoinOutcome = str  # "joined" | "already_in_room" | "closed"


def record_join(session: ClassSession, user: str, role: str, at: float) -> JoinOutcome:
    """One transaction: the session (still joinable; a student's join clears the absent check)
    and the attendance interval (opened only if not already open, so a repeat is a no-op)."""
    att = Attendance(pk=session.pk, sk=f"ATTEND#{user}")
    session_actions = [ClassSession.first_join_at.set(ClassSession.first_join_at | at)]
    if role == "student":
        session_actions.append(ClassSession.student_joined.set(True))
    try:
        with transaction() as tx:
            tx.update(
                ClassSession(session.pk, session.sk),
                actions=session_actions,
                condition=ClassSession.status.is_in(*logic.JOINABLE),
            )
            tx.update(
                att,
                actions=[
                    Attendance.user_id.set(user),
                    Attendance.role.set(role),
                    Attendance.first_joined_at.set(Attendance.first_joined_at | at),
                    Attendance.in_room_since.set(at),
                    Attendance.joins.add(1),
                ],
                condition=Attendance.in_room_since.does_not_exist(),
            )
    except TransactWriteError as error:
        codes = db.cancellation_codes(error)
        if codes[0:1] == [db.REFUSED]:
            return "closed"
        if codes[1:2] == [db.REFUSED]:
            return "already_in_room"
        raise
    return "joined"


def record_leave(class_id: str, user: str, at: float) -> bool:
    """Close the open interval (adds its seconds); ``False`` if the user was not in the room."""
    att = Attendance(pk=f"CLASS#{class_id}", sk=f"ATTEND#{user}")
    try:
        current = Attendance.get(att.pk, att.sk, consistent_read=True)
    except Attendance.DoesNotExist:
        return False
    since = current.in_room_since
    if since is None:
        return False
    try:
        current.update(
            actions=[
                Attendance.in_room_since.remove(),
                Attendance.last_left_at.set(at),
                Attendance.seconds.add(max(0.0, at - float(since))),
            ],
            condition=Attendance.in_room_since == since,
        )
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise
    return True


def attendance(class_id: str) -> list[Attendance]:
    return list(
        Attendance.query(f"CLASS#{class_id}", Attendance.sk.startswith("ATTEND#"), consistent_read=True)
    )


# --- credits ----------------------------------------------------------------------------------


class LedgerIndex(GlobalSecondaryIndex["CreditLedger"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Wallet(MudaModel):
    table = "classes"
    pk = UnicodeAttribute(hash_key=True)  # STUDENT#<id>
    sk = UnicodeAttribute(range_key=True)  # CREDITS
    student_id = UnicodeAttribute()
    credits = NumberAttribute(default=0)
    granted = NumberAttribute(default=0)
    used = NumberAttribute(default=0)


class CreditLedger(MudaModel):
    """One fact about a student's credits, keyed so it can exist only once."""

    table = "classes"
    pk = UnicodeAttribute(hash_key=True)  # CLASS#<id> (use) | STUDENT#<id> (grant)
    sk = UnicodeAttribute(range_key=True)  # CREDIT#<student> | GRANT#<reference>
    student_id = UnicodeAttribute()
    delta = NumberAttribute()  # -1 used, +n granted, 0 owed (no credit left)
    outcome = UnicodeAttribute()  # used | owed | granted
    class_id = UnicodeAttribute(null=True)
    reference = UnicodeAttribute(null=True)
    at = NumberAttribute()
    gsi1pk = UnicodeAttribute()  # STUDENT#<id>#LEDGER
    gsi1sk = UnicodeAttribute()
    by_student = LedgerIndex()


def _wallet_key(student: str) -> tuple[str, str]:
    return f"STUDENT#{student}", "CREDITS"


def get_wallet(student: str) -> Wallet:
    try:
        return Wallet.get(*_wallet_key(student), consistent_read=True)
    except Wallet.DoesNotExist:
        return Wallet(*_wallet_key(student), student_id=student, credits=0, granted=0, used=0)


def ledger(student: str, limit: int = 50) -> list[CreditLedger]:
    return list(
        CreditLedger.by_student.query(f"STUDENT#{student}#LEDGER", scan_index_forward=False, limit=limit)
    )


def _ledger_item(
    pk: str, sk: str, student: str, delta: int, outcome: str, at: float, **extra: Any
) -> CreditLedger:
    return CreditLedger(
        pk=pk,
        sk=sk,
        student_id=student,
        delta=delta,
        outcome=outcome,
        at=at,
        gsi1pk=f"STUDENT#{student}#LEDGER",
        gsi1sk=f"{_sortable(at)}#{pk}#{sk}",
        **extra,
    )


@dataclass(frozen=True)
class CreditUse:
    student_id: str
    outcome: str  # used | owed | already


def use_credit(class_id: str, student: str) -> CreditUse:
    """One credit of ``student`` for ``class_id``, at most once: the ledger item (must not exist)
    and the decrement (``credits >= 1``) in one transaction. A student with no credit left gets
    an ``owed`` ledger item instead (also once), so the debt is visible and never doubled."""
    now = clock.now()
    pk, sk = f"CLASS#{class_id}", f"CREDIT#{student}"
    try:
        with transaction() as tx:
            tx.save(
                _ledger_item(pk, sk, student, -1, "used", now, class_id=class_id),
                condition=CreditLedger.pk.does_not_exist(),
            )
            tx.update(
                Wallet(*_wallet_key(student)),
                actions=[Wallet.credits.add(-1), Wallet.used.add(1), Wallet.student_id.set(student)],
                condition=Wallet.credits >= 1,
            )
        return CreditUse(student, "used")
    except TransactWriteError as error:
        codes = db.cancellation_codes(error)
        if codes[0:1] == [db.REFUSED]:
            return CreditUse(student, "already")
        if codes[1:2] != [db.REFUSED]:
            raise
    try:
        _ledger_item(pk, sk, student, 0, "owed", now, class_id=class_id).save(
            condition=CreditLedger.pk.does_not_exist()
        )
    except PutError as error:
        if db.condition_failed(error):
            return CreditUse(student, "already")
        raise
    return CreditUse(student, "owed")


def grant_credits(student: str, credits: int, reference: str) -> bool:
    """Add credits once per ``reference`` (e.g. a payment receipt); ``False`` if already granted."""
    now = clock.now()
    pk = f"STUDENT#{student}"
    try:
        with transaction() as tx:
            tx.save(
                _ledger_item(pk, f"GRANT#{reference}", student, credits, "granted", now, reference=reference),
                condition=CreditLedger.pk.does_not_exist(),
            )
            tx.update(
                Wallet(*_wallet_key(student)),
                actions=[
                    Wallet.credits.add(credits),
                    Wallet.granted.add(credits),
                    Wallet.student_id.set(student),
                ],
            )
    except TransactWriteError as error:
        if db.cancellation_codes(error)[0:1] == [db.REFUSED]:
            return False
        raise
    return True
