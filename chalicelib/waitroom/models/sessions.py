"""The session aggregate (a place in line and what it becomes): joining, lookups, heartbeats,
reading the line, and releases. Conditional writes; refusals come back as answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pynamodb.expressions.condition import Condition

from chalicelib.core import db
from chalicelib.waitroom import logic
from chalicelib.waitroom.logic import Lane
from chalicelib.waitroom.models import items
from chalicelib.waitroom.models.items import EventItem, JoinMarker, SessionItem

PlaceOutcome = Literal["written", "duplicate", "passed"]


def get_marker(event_id: str, user_id: str) -> JoinMarker | None:
    return db.get_or_none(JoinMarker, *items.marker_key(event_id, user_id), consistent=True)


def write_place(session: SessionItem, marker: JoinMarker) -> PlaceOutcome:
    """Write a new place and its user's marker, in one transaction.

    Returns ``"written"``, ``"duplicate"`` (the user has a session: a concurrent join won) or
    ``"passed"`` (the place is taken: the admitter went by this ticket and closed it while the
    join was on its way; take a new one). Nothing is checked on the event or its counters, so
    joins never contend with each other or with admission rounds.
    """

    def write() -> None:
        with db.transact() as tx:
            tx.put(marker, JoinMarker.pk.does_not_exist(), label="marker")
            tx.put(session, SessionItem.pk.does_not_exist(), label="place")

    try:
        db.retry_on_conflict(write)
    except db.Refused as refused:
        if refused.by("marker"):
            return "duplicate"
        if refused.by("place"):
            return "passed"
        raise
    return "written"


def closed_place(event_id: str, lane: Lane, ticket: int, shards: int, now: float, ttl: float) -> SessionItem:
    """A ``passed`` place: a ticket handed out but never to be written (no session)."""
    return items.place(
        event_id,
        lane,
        ticket,
        shards=shards,
        user_id="-",
        status=logic.PASSED,
        joined_at=now,
        last_seen=now,
        ended_at=now,
        expires_at=int(now + ttl),
    )


def close_place(place: SessionItem) -> bool:
    """Close a ticket its join gave up (``False``: a place is there)."""
    return db.put_if_absent(place)


def get_session(event_id: str, lane: Lane, ticket: int, shards: int | None = None) -> SessionItem | None:
    """A place by its ticket; ``shards``: the event's shard count (read from the event if not given)."""
    key = items.place_key(event_id, lane, ticket, _shards(event_id) if shards is None else shards)
    return db.get_or_none(SessionItem, *key, consistent=True)


def heartbeat(session: SessionItem, now: float) -> bool:
    """Record a poll of a queued session (``False`` if it is no longer queued)."""
    return db.update_if(session, [SessionItem.last_seen.set(now)], SessionItem.status == logic.QUEUED)


def places_after(
    event_id: str, lane: Lane, cursor: int, limit: int, shard: int = 0
) -> tuple[list[SessionItem], bool]:
    """Up to ``limit`` places of one shard after ``cursor`` in ticket order, and whether that is
    all of them."""
    result = SessionItem.query(
        items.queue_pk(event_id, lane, shard),
        SessionItem.sk > items.ticket_key(cursor),
        consistent_read=True,
        limit=limit,
        page_size=limit,
    )
    found = list(result)
    return found, result.last_evaluated_key is None


def release(
    session: SessionItem,
    status: str,
    now: float,
    *,
    jti: str | None = None,
    from_status: str = logic.ADMITTED,
) -> bool:
    """End a session ``from_status → status`` and give its slot back (when it held one), in one
    transaction; ``False`` if it was not in ``from_status`` (or its token was another)."""
    counter = {
        logic.COMPLETED: EventItem.completed,
        logic.EXPIRED: EventItem.expired,
        logic.REVOKED: EventItem.revoked,
    }[status]
    condition: Condition = SessionItem.status == from_status
    if jti is not None:
        condition &= SessionItem.jti == jti
    event_actions = [counter.add(1)]
    if from_status == logic.ADMITTED:
        event_actions.append(EventItem.processing.add(-1))
    ended = [
        SessionItem.status.set(status),
        SessionItem.ended_at.set(now),
        SessionItem.gsi2pk.remove(),
        SessionItem.gsi2sk.remove(),
    ]

    def write() -> None:
        with db.transact() as tx:
            tx.update(SessionItem(session.pk, session.sk), ended, condition, label="session")
            tx.update(items.event(session.event_id), event_actions, label="event")

    # An admission round may hold the event item at that instant: contention is retried.
    return db.applied(write, refused_by="session")


def overdue_checkouts(event_id: str, before: float) -> Iterator[SessionItem]:
    """Admitted sessions whose checkout window ended before ``before``."""
    yield from SessionItem.checkouts.query(
        items.checkout_pk(event_id), SessionItem.gsi2sk < items.checkout_sk(before)
    )


def _shards(event_id: str) -> int:
    event = db.get_or_none(EventItem, *items.event_key(event_id))
    return event.shard_count if event else 1


def queue_sessions(event_id: str, shards: int | None = None) -> list[SessionItem]:
    """Every session of an event (tests, the pour demo, the bench): a full read, not for the API.
    Places the admitter closed (``passed``: tickets never written) are left out."""
    shards = _shards(event_id) if shards is None else shards
    pks = [items.queue_pk(event_id, "v")] + [items.queue_pk(event_id, "n", k) for k in range(shards)]
    found = [s for pk in pks for s in SessionItem.query(pk, consistent_read=True)]
    return sorted(
        (s for s in found if s.status != logic.PASSED), key=lambda s: (s.lane != "v", int(s.ticket))
    )
