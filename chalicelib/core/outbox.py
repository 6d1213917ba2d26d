"""The one way a domain event leaves: an outbox written in the same transaction as the state change.

``db.transact()``'s ``tx.emit(aggregate, domain, name, detail)`` puts an entry in the outbox
table beside the state change, so the event exists if and only if the change committed. Right
after the commit the aggregate's outbox is drained onto the bus (``drain``: read its entries in
order, publish, delete); a process that dies first leaves entries the sweeper drains a few
seconds later (``sweep``). Delivery is at least once and in order per aggregate: a drainer
publishes every entry it read in key order and deletes an entry only after publishing it, so the
first delivery of each event keeps the aggregate's order. Each event carries a stable
``idempotency_key`` (the entry's id), which consumers deduplicate on, since a retried drain may publish an
entry twice.

Entries live only until they are published, so the table stays near-empty and the sweeper's scan
of it costs next to nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import groupby
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.core import clock, events, ids
from chalicelib.core.db import MudaModel
from chalicelib.core.ids import IDEMPOTENCY_KEY
from chalicelib.core.observability import logger

# An entry still here this long after it was written was not drained by its writer (a crash, or
# the bus refused): the sweeper takes it over.
SWEEP_AFTER_SECONDS = 5.0


class OutboxEntry(MudaModel):
    """One event waiting for the bus, keyed by its aggregate and written in the aggregate's order."""

    table = "outbox"
    aggregate = UnicodeAttribute(hash_key=True)  # <domain>#<aggregate id>
    # <time key or sequence>#<event id>: the aggregate's order (one kind per aggregate)
    position = UnicodeAttribute(range_key=True)
    event_id = UnicodeAttribute()
    domain = UnicodeAttribute()
    name = UnicodeAttribute()
    detail = UnicodeAttribute()  # JSON, as the bus takes it
    written_at = NumberAttribute()

    def event(self) -> events.DomainEvent:
        return events.DomainEvent(self.domain, self.name, json.loads(self.detail))


def entry(
    aggregate: str, domain: str, name: str, detail: dict[str, Any], sequence: int | None = None
) -> OutboxEntry:
    """An outbox entry for ``tx.emit``; ``detail`` gains the ``idempotency_key`` consumers dedupe on."""
    now = clock.now()
    event_id = ids.new_id()
    if IDEMPOTENCY_KEY in detail:
        raise ValueError(f"{IDEMPOTENCY_KEY} is the outbox's to set")
    body = {IDEMPOTENCY_KEY: event_id, "occurred_at": clock.to_datetime(now).isoformat(), **detail}
    return OutboxEntry(
        aggregate=f"{domain}#{aggregate}",
        position=f"{clock.time_key(now) if sequence is None else f'{sequence:020d}'}#{event_id}",
        event_id=event_id,
        domain=domain,
        name=name,
        detail=json.dumps(body, default=str),
        written_at=now,
    )


def drain(aggregate: str) -> int:
    """Publish the aggregate's waiting events in order and delete them; returns how many."""
    pending = list(OutboxEntry.query(aggregate, consistent_read=True))
    if not pending:
        return 0
    events.publish_many(e.event() for e in pending)  # raises before any delete if refused
    with OutboxEntry.batch_write() as batch:
        for e in pending:
            batch.delete(e)
    return len(pending)


def drain_after_commit(written: Iterable[OutboxEntry]) -> None:
    """Right after a commit: drain each aggregate the transaction wrote to. A failure here loses
    nothing (the entries stay for the sweeper), so it is logged, never raised to the writer whose
    state change already stands."""
    for aggregate in dict.fromkeys(e.aggregate for e in written):
        try:
            drain(aggregate)
        except Exception:
            logger.exception("outbox drain failed; the sweeper will publish", extra={"aggregate": aggregate})


def sweep(older_than: float = SWEEP_AFTER_SECONDS) -> int:
    """Drain every aggregate with an entry its writer left behind; returns events published."""
    cutoff = clock.now() - older_than
    stale = OutboxEntry.scan(OutboxEntry.written_at <= cutoff, consistent_read=True)
    aggregates = [key for key, _ in groupby(sorted(e.aggregate for e in stale))]
    published = 0
    for aggregate in aggregates:
        try:
            published += drain(aggregate)
        except Exception:
            logger.exception("outbox sweep: drain failed", extra={"aggregate": aggregate})
    if published:
        logger.warning("outbox sweep published left-behind events", extra={"events": published})
    return published


def waiting() -> list[OutboxEntry]:
    """Every entry not yet published (operators' view; tests)."""
    return list(OutboxEntry.scan(consistent_read=True))
