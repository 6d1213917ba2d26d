"""Request/response models of the operations API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from chalicelib.core.schemas import Page, Query, RequestBody


class Me(BaseModel):
    sub: str
    roles: list[str]


class QueueDepthOut(BaseModel):
    queue: str
    visible: int
    in_flight: int
    delayed: int
    dead: int
    oldest_age_seconds: float | None = Field(default=None, description="Oldest visible message's wait.")
    max_attempts: int | None = Field(default=None, description="Tries before the DLQ.")


class QueueList(BaseModel):
    queues: list[QueueDepthOut]


class DeadLetterOut(BaseModel):
    queue: str
    message_id: str
    body: str
    receive_count: int
    error: str
    failed_at: float | None = None


class DeadLetterList(BaseModel):
    failed: list[DeadLetterOut]


class Redrive(RequestBody):
    message_id: str | None = Field(default=None, min_length=1, max_length=128)
    all: bool = False
    queue: str | None = Field(default=None, max_length=80)

    @model_validator(mode="after")
    def one_target(self) -> Redrive:
        if bool(self.message_id) == self.all:
            raise ValueError("give either message_id or all=true")
        return self


class Redriven(BaseModel):
    redriven: int


class RetryOut(BaseModel):
    queue: str
    message_id: str
    attempt: int = Field(description="Failed tries so far; the next is attempt + 1 of max_attempts.")
    max_attempts: int | None
    error: str
    failed_at: float
    next_try_at: float = Field(description="In the past: the try is running now.")
    summary: str


class RetryList(BaseModel):
    retries: list[RetryOut]


class TimerOut(BaseModel):
    kind: str
    key: str
    state: str
    due_at: float
    late_seconds: float | None = Field(default=None, description="How late an overdue timer is.")


class TimerList(BaseModel):
    timers: list[TimerOut]
    by_kind: dict[str, int]
    overdue_by_kind: dict[str, int] = {}
    overdue: int = 0


class RouterRow(BaseModel):
    router_id: str
    name: str
    host: str
    port: int
    status: str
    last_checked_at: float | None = None
    last_seen_at: float | None = None
    status_changed_at: float | None = None
    status_error: str | None = None
    users_provisioned: int
    users_pending: int
    users_failed: int


class RouterBoard(BaseModel):
    routers: list[RouterRow]


class RouterChecked(BaseModel):
    router: RouterRow
    checked: bool = Field(description="False: the probe did not answer in time; the row is the last known.")


class PaymentLookup(BaseModel):
    payments: list[dict[str, Any]]


class Lookup(BaseModel):
    model_config = {"extra": "allow"}


class EventOut(BaseModel):
    id: str
    source: str
    type: str
    detail: dict[str, Any]
    time: str


class EventList(BaseModel):
    events: list[EventOut]


# --- query strings ----------------------------------------------------------------------------


class DeadLetterQuery(Query):
    queue: str | None = Field(default=None, max_length=80, description="Only this queue's dead letters.")


class RetryQuery(Query):
    queue: str | None = Field(default=None, max_length=80, description="Only this queue's retries.")


class PaymentQuery(Query):
    phone: str | None = Field(default=None, max_length=20)
    receipt: str | None = Field(default=None, max_length=20)
    checkout_request_id: str | None = Field(default=None, max_length=80)

    @model_validator(mode="after")
    def one_key(self) -> PaymentQuery:
        if sum(v is not None for v in (self.phone, self.receipt, self.checkout_request_id)) != 1:
            raise ValueError("give exactly one of phone, receipt or checkout_request_id")
        return self


class TimerQuery(Query):
    overdue: bool = Field(default=False, description="Only those past due beyond the sweeper's grace.")


class EventPage(Page):
    type: str | None = Field(default=None, max_length=128, description="Only events of this detail-type.")
