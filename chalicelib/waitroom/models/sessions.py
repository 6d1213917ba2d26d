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
    """Write a new place and its user's marker, only while the cursor has not passed its ticket.

    Returns ``"written"``, ``"duplicate"`` (the user has a session: a concurrent join won) or
    ``"passed"`` (the admitter went by the ticket meanwhile, or it is taken: take a new one).
    An admission round holding the event item at that instant is contention: retried.
    """
    cursor = EventItem.cursor_v if session.lane == "v" else EventItem.cursor_n

    def write() -> None:
        with db.transact() as tx:
            event_key = items.event_key(session.event_id)
            tx.check(EventItem, *event_key, condition=cursor < session.ticket, label="cursor")
            tx.put(marker, JoinMarker.pk.does_not_exist(), label="marker")
            tx.put(session, SessionItem.pk.does_not_exist(), label="place")

    try:
        db.retry_on_conflict(write)
    except db.Refused as refused:
        if refused.by("marker"):
            return "duplicate"
        if refused.refused & {"cursor", "place"}:
            # The cursor went by, or the place is taken (a counter that handed a ticket out
            # twice: never on DynamoDB, but moto_server's ADD is not atomic under threads).
            return "passed"
        raise
    return "written"


def get_session(event_id: str, lane: Lane, ticket: int) -> SessionItem | None:
    return db.get_or_none(SessionItem, *items.place_key(event_id, lane, ticket), consistent=True)


def heartbeat(session: SessionItem, now: float) -> bool:
    """Record a poll of a queued session (``False`` if it is no longer queued)."""
    return db.update_if(session, [SessionItem.last_seen.set(now)], SessionItem.status == logic.QUEUED)


def places_after(event_id: str, lane: Lane, cursor: int, limit: int) -> tuple[list[SessionItem], bool]:
    """Up to ``limit`` places after ``cursor`` in ticket order, and whether that is all of them."""
    result = SessionItem.query(
        items.queue_pk(event_id, lane),
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


def queue_sessions(event_id: str) -> list[SessionItem]:
    """Every session of an event (tests, the pour demo, the bench): a full read, not for the API."""
    return [
        s
        for lane in logic.LANES
        for s in SessionItem.query(items.queue_pk(event_id, lane), consistent_read=True)
    ]
