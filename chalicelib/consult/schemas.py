"""Request and response models of the consult API. Datetimes must carry a timezone (naive → 422)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chalicelib.core.schemas import Page, RequestBody

UserId = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@:+-]+$")
Reference = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:/#-]+$")


class _In(RequestBody):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- plans, subscriptions, wallets ------------------------------------------------------------


class PlanIn(_In):
    name: str = Field(min_length=1, max_length=80)
    text_sessions: int = Field(default=0, ge=0, le=10_000)
    voice_calls: int = Field(default=0, ge=0, le=10_000)
    video_calls: int = Field(default=0, ge=0, le=10_000)
    price: int = Field(ge=0, description="KES minor units")
    currency: Literal["KES"] = "KES"


class PlanOut(BaseModel):
    id: str
    name: str
    text_sessions: int
    voice_calls: int
    video_calls: int
    price: int
    currency: str


class PlanList(BaseModel):
    plans: list[PlanOut]


class SubscribeIn(_In):
    patient_id: str = UserId
    plan_id: str = Field(min_length=1, max_length=64)
    reference: str = Reference


class TopUpIn(_In):
    patient_id: str = UserId
    kind: Literal["text", "voice", "video"]
    credits: int = Field(ge=1, le=10_000)
    reference: str = Reference


class StatusIn(_In):
    status: Literal["active", "expired", "suspended"]


class SubscriptionOut(BaseModel):
    patient_id: str
    plan_id: str | None
    status: str
    text_sessions_remaining: int
    voice_calls_remaining: int
    video_calls_remaining: int


class WalletOut(BaseModel):
    doctor_id: str
    balance: int
    credits_earned: int
    currency: str = "KES"


class LedgerEntryOut(BaseModel):
    session_id: str
    interval: int
    entry: Literal["debit", "award"]
    kind: str
    party_id: str
    credits: int
    amount: int
    created_at: datetime


class LedgerOut(BaseModel):
    entries: list[LedgerEntryOut]


# --- sessions and calls -----------------------------------------------------------------------


class CreateTextSession(_In):
    doctor_id: str = UserId


class StartCall(_In):
    doctor_id: str = UserId
    kind: Literal["voice", "video"]


class SessionOut(BaseModel):
    id: str
    kind: str
    status: str
    patient_id: str
    doctor_id: str
    created_at: datetime
    activated_at: datetime | None = None
    connected_at: datetime | None = None
    ended_at: datetime | None = None
    ended_reason: str | None = None
    failure_reason: str | None = None
    intervals_billed: int
    interval_seconds: float
    next_tick_at: datetime | None = None
    last_activity_at: datetime | None = None
    routing: str | None = Field(
        default=None, description="Text requests: delivered (the doctor was available) or queued"
    )


class SessionList(BaseModel):
    sessions: list[SessionOut]


class MessageIn(_In):
    body: str = Field(min_length=1, max_length=4000)


class MessageOut(BaseModel):
    id: str
    session_id: str
    sender_id: str
    sender_role: str
    body: str
    created_at: datetime


class MessageList(BaseModel):
    messages: list[MessageOut]


# --- appointments -----------------------------------------------------------------------------


class BookAppointment(_In):
    doctor_id: str = UserId
    scheduled_at: AwareDatetime
    note: str | None = Field(default=None, max_length=500)


class Reschedule(_In):
    scheduled_at: AwareDatetime


class CancelIn(_In):
    reason: str | None = Field(default=None, max_length=300)


class AppointmentOut(BaseModel):
    id: str
    patient_id: str
    doctor_id: str
    scheduled_at: datetime
    status: str
    note: str | None = None
    created_at: datetime
    previous_scheduled_at: datetime | None = None
    proposed_by: str | None = None
    cancelled_by: str | None = None
    cancellation_reason: str | None = None


class AppointmentList(BaseModel):
    appointments: list[AppointmentOut]


# --- query strings ----------------------------------------------------------------------------


class ViewerPage(Page):
    """Whose list: your own (``as`` when you are both patient and doctor), or for an admin the
    one named by ``patient_id`` / ``doctor_id``."""

    as_: Literal["patient", "doctor"] | None = Field(default=None, alias="as")
    patient_id: str | None = Field(default=None, max_length=128)
    doctor_id: str | None = Field(default=None, max_length=128)


class LedgerPage(ViewerPage):
    limit: int = Field(default=100, ge=1, le=500, description="How many entries, at most.")


class MessagePage(Page):
    limit: int = Field(default=100, ge=1, le=500, description="How many messages, at most.")
    after: str | None = Field(default=None, max_length=128, description="Cursor: the last message id seen.")
