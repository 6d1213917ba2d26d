"""The waiting room's items and the only place their keys are spelled.

Keys (table ``muda-<stage>-waitroom``)::

    EVENT#<event>          META                the event: config, status, counters, cursors, rates
    EVENT#<event>#USER#<u> MARKER              join marker -> session id (one session per user and event)
    SHARD#<event>#n#<k>    COUNTER             shard k's ticket counter (normal lane; k < the event's shards)
    QUEUE#<event>#<lane>   <ticket, 12 digits> the place in line (shard 0, and the priority lane)
    QUEUE#<event>#n#<k>    <ticket, 12 digits> a place whose ticket shard k handed out (k >= 1)
    RATE#<scope>#<key>     <window start>      a join rate-limit window (TTL; core.ratelimit)
    gsi1: EVENTS / <status>#<event>            events by status (the backstop finds the active ones)
    gsi2: CHECKOUT#<event> / <time key>#<ticket>  admitted sessions by checkout expiry (sparse)

A session's id names its place (``<event>.<lane><ticket>``), so every lookup is one GetItem and the
admitter reads the line with one Query from the cursor, however long the line is.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.core import clock
from chalicelib.core.db import MudaModel
from chalicelib.waitroom import logic
from chalicelib.waitroom.logic import Lane

EVENTS = "EVENTS"  # gsi1's one partition: every event, sorted by status


# --- keys -------------------------------------------------------------------------------------


def event_key(event_id: str) -> tuple[str, str]:
    return f"EVENT#{event_id}", "META"


def marker_key(event_id: str, user_id: str) -> tuple[str, str]:
    """Its own partition key per user: a crowd's markers spread over partitions (under the event's
    key they would all land on the event item's partition, ~500 joins/s)."""
    return f"EVENT#{event_id}#USER#{user_id}", "MARKER"


def queue_pk(event_id: str, lane: Lane, shard: int = 0) -> str:
    """A shard's places (each shard its own partition key, so joins spread their writes)."""
    return f"QUEUE#{event_id}#{lane}" + (f"#{shard}" if shard else "")


def shard_key(event_id: str, shard: int) -> tuple[str, str]:
    return f"SHARD#{event_id}#n#{shard}", "COUNTER"


def ticket_key(ticket: int) -> str:
    """Sort key of a place: zero-padded so DynamoDB orders tickets numerically."""
    return str(ticket).zfill(logic.TICKET_DIGITS)


def place_key(event_id: str, lane: Lane, ticket: int, shards: int = 1) -> tuple[str, str]:
    shard = logic.ticket_shard(ticket, shards)[0] if lane == "n" else 0
    return queue_pk(event_id, lane, shard), ticket_key(ticket)


def status_key(status: str, event_id: str = "") -> str:
    """gsi1's sort key (``<status>#<event>``); without an event, the prefix of one status."""
    return f"{status}#{event_id}"


def checkout_pk(event_id: str) -> str:
    return f"CHECKOUT#{event_id}"


def checkout_sk(expires_at: float, ticket_sk: str = "") -> str:
    """gsi2's sort key: checkout expiry in time order; without a ticket, the bound of a range."""
    return f"{clock.time_key(expires_at)}#{ticket_sk}"


def aggregate(event_id: str) -> str:
    """The outbox aggregate of an event's line: its events leave in admission order."""
    return f"event#{event_id}"


# --- items ------------------------------------------------------------------------------------


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
    # The waiting page: the organiser's branding and how the token reaches the target URL.
    page = JSONAttribute(null=True)
    # The normal lane's ticket counter shards (``ShardItem``); fixed at creation.
    shards = NumberAttribute(default=1)
    # The line: last ticket handed out (priority lane) and last ticket passed, per lane.
    next_v = NumberAttribute(default=0)
    next_n = NumberAttribute(default=0)  # unused: the normal lane counts on its shards
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
    gsi1pk = UnicodeAttribute(default=EVENTS)
    gsi1sk = UnicodeAttribute()  # <status>#<id>
    by_status = EventsByStatus()

    @property
    def shard_count(self) -> int:
        return int(self.shards or 1)


class ShardItem(MudaModel):
    """One shard of an event's normal-lane ticket counter: ``next`` = tickets it handed out."""

    table = "waitroom"
    pk = UnicodeAttribute(hash_key=True)  # SHARD#<event>#n#<k>
    sk = UnicodeAttribute(range_key=True)  # COUNTER
    next = NumberAttribute(default=0)


class RateWindow(MudaModel):
    """Joins counted in one fixed window for one IP or device."""

    table = "waitroom"
    pk = UnicodeAttribute(hash_key=True)  # RATE#<scope>#<key>
    sk = UnicodeAttribute(range_key=True)  # window start (epoch seconds)
    count = NumberAttribute(default=0)
    expires_at = NumberAttribute()  # TTL


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
    ahead_at_join = NumberAttribute(null=True)  # people ahead when joining: the page's progress bar
    admitted_at = NumberAttribute(null=True)
    admission_no = NumberAttribute(null=True)
    checkout_expires_at = NumberAttribute(null=True)
    token = UnicodeAttribute(null=True)
    jti = UnicodeAttribute(null=True)
    ended_at = NumberAttribute(null=True)
    expires_at = NumberAttribute()  # TTL: clean-up only
    gsi2pk = UnicodeAttribute(null=True)  # CHECKOUT#<event> while admitted
    gsi2sk = UnicodeAttribute(null=True)  # <checkout expiry time key>#<ticket>
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
    pk = UnicodeAttribute(hash_key=True)  # EVENT#<id>#USER#<user>
    sk = UnicodeAttribute(range_key=True)  # MARKER
    session_id = UnicodeAttribute()
    expires_at = NumberAttribute()


# --- builders: an item with its keys (a new one, or a handle to update by key) ----------------


def event(event_id: str, /, **fields: Any) -> EventItem:
    if "status" in fields:
        fields["gsi1sk"] = status_key(fields["status"], event_id)
    return EventItem(*event_key(event_id), **fields)


def place(event_id: str, lane: Lane, ticket: int, /, shards: int = 1, **fields: Any) -> SessionItem:
    """A place in line (new: give ``user_id``, ``status``…; else a handle for an update)."""
    if "user_id" in fields:
        fields.update(
            session_id=logic.session_id(event_id, lane, ticket), event_id=event_id, lane=lane, ticket=ticket
        )
    return SessionItem(*place_key(event_id, lane, ticket, shards), **fields)


def shard(event_id: str, k: int, /, **fields: Any) -> ShardItem:
    return ShardItem(*shard_key(event_id, k), **fields)


def marker(event_id: str, user_id: str, /, **fields: Any) -> JoinMarker:
    return JoinMarker(*marker_key(event_id, user_id), **fields)
