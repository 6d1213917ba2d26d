"""The event aggregate: config, status, the ticket counters and the error count. Every write that
changes a state is conditional; ``None``/``False`` is the refusal a caller turns into an answer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from chalicelib.core import db
from chalicelib.waitroom import logic
from chalicelib.waitroom.logic import Lane
from chalicelib.waitroom.models import items
from chalicelib.waitroom.models.items import EventItem


def create_event(item: EventItem) -> bool:
    """``False`` if an event with this id exists."""
    return db.put_if_absent(item)


def get_event(event_id: str) -> EventItem | None:
    return db.get_or_none(EventItem, *items.event_key(event_id), consistent=True)


def update_event(event_id: str, changes: dict[str, Any], now: float) -> EventItem | None:
    """Change config fields of an event that is not closed; ``None`` if absent or closed."""
    item = items.event(event_id)
    actions = [getattr(EventItem, name).set(value) for name, value in changes.items() if value is not None]
    actions += [getattr(EventItem, name).remove() for name, value in changes.items() if value is None]
    actions.append(EventItem.updated_at.set(now))
    condition = EventItem.pk.exists() & (EventItem.status != logic.CLOSED)
    return item if db.update_if(item, actions, condition) else None


def set_event_status(event_id: str, allowed_from: Sequence[str], status: str, now: float) -> EventItem | None:
    """Move the event to ``status`` if it is in one of ``allowed_from``; else ``None``."""
    item = items.event(event_id)
    actions = [
        EventItem.status.set(status),
        EventItem.gsi1sk.set(items.status_key(status, event_id)),
        EventItem.updated_at.set(now),
    ]
    condition = EventItem.pk.exists() & EventItem.status.is_in(*allowed_from)
    return item if db.update_if(item, actions, condition) else None


def by_status(status: str | None = None) -> Iterator[EventItem]:
    condition = EventItem.gsi1sk.startswith(items.status_key(status)) if status else None
    yield from EventItem.by_status.query(items.EVENTS, condition)


def add_errors(event_id: str, count: int = 1) -> None:
    items.event(event_id).update(actions=[EventItem.errors.add(count)], condition=EventItem.pk.exists())


def allocate_ticket(event_id: str, lane: Lane) -> EventItem | None:
    """Hand out the next ticket of ``lane`` (atomic counter); the event as it is after it, or
    ``None`` if the event is not active."""
    item = items.event(event_id)
    counter = EventItem.next_v if lane == "v" else EventItem.next_n
    return item if db.update_if(item, [counter.add(1)], EventItem.status == logic.ACTIVE) else None
