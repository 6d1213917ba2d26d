"""Request/response models of the waiting-room API (its settings: ``settings.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, Field, model_validator

from chalicelib.core.schemas import Query, RequestBody

EVENT_ID = r"^[a-z0-9][a-z0-9-]{2,62}$"


# --- events -----------------------------------------------------------------------------------


HEX_COLOUR = r"^#[0-9a-fA-F]{6}$"


class PageSettings(RequestBody):
    """How the waiting page looks and hands the visitor on (``GET /wait/{event}``)."""

    organiser: str | None = Field(default=None, max_length=100, description="Shown as the page's title.")
    logo_url: AnyHttpUrl | None = Field(default=None, description="An image URL (https) shown at the top.")
    primary_color: str = Field(default="#0b6e4f", pattern=HEX_COLOUR, description="Progress bar, buttons.")
    background_color: str = Field(default="#ffffff", pattern=HEX_COLOUR)
    redirect: Literal["query", "post"] = Field(
        default="query",
        description="On admission: the token goes to checkout_url as a query parameter or a POST field.",
    )
    token_param: str = Field(default="token", pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
    refresh_seconds: float = Field(
        default=30, ge=1, le=120, description="The page polls at least this often (sooner as the turn nears)."
    )

    @model_validator(mode="after")
    def visible(self) -> PageSettings:
        # WCAG 1.4.11: the progress bar and buttons need 3:1 against the page (text colours are
        # chosen by the page itself, black or white, whichever contrasts more: always >= 4.5:1).
        from chalicelib.waitroom.page.theme import contrast

        if contrast(self.primary_color, self.background_color) < 3:
            raise ValueError("primary_color needs a contrast of at least 3:1 against background_color")
        return self


class EventConfig(RequestBody):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    max_concurrent: int | None = Field(default=None, ge=1, le=100_000)
    batch_size: int | None = Field(default=None, ge=1, le=50)
    # Fractions allowed (demos and tests run minute-long windows in seconds).
    checkout_minutes: float | None = Field(default=None, ge=0.05, le=120)
    session_ttl_minutes: float | None = Field(default=None, ge=0.1, le=7 * 24 * 60)
    checkout_url: AnyHttpUrl | None = Field(
        default=None, description="Where admitted visitors go ({event}, {session} filled in): the target URL."
    )
    page: PageSettings | None = None


class CreateEvent(EventConfig):
    id: str = Field(pattern=EVENT_ID, description="Slug: lower-case letters, digits and '-'.")
    name: str = Field(min_length=1, max_length=200)
    max_concurrent: int = Field(default=100, ge=1, le=100_000)
    batch_size: int = Field(default=10, ge=1, le=50)
    checkout_minutes: float = Field(default=15, ge=0.05, le=120)
    session_ttl_minutes: float = Field(default=120, ge=0.1, le=7 * 24 * 60)
    status: Literal["draft", "active"] = "draft"
    shards: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Ticket counter shards, fixed at creation: more for bigger crowds.",
    )

    @model_validator(mode="after")
    def ttl_covers_checkout(self) -> CreateEvent:
        if self.session_ttl_minutes < self.checkout_minutes:
            raise ValueError("session_ttl_minutes must be at least checkout_minutes")
        return self


class UpdateEvent(EventConfig):
    @model_validator(mode="after")
    def something(self) -> UpdateEvent:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        for name in self.model_fields_set:
            if getattr(self, name) is None and name not in ("checkout_url", "page"):
                raise ValueError(f"{name} cannot be null")
        return self


class EventOut(BaseModel):
    id: str
    name: str
    status: str
    max_concurrent: int
    batch_size: int
    checkout_minutes: float
    session_ttl_minutes: float
    checkout_url: str | None
    queued: int
    processing: int
    shards: int
    page: dict | None
    created_at: datetime


class EventList(BaseModel):
    events: list[EventOut]


class Stats(BaseModel):
    event_id: str
    status: str
    queued: int = Field(description="Places not yet reached (abandoned ones counted until reached).")
    queued_priority: int
    processing: int
    max_concurrent: int
    admitted: int = Field(description="Admitted in total.")
    completed: int
    expired: int
    abandoned: int
    revoked: int
    errors: int
    last_admission_at: datetime | None
    admission_rate_per_minute: float
    pass_rate_per_minute: float = Field(description="Places leaving the line per minute (incl. skipped).")


# --- sessions ---------------------------------------------------------------------------------


class PriorityJoin(RequestBody):
    user_id: str = Field(min_length=1, max_length=128)


class Complete(RequestBody):
    token: str = Field(min_length=10, max_length=8192, description="The checkout token of the session.")


class SessionOut(BaseModel):
    id: str
    event_id: str
    user_id: str
    lane: Literal["v", "n"] = Field(description="v: priority (VIP) lane, n: normal")
    status: str
    ticket: int = Field(description="Place number in its lane (1 = first to join).")
    position: int | None = Field(description="1 = next in line; null once out of the line.")
    people_ahead: int | None
    eta_seconds: int | None = Field(description="From the recent pass rate; null while nothing moves.")
    joined_at: datetime
    admitted_at: datetime | None = None
    admission_no: int | None = Field(default=None, description="Order of admission in the event.")
    checkout_token: str | None = None
    checkout_url: str | None = None
    checkout_expires_at: datetime | None = None
    ended_at: datetime | None = None
    poll_after_seconds: float | None = Field(default=None, description="When to poll again (the heartbeat).")


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]
    active_events: int
    signing_kid: str | None
    published_kids: list[str]


class Rotated(BaseModel):
    active_kid: str
    published_kids: list[str]


# --- query strings ----------------------------------------------------------------------------


class EventQuery(Query):
    status: Literal["draft", "active", "paused", "closed"] | None = Field(
        default=None, description="Only events in this status."
    )
