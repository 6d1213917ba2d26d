"""Events (the sales a line forms for), as admins run them: create, change, open/pause/close,
list, and the figures. A raised cap or a resume admits at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chalicelib.core import clock
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.waitroom import logic
from chalicelib.waitroom.models import events, items
from chalicelib.waitroom.models.items import EventItem
from chalicelib.waitroom.schemas import CreateEvent, Stats, UpdateEvent
from chalicelib.waitroom.service.admission import admit_quietly
from chalicelib.waitroom.settings import settings


def create_event(request: CreateEvent) -> EventItem:
    now = clock.now()
    item = items.event(
        request.id,
        event_id=request.id,
        name=request.name,
        status=request.status,
        max_concurrent=request.max_concurrent,
        batch_size=request.batch_size,
        checkout_minutes=request.checkout_minutes,
        session_ttl_minutes=request.session_ttl_minutes,
        checkout_url=str(request.checkout_url) if request.checkout_url else None,
        page=request.page.model_dump(mode="json", exclude_none=True) if request.page else None,
        shards=request.shards or settings().default_shards,
        created_at=now,
        updated_at=now,
    )
    if not events.create_event(item):
        raise Conflict(f"event {request.id} exists", code="event_exists")
    return item


def get_event(event_id: str) -> EventItem:
    event = events.get_event(event_id)
    if event is None:
        raise NotFound(f"no event {event_id}")
    return event


def list_events(status: str | None = None) -> Iterator[EventItem]:
    """Every event, or those in ``status``."""
    return events.by_status(status)


def update_event(event_id: str, request: UpdateEvent) -> EventItem:
    current = get_event(event_id)
    changes: dict[str, Any] = {name: getattr(request, name) for name in request.model_fields_set}
    if "checkout_url" in changes and changes["checkout_url"] is not None:
        changes["checkout_url"] = str(changes["checkout_url"])
    if changes.get("page") is not None:
        changes["page"] = request.page.model_dump(mode="json", exclude_none=True)  # type: ignore[union-attr]
    ttl = changes.get("session_ttl_minutes", current.session_ttl_minutes)
    if ttl < changes.get("checkout_minutes", current.checkout_minutes):
        raise BadRequest("session_ttl_minutes must be at least checkout_minutes", code="invalid_config")
    event = events.update_event(event_id, changes, clock.now())
    if event is None:
        raise Conflict(f"event {event_id} is closed", code="event_closed")
    if event.status == logic.ACTIVE and admit_quietly(event_id):  # a raised cap admits at once
        event = get_event(event_id)
    return event


def set_status(event_id: str, status: str) -> EventItem:
    allowed_from = [s for s, targets in logic.TRANSITIONS.items() if status in targets]
    event = events.set_event_status(event_id, allowed_from, status, clock.now())
    if event is None:
        current = get_event(event_id)
        raise Conflict(
            f"event {event_id} cannot go from {current.status} to {status}", code="invalid_transition"
        )
    if status == logic.ACTIVE and admit_quietly(event_id):
        event = get_event(event_id)
    return event


def stats(event_id: str) -> Stats:
    event = get_event(event_id)
    now = clock.now()
    window = settings().rate_window_seconds
    line = events.line(event)
    return Stats(
        event_id=event.event_id,
        status=event.status,
        queued=line.queued,
        queued_priority=line.waiting("v"),
        processing=int(event.processing),
        max_concurrent=int(event.max_concurrent),
        admitted=int(event.admitted),
        completed=int(event.completed),
        expired=int(event.expired),
        abandoned=int(event.abandoned),
        revoked=int(event.revoked),
        errors=int(event.errors),
        last_admission_at=clock.to_datetime(event.last_admission_at) if event.last_admission_at else None,
        admission_rate_per_minute=round(60 * logic.decayed(event.admit_rate, event.rate_at, now, window), 3),
        pass_rate_per_minute=round(60 * logic.decayed(event.pass_rate, event.rate_at, now, window), 3),
    )
