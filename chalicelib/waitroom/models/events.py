"""The event aggregate: config, status, the ticket counters and the error count. Every write that
changes a state is conditional; ``None``/``False`` is the refusal a caller turns into an answer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.core import db
from chalicelib.waitroom import logic
from chalicelib.waitroom.logic import Lane
from chalicelib.waitroom.models import items
from chalicelib.waitroom.models.items import EventItem, JoinMarker, ShardItem


def create_event(item: EventItem) -> bool:
    """The event and its counter shards, in one transaction; ``False`` if the event exists."""

    def write() -> None:
        with db.transact() as tx:
            tx.put(item, EventItem.pk.does_not_exist(), label="event")
            for k in range(item.shard_count):
                tx.put(items.shard(item.event_id, k, next=0), label="shard")

    return db.applied(write, refused_by="event")


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


# --- the sharded counter ------------------------------------------------------------------------


def _batch_get(
    keys: Sequence[tuple[str, str]], consistent: bool = True
) -> dict[tuple[str, str], dict[str, Any]]:
    """Items of the waitroom table by key, in one BatchGetItem per 100 keys. Joins may read
    stale counts (a count read is never above the true one, so the fairness bound only gets
    stricter) and half the capacity: every join and poll reads the one event item."""
    client = db.connection().client
    table = EventItem.Meta.table_name
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for start in range(0, len(keys), 100):
        wanted = [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in keys[start : start + 100]]
        while wanted:
            answer = client.batch_get_item(RequestItems={table: {"Keys": wanted, "ConsistentRead": True}})
            for raw in answer["Responses"].get(table, []):
                found[(raw["pk"]["S"], raw["sk"]["S"])] = raw
            wanted = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
    return found


_known_shards: dict[str, int] = {}  # event -> shard count, so one read fetches event and shards


def _read(
    event_id: str, extra: Sequence[tuple[str, str]] = (), consistent: bool = True
) -> tuple[dict[tuple[str, str], dict[str, Any]], EventItem | None, list[int]]:
    """The event, its shard counts and ``extra`` items, in one BatchGetItem (two the first time
    this process meets an event with more shards than it knew)."""
    guess = _known_shards.get(event_id, 1)
    keys = [*extra, items.event_key(event_id)] + [items.shard_key(event_id, k) for k in range(guess)]
    found = _batch_get(keys, consistent)
    raw = found.get(items.event_key(event_id))
    if raw is None:
        return found, None, []
    event = EventItem.from_raw_data(raw)
    n = _known_shards[event_id] = event.shard_count
    if n > guess:
        found.update(_batch_get([items.shard_key(event_id, k) for k in range(guess, n)], consistent))
    return found, event, [_count(found.get(items.shard_key(event_id, k))) for k in range(n)]


def shard_count(event_id: str) -> int | None:
    """An event's shard count (fixed at creation, so cached per process); ``None``: no event."""
    if event_id not in _known_shards:
        event = get_event(event_id)
        if event is None:
            return None
        _known_shards[event_id] = event.shard_count
    return _known_shards[event_id]


def read_for_join(event_id: str, user_id: str) -> tuple[JoinMarker | None, EventItem | None, list[int]]:
    """A joiner's marker, the event and its shard counts, in one eventually consistent read (a
    marker missed by it still stops a second place: the place's transaction puts the marker)."""
    key = items.marker_key(event_id, user_id)
    found, event, counts = _read(event_id, [key], consistent=False)
    raw = found.get(key)
    return (JoinMarker.from_raw_data(raw) if raw else None), event, counts


def read_with_shards(event_id: str, consistent: bool = True) -> tuple[EventItem | None, list[int]]:
    """The event and its shard counts, in one read (the admitter's view of the line; a poll's
    view, eventually consistent)."""
    _, event, counts = _read(event_id, consistent=consistent)
    return event, counts


def shard_counts(event: EventItem) -> list[int]:
    keys = [items.shard_key(event.event_id, k) for k in range(event.shard_count)]
    found = _batch_get(keys)
    return [_count(found.get(key)) for key in keys]


def _count(raw: dict[str, Any] | None) -> int:
    return int(raw["next"]["N"]) if raw and "next" in raw else 0


def line(event: EventItem, counts: Sequence[int] | None = None) -> logic.Line:
    """The event's line, its normal lane counted on the shards (read unless given)."""
    counts = shard_counts(event) if counts is None else counts
    return logic.sharded_line(int(event.next_v), int(event.cursor_v), int(event.cursor_n), counts)


def take_shard_ticket(event_id: str, shard: int, below: int | None) -> int | None:
    """Shard ``shard``'s next seq, if its count is still below ``below`` (the fairness bound;
    ``None``: a single counter, exactly fair by itself); else ``None`` (another join moved it:
    read again)."""
    item = items.shard(event_id, shard)
    # A missing counter (an event made before shards existed) starts at 0.
    condition = None if below is None else ShardItem.next.does_not_exist() | (ShardItem.next < below)
    try:
        if not db.update_if(item, [ShardItem.next.add(1)], condition):
            return None
    except UpdateError as error:  # an admission round moving this counter held it: read again
        if error.cause_response_code == "TransactionConflictException":
            return None
        raise
    return int(item.next)
