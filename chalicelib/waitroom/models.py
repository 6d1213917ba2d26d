"""Waiting-room data: events with their counters, places in line (= sessions), one join marker per
user and event; every write that changes a state is conditional.

Keys (table ``muda-<stage>-waitroom``)::

    EVENT#<event>          META               the event: config, status, counters, cursors, rates
    EVENT#<event>          USER#<user>        join marker -> session id (one session per user and event)
    QUEUE#<event>#<lane>   <ticket, 12 digits> the session, i.e. the place in line
    gsi1: EVENTS / <status>#<event>           events by status (the backstop finds the active ones)

A session's id names its place (``<event>.<lane><ticket>``), so every lookup is one GetItem and the
admitter reads the line with one Query from the cursor, however long the line is.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.transactions import TransactWrite

from chalicelib.core import db
from chalicelib.core.db import MudaModel
from chalicelib.waitroom import logic
from chalicelib.waitroom.logic import Lane

_CONFLICT_RETRIES = 5


class EventsByStatus(GlobalSecondaryIndex["EventItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class CheckoutsByExpiry(GlobalSecondaryIndex["SessionItem"]):
    """Admitted sessions by checkout expiry: the backstop finds any whose timer was lost."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class EventItem(MudaModel):
    table = "waitroom"
    pk = UnicodeAttribute(hash_key=True)  # EVENT#<id>
    sk = UnicodeAttribute(range_key=True)  # META
    event_id = UnicodeAttribute()
    name = UnicodeAttribute()
    status = UnicodeAttribute()
    max_concurrent = NumberAttribute()
    batch_size = NumberAttribute()
    checkout_minutes = NumberAttribute()
    session_ttl_minutes = NumberAttribute()
    checkout_url = UnicodeAttribute(null=True)
    # The line: last ticket handed out and last ticket passed, per lane.
    next_v = NumberAttribute(default=0)
    next_n = NumberAttribute(default=0)
    cursor_v = NumberAttribute(default=0)
    cursor_n = NumberAttribute(default=0)
    # Counters.
    processing = NumberAttribute(default=0)
    admitted = NumberAttribute(default=0)
    completed = NumberAttribute(default=0)
    expired = NumberAttribute(default=0)
    abandoned = NumberAttribute(default=0)
    revoked = NumberAttribute(default=0)
    errors = NumberAttribute(default=0)
    last_admission_at = NumberAttribute(null=True)
    admit_rate = NumberAttribute(default=0)  # per second, exponentially weighted
    pass_rate = NumberAttribute(default=0)
    rate_at = NumberAttribute(default=0)
    created_at = NumberAttribute()
    updated_at = NumberAttribute()
    gsi1pk = UnicodeAttribute(default="EVENTS")
    gsi1sk = UnicodeAttribute()  # <status>#<id>
    by_status = EventsByStatus()

    @property
    def line(self) -> logic.Line:
        return logic.Line(int(self.next_v), int(self.next_n), int(self.cursor_v), int(self.cursor_n))


class SessionItem(MudaModel):
    """A place in line and the session it becomes."""

    table = "waitroom"
    pk = UnicodeAttribute(hash_key=True)  # QUEUE#<event>#<lane>
    sk = UnicodeAttribute(range_key=True)  # ticket, zero-padded
    session_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    lane = UnicodeAttribute()
    ticket = NumberAttribute()
    status = UnicodeAttribute()
    joined_at = NumberAttribute()
    last_seen = NumberAttribute()
    admitted_at = NumberAttribute(null=True)
    admission_no = NumberAttribute(null=True)
    checkout_expires_at = NumberAttribute(null=True)
    token = UnicodeAttribute(null=True)
    jti = UnicodeAttribute(null=True)
    ended_at = NumberAttribute(null=True)
    expires_at = NumberAttribute()  # TTL: clean-up only
    gsi2pk = UnicodeAttribute(null=True)  # CHECKOUT#<event> while admitted
    gsi2sk = UnicodeAttribute(null=True)  # <checkout expiry, 12 digits>#<ticket>
    checkouts = CheckoutsByExpiry()

    def place(self) -> logic.Place:
        return logic.Place(
            self.lane,  # type: ignore[arg-type]
            int(self.ticket),
            self.status,
            float(self.joined_at),
            float(self.last_seen),
        )


class JoinMarker(MudaModel):
    """One per user and event: joining twice finds it and returns the same session."""

    table = "waitroom"
    pk = UnicodeAttribute(hash_key=True)  # EVENT#<id>
    sk = UnicodeAttribute(range_key=True)  # USER#<user>
    session_id = UnicodeAttribute()
    expires_at = NumberAttribute()


def event_key(event_id: str) -> tuple[str, str]:
    return f"EVENT#{event_id}", "META"


def queue_pk(event_id: str, lane: Lane) -> str:
    return f"QUEUE#{event_id}#{lane}"


def _transaction() -> TransactWrite:
    return db.transaction()


# --- events -----------------------------------------------------------------------------------


def create_event(item: EventItem) -> bool:
    """``False`` if an event with this id exists."""
    try:
        item.save(condition=EventItem.pk.does_not_exist())
        return True
    except PutError as error:
        if db.condition_failed(error):
            return False
        raise


def get_event(event_id: str) -> EventItem | None:
    try:
        return EventItem.get(*event_key(event_id), consistent_read=True)
    except EventItem.DoesNotExist:
        return None


def update_event(event_id: str, changes: dict[str, Any], now: float) -> EventItem | None:
    """Change config fields of an event that is not closed; ``None`` if absent or closed."""
    item = EventItem(*event_key(event_id))
    actions = [getattr(EventItem, name).set(value) for name, value in changes.items() if value is not None]
    actions += [getattr(EventItem, name).remove() for name, value in changes.items() if value is None]
    actions.append(EventItem.updated_at.set(now))
    try:
        item.update(actions=actions, condition=EventItem.pk.exists() & (EventItem.status != logic.CLOSED))
        return item
    except UpdateError as error:
        if db.condition_failed(error):
            return None
        raise


def set_event_status(event_id: str, allowed_from: Sequence[str], status: str, now: float) -> EventItem | None:
    """Move the event to ``status`` if it is in one of ``allowed_from``; else ``None``."""
    item = EventItem(*event_key(event_id))
    try:
        item.update(
            actions=[
                EventItem.status.set(status),
                EventItem.gsi1sk.set(f"{status}#{event_id}"),
                EventItem.updated_at.set(now),
            ],
            condition=EventItem.pk.exists() & EventItem.status.is_in(*allowed_from),
        )
        return item
    except UpdateError as error:
        if db.condition_failed(error):
            return None
        raise


def events(status: str | None = None) -> Iterator[EventItem]:
    prefix = f"{status}#" if status else None
    condition = EventItem.gsi1sk.startswith(prefix) if prefix else None
    yield from EventItem.by_status.query("EVENTS", condition)


def add_errors(event_id: str, count: int = 1) -> None:
    EventItem(*event_key(event_id)).update(
        actions=[EventItem.errors.add(count)], condition=EventItem.pk.exists()
    )


# --- joining ----------------------------------------------------------------------------------


def get_marker(event_id: str, user_id: str) -> JoinMarker | None:
    try:
        return JoinMarker.get(f"EVENT#{event_id}", f"USER#{user_id}", consistent_read=True)
    except JoinMarker.DoesNotExist:
        return None


def allocate_ticket(event_id: str, lane: Lane, now: float) -> EventItem | None:
    """Hand out the next ticket of ``lane`` (atomic counter); the event as it is after it, or
    ``None`` if the event is not active."""
    item = EventItem(*event_key(event_id))
    counter = EventItem.next_v if lane == "v" else EventItem.next_n
    try:
        item.update(actions=[counter.add(1)], condition=EventItem.status == logic.ACTIVE)
        return item
    except UpdateError as error:
        if db.condition_failed(error):
            return None
        raise


def write_place(session: SessionItem, marker: JoinMarker) -> str:
    """Write a new place and its user's marker, only while the cursor has not passed its ticket.

    Returns ``"written"``, ``"duplicate"`` (the user has a session: a concurrent join won) or
    ``"passed"`` (the admitter went by the ticket meanwhile, or it is taken: take a new one).
    """
    cursor = EventItem.cursor_v if session.lane == "v" else EventItem.cursor_n
    for attempt in range(_CONFLICT_RETRIES):
        try:
            with _transaction() as tx:
                tx.condition_check(EventItem, *event_key(session.event_id), condition=cursor < session.ticket)
                tx.save(marker, condition=JoinMarker.pk.does_not_exist())
                tx.save(session, condition=SessionItem.pk.does_not_exist())
            return "written"
        except TransactWriteError as error:
            reasons = db.cancellation_codes(error)
            if len(reasons) == 3 and reasons[1] == db.REFUSED:
                return "duplicate"
            if len(reasons) == 3 and db.REFUSED in (reasons[0], reasons[2]):
                # The cursor went by, or the place is taken (a counter that handed a ticket out
                # twice: never on DynamoDB, but moto_server's ADD is not atomic under threads).
                return "passed"
            # An admission round held the event item at that instant: try again.
            if "TransactionConflict" not in reasons or attempt == _CONFLICT_RETRIES - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


# --- sessions ---------------------------------------------------------------------------------


def get_session(event_id: str, lane: Lane, ticket: int) -> SessionItem | None:
    try:
        return SessionItem.get(queue_pk(event_id, lane), logic.ticket_key(ticket), consistent_read=True)
    except SessionItem.DoesNotExist:
        return None


def heartbeat(session: SessionItem, now: float) -> bool:
    """Record a poll of a queued session (``False`` if it is no longer queued)."""
    try:
        session.update(actions=[SessionItem.last_seen.set(now)], condition=SessionItem.status == logic.QUEUED)
        return True
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise


def places_after(event_id: str, lane: Lane, cursor: int, limit: int) -> tuple[list[SessionItem], bool]:
    """Up to ``limit`` places after ``cursor`` in ticket order, and whether that is all of them."""
    result = SessionItem.query(
        queue_pk(event_id, lane),
        SessionItem.sk > logic.ticket_key(cursor),
        consistent_read=True,
        limit=limit,
        page_size=limit,
    )
    items = list(result)
    return items, result.last_evaluated_key is None


@dataclass(frozen=True)
class Admission:
    """A place the round admits, with what it is given."""

    session: SessionItem
    admission_no: int
    token: str
    jti: str
    checkout_expires_at: float


def commit_round(
    event: EventItem,
    plan: logic.Plan,
    admissions: Sequence[Admission],
    *,
    now: float,
    rate_window: float,
) -> str:
    """One admission round in one transaction: the event's cursors (must be unchanged since read),
    ``processing`` (stays ≤ ``max_concurrent``) and counters, each admitted place ``queued →
    admitted``, each skipped place ``queued → abandoned/expired`` (still stale), each passed gap
    still absent. Nothing is written unless all hold: ``"committed"``; ``"lost"`` when the event
    moved on (another attempt's round, a config change); ``"retry"`` when a place changed under
    the round (a poll, a revocation, a join filling a gap) or the item was busy."""
    k = len(admissions)
    skipped_abandoned, skipped_expired = len(plan.abandon), len(plan.expire)
    passed = plan.passed(event.line)
    condition = (
        (EventItem.status == logic.ACTIVE)
        & (EventItem.cursor_v == event.cursor_v)
        & (EventItem.cursor_n == event.cursor_n)
        & (EventItem.max_concurrent == event.max_concurrent)
    )
    if k:
        condition &= EventItem.processing <= int(event.max_concurrent) - k
    actions = [
        EventItem.cursor_v.set(plan.cursors["v"]),
        EventItem.cursor_n.set(plan.cursors["n"]),
        EventItem.pass_rate.set(
            logic.bumped(float(event.pass_rate), float(event.rate_at), now, rate_window, passed)
        ),
        EventItem.admit_rate.set(
            logic.bumped(float(event.admit_rate), float(event.rate_at), now, rate_window, k)
        ),
        EventItem.rate_at.set(now),
    ]
    if k:
        actions += [
            EventItem.processing.add(k),
            EventItem.admitted.add(k),
            EventItem.last_admission_at.set(now),
        ]
    if skipped_abandoned:
        actions.append(EventItem.abandoned.add(skipped_abandoned))
    if skipped_expired:
        actions.append(EventItem.expired.add(skipped_expired))
    event_update = EventItem(*event_key(event.event_id))
    try:
        with _transaction() as tx:
            tx.update(event_update, actions=actions, condition=condition)
            for a in admissions:
                tx.update(
                    a.session,
                    actions=[
                        SessionItem.status.set(logic.ADMITTED),
                        SessionItem.admitted_at.set(now),
                        SessionItem.admission_no.set(a.admission_no),
                        SessionItem.checkout_expires_at.set(a.checkout_expires_at),
                        SessionItem.token.set(a.token),
                        SessionItem.jti.set(a.jti),
                        SessionItem.gsi2pk.set(f"CHECKOUT#{event.event_id}"),
                        SessionItem.gsi2sk.set(f"{int(a.checkout_expires_at):012d}#{a.session.sk}"),
                        SessionItem.expires_at.set(
                            max(int(a.session.expires_at), int(a.checkout_expires_at) + 3600)
                        ),
                    ],
                    condition=SessionItem.status == logic.QUEUED,
                )
            for place in plan.abandon:  # still silent since read: a poll meanwhile cancels the round
                tx.update(
                    SessionItem(queue_pk(event.event_id, place.lane), logic.ticket_key(place.ticket)),
                    actions=[SessionItem.status.set(logic.ABANDONED), SessionItem.ended_at.set(now)],
                    condition=(SessionItem.status == logic.QUEUED)
                    & (SessionItem.last_seen == place.last_seen),
                )
            for place in plan.expire:
                tx.update(
                    SessionItem(queue_pk(event.event_id, place.lane), logic.ticket_key(place.ticket)),
                    actions=[SessionItem.status.set(logic.EXPIRED), SessionItem.ended_at.set(now)],
                    condition=SessionItem.status == logic.QUEUED,
                )
            for lane, ticket in plan.gaps:
                tx.condition_check(
                    SessionItem,
                    queue_pk(event.event_id, lane),
                    logic.ticket_key(ticket),
                    condition=SessionItem.pk.does_not_exist(),
                )
        return "committed"
    except TransactWriteError as error:
        if error.cause_response_code not in ("TransactionCanceledException", "TransactionConflictException"):
            raise
        reasons = db.cancellation_codes(error)
        return "lost" if reasons and reasons[0] == db.REFUSED else "retry"


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
    for attempt in range(_CONFLICT_RETRIES):
        try:
            with _transaction() as tx:
                tx.update(
                    SessionItem(session.pk, session.sk),
                    actions=[
                        SessionItem.status.set(status),
                        SessionItem.ended_at.set(now),
                        SessionItem.gsi2pk.remove(),
                        SessionItem.gsi2sk.remove(),
                    ],
                    condition=condition,
                )
                tx.update(EventItem(*event_key(session.event_id)), actions=event_actions)
            return True
        except TransactWriteError as error:
            reasons = db.cancellation_codes(error)
            if reasons and reasons[0] == db.REFUSED:
                return False
            # Another transaction held the event item (an admission round): try again.
            if "TransactionConflict" not in reasons or attempt == _CONFLICT_RETRIES - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
    return False


def overdue_checkouts(event_id: str, before: float) -> Iterator[SessionItem]:
    """Admitted sessions whose checkout window ended before ``before``."""
    yield from SessionItem.checkouts.query(
        f"CHECKOUT#{event_id}", SessionItem.gsi2sk < f"{int(before):012d}#"
    )


def queue_sessions(event_id: str) -> list[SessionItem]:
    """Every session of an event (tests, the pour demo, the bench): a full read, not for the API."""
    return [item for lane in logic.LANES for item in SessionItem.query(queue_pk(event_id, lane))]
