"""Waiting-room rules without AWS: places in line, who an admission attempt takes or skips, ETA,
rates and token claims.

A place in line is a ticket from a per-event, per-lane counter (``next_<lane>``); each lane has a
cursor (``cursor_<lane>``): the last ticket the admitter has *passed* (admitted, or skipped because
abandoned, expired, revoked or never written). Everything behind the cursor has left the line, so
"places ahead" is two subtractions whatever the queue length:

    places ahead of ticket t in lane L = (t - cursor_L - 1) + (the priority lane's places, if L is normal)

Abandoned places still count until the cursor reaches them (nobody knows they left until then); the
ETA divides by the *pass* rate (places passed per second, skipped ones included), so it stays right.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Lane = Literal["v", "n"]  # priority (VIP) first, then normal
LANES: tuple[Lane, ...] = ("v", "n")

DRAFT, ACTIVE, PAUSED, CLOSED = "draft", "active", "paused", "closed"
QUEUED, ADMITTED, COMPLETED, EXPIRED, ABANDONED, REVOKED = (
    "queued",
    "admitted",
    "completed",
    "expired",
    "abandoned",
    "revoked",
)
PASSED = "passed"  # a ticket handed out but never written, closed by the admitter (no session)
# Event status changes an admin may make: from -> allowed targets.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    DRAFT: (ACTIVE, CLOSED),
    ACTIVE: (PAUSED, CLOSED),
    PAUSED: (ACTIVE, CLOSED),
    CLOSED: (),
}
TICKET_DIGITS = 12
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit on one TransactWriteItems
# An admission writes its place and its ``QueueReady`` (an outbox entry) in the round's transaction.
ITEMS_PER_ADMISSION = 2


class InvalidSessionId(ValueError):
    """A session id that does not name a place in line."""


# --- session ids ------------------------------------------------------------------------------


def session_id(event_id: str, lane: Lane, ticket: int) -> str:
    """``<event>.<lane><ticket>``: the id names its place, so a lookup is one GetItem."""
    return f"{event_id}.{lane}{ticket}"


def parse_session_id(value: str) -> tuple[str, Lane, int]:
    event_id, dot, place = value.rpartition(".")
    if not dot or not event_id or len(place) < 2 or place[0] not in LANES or not place[1:].isdigit():
        raise InvalidSessionId(value)
    ticket = int(place[1:])
    if ticket < 1 or len(place) - 1 > TICKET_DIGITS:
        raise InvalidSessionId(value)
    return event_id, place[0], ticket  # type: ignore[return-value]


# --- positions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """The counters of an event that positions are computed from. ``next_n`` is the highest
    ticket handed out in the normal lane; with sharded counters some tickets below it may not be
    handed out yet (``holes_n``), and are not waiting."""

    next_v: int = 0
    next_n: int = 0
    cursor_v: int = 0
    cursor_n: int = 0
    holes_n: int = 0
    counts: tuple[int, ...] = ()  # the normal lane's shard counts, when known: exact places ahead

    def cursor(self, lane: Lane) -> int:
        return self.cursor_v if lane == "v" else self.cursor_n

    def waiting(self, lane: Lane) -> int:
        """Places in ``lane`` the cursor has not reached yet."""
        if lane == "v":
            return max(0, self.next_v - self.cursor_v)
        return max(0, self.next_n - self.cursor_n - self.holes_n)

    @property
    def queued(self) -> int:
        return self.waiting("v") + self.waiting("n")

    def places_ahead(self, lane: Lane, ticket: int) -> int:
        """Places still in line before ``ticket``: two subtractions, or with sharded counters one
        per shard (tickets a shard has not handed out yet hold nobody's place)."""
        if lane == "n" and len(self.counts) > 1:
            n = len(self.counts)
            own = sum(
                max(0, min(count, _seqs_upto(ticket - 1, k, n)) - _seqs_upto(self.cursor_n, k, n))
                for k, count in enumerate(self.counts)
            )
        else:
            own = max(0, ticket - self.cursor(lane) - 1)
        return own + (self.waiting("v") if lane == "n" else 0)


# --- sharded ticket counters -------------------------------------------------------------------
#
# The normal lane's ticket counter is split over N shard items (each its own partition key), so
# joins spread their writes. Shard k hands out its seq-th ticket as ``(seq - 1) * N + k + 1``:
# the shards interleave, and tickets stay one integer line (positions stay two subtractions).
# A join reads every shard's count and takes a shard whose count is below ``min + slack``, with
# that as the write's condition. Counts only grow, so a count read is never above the true one:
# every shard stays within ``slack`` of the slowest at all times. Hence the fairness window: if
# A's join returned before B's began, A's seq is ``a``, and at B's write the slowest shard is at
# least ``a - slack``, so B's seq ``b > a - slack`` and B's ticket > A's ticket - N x slack:
# nobody who joins after you is placed N x slack - 1 or more places ahead of you.


def shard_ticket(seq: int, shard: int, shards: int) -> int:
    """The ticket of shard ``shard``'s ``seq``-th hand-out (1-based seq, 0-based shard)."""
    return (seq - 1) * shards + shard + 1


def ticket_shard(ticket: int, shards: int) -> tuple[int, int]:
    """``(shard, seq)`` of a ticket."""
    return (ticket - 1) % shards, (ticket - 1) // shards + 1


def fairness_window(shards: int, slack: int) -> int:
    """Places by which a later joiner can at most be ahead of an earlier one (exclusive bound)."""
    return 1 if shards == 1 else shards * slack


def pick_shard(counts: Sequence[int], slack: int, draw: float, spread: int = 1) -> tuple[int, int]:
    """A shard to take a ticket from, and the bound its count must stay below (the write's
    condition). Of the shards below ``min(counts) + slack``, the one whose next ticket is lowest
    (so a trickle of joins gets consecutive tickets, in join order); when joins collide (the
    caller retries with a growing ``spread``), one of the ``spread`` lowest, by ``draw`` in [0, 1)."""
    bound = min(counts) + slack
    open_ = sorted((count, k) for k, count in enumerate(counts) if count < bound)
    width = max(1, min(spread, len(open_)))
    return open_[min(int(draw * width), width - 1)][1], bound


def sharded_line(next_v: int, cursor_v: int, cursor_n: int, counts: Sequence[int]) -> Line:
    """The line of an event whose normal lane is counted by ``counts`` (one per shard)."""
    n = len(counts)
    handed = [shard_ticket(c, k, n) for k, c in enumerate(counts) if c > 0]
    next_n = max(handed, default=0)
    # Tickets after the cursor and up to next_n that no shard has handed out yet.
    holes = sum(
        max(0, _seqs_upto(next_n, k, n) - max(c, _seqs_upto(cursor_n, k, n))) for k, c in enumerate(counts)
    )
    return Line(next_v, max(next_n, cursor_n), cursor_v, cursor_n, holes, tuple(counts))


def _seqs_upto(ticket: int, shard: int, shards: int) -> int:
    """How many of shard ``shard``'s tickets are <= ``ticket``."""
    return 0 if ticket < shard + 1 else (ticket - shard - 1) // shards + 1


def eta_range(eta: int | None) -> tuple[int, int] | None:
    """An honest range around a point ETA: rates wobble, so say 'about 3 to 5 minutes', not '4'."""
    if eta is None:
        return None
    if eta <= 0:
        return 0, 0
    return max(0, math.floor(eta * 0.75)), math.ceil(eta * 1.5) + 30


def eta_seconds(places_ahead: int, pass_rate: float) -> int | None:
    """Seconds until this place's turn at the recent pass rate (``None`` while nothing moves)."""
    if places_ahead <= 0:
        return 0
    if pass_rate <= 1e-9:
        return None
    return math.ceil(places_ahead / pass_rate)


# --- rates ------------------------------------------------------------------------------------


def decayed(rate: float, since: float, now: float, tau: float) -> float:
    """An exponentially weighted rate (per second) seen ``now - since`` seconds later."""
    return rate * math.exp(-max(0.0, now - since) / tau)


def bumped(rate: float, since: float, now: float, tau: float, count: int) -> float:
    """The rate after ``count`` more happened at ``now``: decay, then add ``count / tau``."""
    return decayed(rate, since, now, tau) + count / tau


# --- admission --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """What the admitter reads of a session in line."""

    lane: Lane
    ticket: int
    status: str
    joined_at: float
    last_seen: float


@dataclass
class Plan:
    """What one admission round does, decided from the event and the places after each cursor."""

    admit: list[Place] = field(default_factory=list)
    abandon: list[Place] = field(default_factory=list)
    expire: list[Place] = field(default_factory=list)
    gaps: list[tuple[Lane, int]] = field(default_factory=list)  # handed out, never written: closed
    skip: list[tuple[Lane, int]] = field(default_factory=list)  # never handed out: counters moved past
    cursors: dict[Lane, int] = field(default_factory=dict)  # new cursor per lane
    wait_until: float | None = None  # a young gap blocks the line until then
    moved: bool = False  # some cursor advances

    def passed(self, line: Line) -> int:
        """Places this round takes out of the line (admitted, skipped, or never written)."""
        return sum(self.cursors[lane] - line.cursor(lane) for lane in LANES)

    @property
    def writes(self) -> int:
        """Places the round writes or checks."""
        return len(self.admit) + len(self.abandon) + len(self.expire) + len(self.gaps)

    @property
    def items(self) -> int:
        """Items of the round's transaction besides the event: the places and the notices."""
        return self.writes + (ITEMS_PER_ADMISSION - 1) * len(self.admit)

    @property
    def empty(self) -> bool:
        return not self.moved


def plan_round(
    line: Line,
    places: dict[Lane, Sequence[Place]],
    *,
    exhausted: dict[Lane, bool],
    room: int,
    batch_size: int,
    now: float,
    abandon_after: float,
    session_ttl: float,
    gap_grace: float,
    max_items: int = MAX_TRANSACTION_ITEMS - 1,
    handed_out: Callable[[Lane, int], bool] | None = None,
) -> Plan:
    """Walk each lane from its cursor in ticket order (priority lane first) and decide.

    Takes ``min(batch_size, room)`` live places; skips (and passes) places abandoned (no heartbeat
    for ``abandon_after``), older than the session TTL, or no longer queued (revoked); passes a
    missing ticket (a join that burned it) only once a later place is older than ``gap_grace`` —
    a join still writing it must not be overtaken — and the pass is then checked in the same
    transaction (the place must still be absent). ``places[lane]`` are the places after the
    cursor in ticket order; ``exhausted[lane]`` says whether they are all of them (if not, the
    round ends with that lane, so no normal place ever overtakes an unread priority one).

    ``handed_out(lane, ticket)`` says whether a sharded counter has handed a missing ticket out
    (when it was read). One not handed out holds nobody's place: it is passed at once, and its
    shard's counter is moved past it in the round (``plan.skip``), so no join ever takes it.
    """
    plan = Plan(cursors={lane: line.cursor(lane) for lane in LANES})
    want = min(batch_size, room)
    for lane in LANES:
        expected = line.cursor(lane) + 1
        for place in places.get(lane, ()):
            if len(plan.admit) >= want:
                break
            # tickets expected..place.ticket-1 were never written
            gap = range(expected, place.ticket)
            unused = [t for t in gap if handed_out is not None and not handed_out(lane, t)]
            missing = [t for t in gap if t not in set(unused)] if unused else list(gap)
            if missing and now - place.joined_at < gap_grace:
                plan.wait_until = place.joined_at + gap_grace
                break
            into: list[Place] | None = None
            if place.status == QUEUED:
                if now - place.joined_at >= session_ttl:
                    into = plan.expire
                elif now - place.last_seen >= abandon_after:
                    into = plan.abandon
                else:
                    into = plan.admit
            cost = len(missing) + (0 if into is None else ITEMS_PER_ADMISSION if into is plan.admit else 1)
            if plan.items + cost > max_items:
                break
            plan.gaps.extend((lane, t) for t in missing)
            plan.skip.extend((lane, t) for t in unused)
            if into is not None:
                into.append(place)
            plan.cursors[lane] = place.ticket
            expected = place.ticket + 1
        else:
            if exhausted.get(lane, True):
                continue
        break  # a lane stopped early (batch full, a young gap, transaction full): keep order
    plan.moved = any(plan.cursors[lane] != line.cursor(lane) for lane in LANES)
    return plan


def admission_count(max_concurrent: int, processing: int, batch_size: int, queued: int) -> int:
    """``min(batch_size, max_concurrent - processing, queued)``, never negative."""
    return max(0, min(batch_size, max_concurrent - processing, queued))


def queue_ready(
    event_id: str, session: str, user_id: str, admitted_at: float, expires_at: float
) -> dict[str, Any]:
    """``QueueReady``'s detail: the user's inbox notice that their turn came (no token in it)."""
    until = datetime.fromtimestamp(expires_at, tz=UTC)
    return {
        "session_id": session,
        "user_id": user_id,
        "event_id": event_id,
        "admitted_at": datetime.fromtimestamp(admitted_at, tz=UTC).isoformat(),
        "checkout_expires_at": until.isoformat(),
        "recipients": [user_id],
        "message": f"It's your turn for {event_id}: complete your checkout before {until:%H:%M} UTC.",
    }


# --- tokens -----------------------------------------------------------------------------------


def checkout_claims(
    *,
    issuer: str,
    event_id: str,
    session: str,
    user_id: str,
    lane: Lane,
    ticket: int,
    admitted_at: float,
    checkout_seconds: float,
    jti: str,
) -> dict[str, object]:
    """The checkout token's claims (as the spec and the old AWS waiting room name them)."""
    iat = int(admitted_at)
    return {
        "iss": issuer,
        "aud": event_id,
        "sub": session,
        "uid": user_id,
        "queue_position": ticket,
        "lane": lane,
        "token_use": "checkout",
        "iat": iat,
        "nbf": iat,
        "exp": math.ceil(admitted_at + checkout_seconds),
        "jti": jti,
    }


def retired_keys_to_keep(
    keys: Iterable[dict[str, object]], now: float, max_token_seconds: float
) -> list[dict[str, object]]:
    """Keys still needed to verify tokens: the active one (no ``retired_at``), and retired ones
    whose last token may still be unexpired."""
    return [
        k
        for k in keys
        if k.get("retired_at") is None or float(k["retired_at"]) + max_token_seconds > now  # type: ignore[arg-type]
    ]
