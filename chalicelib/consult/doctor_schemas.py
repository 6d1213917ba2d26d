"""Request and response models of the doctor registry, hours, slots, presence and earnings.

Times of day are ``"HH:MM"`` in the doctor's own zone; instants in answers are UTC. Query
``from``/``to`` take a date (the doctor's local day: ``to`` includes its date) or a datetime
with an offset."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from chalicelib.consult.schemas import AppointmentOut, UserId, _In
from chalicelib.core.schemas import Page, Query

Mode = Literal["text", "voice", "video"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Hhmm = Annotated[str, Field(pattern=r"^\d\d:\d\d$", description="HH:MM, 00:00 to 24:00")]
Interval = tuple[Hhmm, Hhmm]
Tag = Annotated[str, Field(min_length=1, max_length=60)]
Zone = Field(default=None, min_length=1, max_length=64, description="IANA zone, e.g. Africa/Nairobi")
Instant = Field(
    default=None,
    max_length=40,
    description="YYYY-MM-DD (the doctor's local day) or an ISO datetime with offset",
)


class ProfileIn(_In):
    name: str = Field(min_length=1, max_length=120)
    bio: str | None = Field(default=None, max_length=2000)
    specialties: list[Tag] = Field(default_factory=list, max_length=20)
    languages: list[Tag] = Field(default_factory=list, max_length=20)
    modes: list[Mode] = Field(default_factory=lambda: ["text", "voice", "video"], min_length=1, max_length=3)
    timezone: str | None = Zone
    weekly: dict[Day, list[Interval]] | None = Field(default=None, description="Working hours per weekday")


class DoctorIn(ProfileIn):
    doctor_id: str = UserId


class ProfilePatch(_In):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    bio: str | None = Field(default=None, max_length=2000)
    specialties: list[Tag] | None = Field(default=None, max_length=20)
    languages: list[Tag] | None = Field(default=None, max_length=20)
    modes: list[Mode] | None = Field(default=None, min_length=1, max_length=3)


class DoctorStatusIn(_In):
    status: Literal["active", "inactive"]


class DoctorOut(BaseModel):
    id: str
    name: str
    bio: str | None = None
    specialties: list[str]
    languages: list[str]
    modes: list[str]
    status: str
    active: bool
    timezone: str
    presence: str = "offline"
    available_until: datetime | None = None


class DoctorList(BaseModel):
    doctors: list[DoctorOut]
    next: str | None = Field(default=None, description="Pass as ?after= for the next page")


class DoctorQuery(Page):
    specialty: str | None = Field(default=None, max_length=60)
    mode: Mode | None = None
    available_on: dt.date | None = Field(default=None, description="Has a free slot on this (local) date")
    after: str | None = Field(default=None, max_length=300, description="Cursor from the previous page")


class AdminDoctorQuery(DoctorQuery):
    status: Literal["pending", "active", "inactive"] = "active"


# --- hours ----------------------------------------------------------------------------------------


class ScheduleIn(_In):
    timezone: str | None = Zone
    weekly: dict[Day, list[Interval]]


class ExceptionIn(_In):
    hours: list[Interval] = Field(default_factory=list, max_length=12, description="[] is leave")
    reason: str | None = Field(default=None, max_length=200)


class ExceptionOut(BaseModel):
    date: dt.date
    hours: list[list[str]]
    leave: bool
    reason: str | None = None


class ScheduleOut(BaseModel):
    doctor_id: str
    timezone: str
    slot_minutes: int
    weekly: dict[str, list[list[str]]]
    exceptions: list[ExceptionOut]
    affected_appointments: list[AppointmentOut] = Field(
        default_factory=list,
        description="Booked appointments now outside the hours, to reschedule or cancel (none is cancelled)",
    )


class ConflictList(BaseModel):
    appointments: list[AppointmentOut]


class SlotQuery(Query):
    from_: str | None = Field(default=None, alias="from", max_length=40, description="Default: now")
    to: str | None = Instant
    date: dt.date | None = Field(default=None, description="One local day (instead of from/to)")


class SlotOut(BaseModel):
    at: datetime
    end: datetime
    local: str = Field(description="The slot in the doctor's zone, ISO with offset")


class SlotList(BaseModel):
    doctor_id: str
    timezone: str
    slot_minutes: int
    start: datetime
    end: datetime
    slots: list[SlotOut]


# --- presence and queue --------------------------------------------------------------------------


class PresenceIn(_In):
    status: Literal["available", "busy", "offline"]


class PresenceOut(BaseModel):
    doctor_id: str
    status: str
    available_until: datetime | None = None
    waiting: int


class QueuedOut(BaseModel):
    session_id: str
    patient_id: str
    routing: str
    requested_at: datetime
    position: int


class QueueOut(BaseModel):
    waiting: list[QueuedOut]


# --- earnings -------------------------------------------------------------------------------------


class EarningsQuery(Query):
    from_: str | None = Field(default=None, alias="from", max_length=40, description="Default: the beginning")
    to: str | None = Field(default=None, max_length=40, description="Default: now")
    group: Literal["day", "week", "month"] = "day"


class FiguresOut(BaseModel):
    intervals: int
    credits: int
    amount: int


class PeriodOut(FiguresOut):
    start: dt.date
    end: dt.date
    by_mode: dict[str, FiguresOut]


class WalletFigures(BaseModel):
    balance: int
    paid_out: int
    credits_earned: int


class EarningsOut(BaseModel):
    doctor_id: str
    timezone: str
    currency: str = "KES"
    group: str
    start: datetime | None = Field(description="None: from the beginning")
    end: datetime
    periods: list[PeriodOut]
    total: FiguresOut
    by_mode: dict[str, FiguresOut]
    wallet: WalletFigures
    reconciles: bool | None = Field(
        description="All time only: total amount == wallet balance + paid out (and credits match)"
    )
