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


class QueueList(BaseModel):
    queues: list[QueueDepthOut]


class DeadLetterOut(BaseModel):
    queue: str
    message_id: str
    body: str
    receive_count: int
    error: str


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


class TimerOut(BaseModel):
    kind: str
    key: str
    state: str
    due_at: float


class TimerList(BaseModel):
    timers: list[TimerOut]
    by_kind: dict[str, int]


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


class TimerQuery(Query):
    overdue: bool = Field(default=False, description="Only those past due beyond the sweeper's grace.")


class EventPage(Page):
    type: str | None = Field(default=None, max_length=128, description="Only events of this detail-type.")
