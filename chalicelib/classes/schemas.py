"""Request/response models of the classes API. Datetimes must carry a timezone (naive ones are
rejected with 422); durations and academy settings are minutes (fractions allowed)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from chalicelib.core.schemas import Query, RequestBody

USER_ID = r"^[A-Za-z0-9._:@|+-]+$"


class AcademyIn(RequestBody):
    name: str = Field(min_length=1, max_length=120)
    preparation_minutes: float | None = Field(default=None, ge=0, le=24 * 60)
    buffer_minutes: float | None = Field(default=None, ge=0, le=24 * 60)
    late_tolerance_minutes: float | None = Field(default=None, ge=0, le=24 * 60)


class AcademyPatch(RequestBody):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    preparation_minutes: float | None = Field(default=None, ge=0, le=24 * 60)
    buffer_minutes: float | None = Field(default=None, ge=0, le=24 * 60)
    late_tolerance_minutes: float | None = Field(default=None, ge=0, le=24 * 60)

    @model_validator(mode="after")
    def something(self) -> AcademyPatch:
        if not self.model_dump(exclude_none=True):
            raise ValueError("give at least one field to change")
        return self


class AcademyOut(BaseModel):
    id: str
    name: str
    preparation_minutes: float
    buffer_minutes: float
    late_tolerance_minutes: float


class ClassIn(RequestBody):
    academy_id: str = Field(min_length=1, max_length=64)
    teacher_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=USER_ID)
    type: Literal["individual", "group"]
    student_ids: list[str] = Field(min_length=1, max_length=40)
    title: str = Field(min_length=1, max_length=200)
    scheduled_at: AwareDatetime
    duration_minutes: float = Field(gt=0, le=12 * 60)

    @model_validator(mode="after")
    def student_ids_shape(self) -> ClassIn:
        for s in self.student_ids:
            if not re.fullmatch(USER_ID, s) or len(s) > 128:
                raise ValueError(f"student id {s[:40]!r} is not a user id")
        return self


class RescheduleIn(RequestBody):
    scheduled_at: AwareDatetime
    duration_minutes: float | None = Field(default=None, gt=0, le=12 * 60)


class CancelIn(RequestBody):
    reason: str | None = Field(default=None, max_length=300)


class HistoryOut(BaseModel):
    from_status: str
    to_status: str
    at: datetime
    due_at: datetime | None
    reason: str


class AttendanceOut(BaseModel):
    user_id: str
    role: str
    first_joined_at: datetime | None
    last_left_at: datetime | None
    in_room: bool
    minutes: float
    joins: int


class Moments(BaseModel):
    ready_at: datetime
    start_at: datetime
    absent_at: datetime | None
    complete_at: datetime


class ClassOut(BaseModel):
    id: str
    academy_id: str
    teacher_id: str
    type: str
    student_ids: list[str]
    title: str
    scheduled_at: datetime
    duration_minutes: float
    preparation_minutes: float
    buffer_minutes: float
    late_tolerance_minutes: float
    status: str
    version: int
    room_name: str | None
    moments: Moments
    next_due_at: datetime | None
    history: list[HistoryOut]
    attendance: list[AttendanceOut] | None = None


class ClassList(BaseModel):
    classes: list[ClassOut]


class JoinOut(BaseModel):
    url: str
    token: str
    room: str
    identity: str
    role: str
    expires_at: datetime


class AttendanceIn(RequestBody):
    action: Literal["join", "leave"]


class AttendanceResult(BaseModel):
    class_id: str
    user_id: str
    outcome: str
    status: str


class GrantIn(RequestBody):
    credits: int = Field(ge=1, le=1000)
    reference: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")


class LedgerOut(BaseModel):
    delta: int
    outcome: str
    class_id: str | None
    reference: str | None
    at: datetime


class WalletOut(BaseModel):
    student_id: str
    credits: int
    granted: int
    used: int
    ledger: list[LedgerOut]


class GrantOut(WalletOut):
    granted_now: bool


class WebhookOut(BaseModel):
    handled: bool
    detail: str


# --- query strings ----------------------------------------------------------------------------


class ClassQuery(Query):
    teacher_id: str | None = Field(default=None, max_length=128, description="Whose classes (admins).")
