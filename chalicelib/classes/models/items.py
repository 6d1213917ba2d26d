"""The classes table (``muda-<stage>-classes``): its items, its indexes, and every key of it.

Items::

    ACADEMY#<id>   / ACADEMY            academy and its three settings
    CLASS#<id>     / CLASS              the session: schedule, status, version, history
    CLASS#<id>     / ATTEND#<user>      attendance of one participant
    CLASS#<id>     / CREDIT#<student>   ledger: the credit this session used of this student
    STUDENT#<id>   / CREDITS            the student's class-credit balance
    STUDENT#<id>   / GRANT#<reference>  ledger: a grant of credits, once per reference

gsi1: ``TEACHER#<id>`` (a teacher's sessions) and ``STUDENT#<id>#LEDGER`` (a student's credit
ledger). gsi2 (sparse): ``OPEN#<shard>`` / next due moment — sessions not yet settled, which is
what the reconcile reads instead of scanning.

This is the only module that spells a key: the aggregate modules call the builders below.
"""

from __future__ import annotations

import zlib

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.classes import logic
from chalicelib.classes.settings import settings
from chalicelib.core import clock
from chalicelib.core.db import MudaModel

Key = tuple[str, str]

# --- keys -------------------------------------------------------------------------------------


def academy_key(academy_id: str) -> Key:
    return f"ACADEMY#{academy_id}", "ACADEMY"


def class_key(class_id: str) -> Key:
    return f"CLASS#{class_id}", "CLASS"


ATTEND = "ATTEND#"


def attendance_key(class_id: str, user: str) -> Key:
    return class_key(class_id)[0], f"{ATTEND}{user}"


def wallet_key(student: str) -> Key:
    return f"STUDENT#{student}", "CREDITS"


def credit_use_key(class_id: str, student: str) -> Key:
    """The ledger item of one student's credit for one session: it can exist only once."""
    return class_key(class_id)[0], f"CREDIT#{student}"


def grant_key(student: str, reference: str) -> Key:
    """The ledger item of one grant: once per reference (a payment receipt)."""
    return wallet_key(student)[0], f"GRANT#{reference}"


def teacher_index(teacher_id: str) -> str:
    return f"TEACHER#{teacher_id}"


def teacher_order(scheduled_at: float, class_id: str) -> str:
    return f"{clock.time_key(scheduled_at)}#{class_id}"


def ledger_index(student: str) -> str:
    return f"STUDENT#{student}#LEDGER"


def open_shard(class_id: str) -> str:
    return open_shard_key(zlib.crc32(class_id.encode()) % settings().open_shards)


def open_shard_key(shard: int) -> str:
    return f"OPEN#{shard}"


def aggregate(class_id: str) -> str:
    """The session's outbox aggregate: its events leave in order, one session at a time."""
    return f"class#{class_id}"


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
    settled = BooleanAttribute(default=False)  # credits used and room closed after a final status
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


def ledger_item(key: Key, student: str, delta: int, outcome: str, at: float, **extra: str) -> CreditLedger:
    pk, sk = key
    return CreditLedger(
        pk=pk,
        sk=sk,
        student_id=student,
        delta=delta,
        outcome=outcome,
        at=at,
        gsi1pk=ledger_index(student),
        gsi1sk=f"{clock.time_key(at)}#{pk}#{sk}",
        **extra,
    )
