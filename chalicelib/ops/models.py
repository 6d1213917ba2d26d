"""Operations data: probe firings and the domain event log (both in the ops table)."""

from __future__ import annotations

import json
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.core import clock
from chalicelib.core.db import MudaModel
from chalicelib.core.ids import IDEMPOTENCY_KEY

EVENT_RETENTION_SECONDS = 30 * 24 * 3600


class EventLogItem(MudaModel):
    """One domain event, keyed by its EventBridge id so a redelivery writes it once."""

    table = "ops"
    pk = UnicodeAttribute(hash_key=True)  # EVENTS
    sk = UnicodeAttribute(range_key=True)  # <time>#<event id>: newest last
    event_id = UnicodeAttribute()
    source = UnicodeAttribute()
    detail_type = UnicodeAttribute()
    detail = UnicodeAttribute()
    expires_at = NumberAttribute()


class ProbeItem(MudaModel):
    """A probe timer's effect (``first_fired_at``, written once, as a product's ledger item is)
    and how many times its handler ran (``executions``: 1, unless a consumer died mid-handler)."""

    table = "ops"
    pk = UnicodeAttribute(hash_key=True)  # PROBE#<run>
    sk = UnicodeAttribute(range_key=True)  # <timer key>
    executions = NumberAttribute(default=0)
    due_at = NumberAttribute()
    first_fired_at = NumberAttribute()
    last_fired_at = NumberAttribute()
    expires_at = NumberAttribute()


def probe_key(run: str, n: int) -> str:
    return f"{run}.{n}"


def record_probe_fire(key: str, due_at: float) -> None:
    now = clock.now()
    run = key.split(".", 1)[0]
    ProbeItem(f"PROBE#{run}", key).update(
        actions=[
            ProbeItem.executions.add(1),
            ProbeItem.due_at.set(due_at),
            ProbeItem.first_fired_at.set(ProbeItem.first_fired_at | now),
            ProbeItem.last_fired_at.set(now),
            ProbeItem.expires_at.set(int(now + EVENT_RETENTION_SECONDS)),
        ]
    )


def probes(run: str) -> list[ProbeItem]:
    return list(ProbeItem.query(f"PROBE#{run}", consistent_read=True))


def record_event(envelope: dict[str, Any]) -> None:
    """Log an event once: keyed by the outbox's idempotency key and time, so an event published
    again (a retried drain) overwrites its own entry instead of showing twice."""
    detail = envelope.get("detail") or {}
    event_id = str(detail.get(IDEMPOTENCY_KEY) or envelope["id"])
    when = detail.get("occurred_at") or envelope.get("time", "")
    EventLogItem(
        pk="EVENTS",
        sk=f"{when}#{event_id}",
        event_id=event_id,
        source=envelope.get("source", ""),
        detail_type=envelope.get("detail-type", ""),
        detail=json.dumps(envelope.get("detail", {})),
        expires_at=int(clock.now() + EVENT_RETENTION_SECONDS),
    ).save()


def recent_events(limit: int = 50, detail_type: str | None = None) -> list[EventLogItem]:
    """Newest first; filtered by event name when given."""
    condition = EventLogItem.detail_type == detail_type if detail_type else None
    query = EventLogItem.query("EVENTS", scan_index_forward=False, filter_condition=condition, page_size=200)
    result = []
    for item in query:
        result.append(item)
        if len(result) == limit:
            break
    return result
