"""An admission round: one transaction over the event (the line) and the places it passes, with
each admitted user's ``QueueReady`` in the outbox, so the notice exists if and only if the
admission does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from chalicelib.core import db
from chalicelib.waitroom import logic
from chalicelib.waitroom.models import items, sessions
from chalicelib.waitroom.models.items import EventItem, SessionItem, ShardItem

DOMAIN = "waitroom"
RoundOutcome = Literal["committed", "lost", "retry"]


@dataclass(frozen=True)
class Admission:
    """A place the round admits, with what it is given and the notice it sends."""

    session: SessionItem
    admission_no: int
    token: str
    jti: str
    checkout_expires_at: float
    notice: dict[str, Any] = field(default_factory=dict)  # QueueReady's detail


def _event_write(
    event: EventItem, line: logic.Line, plan: logic.Plan, k: int, now: float, rate_window: float
) -> tuple:
    """The event's actions and condition: cursors unchanged since read, the cap kept."""
    passed = plan.passed(line)
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
    if plan.abandon:
        actions.append(EventItem.abandoned.add(len(plan.abandon)))
    if plan.expire:
        actions.append(EventItem.expired.add(len(plan.expire)))
    return actions, condition


def _admitted(event_id: str, a: Admission, now: float) -> list[Any]:
    return [
        SessionItem.status.set(logic.ADMITTED),
        SessionItem.admitted_at.set(now),
        SessionItem.admission_no.set(a.admission_no),
        SessionItem.checkout_expires_at.set(a.checkout_expires_at),
        SessionItem.token.set(a.token),
        SessionItem.jti.set(a.jti),
        SessionItem.gsi2pk.set(items.checkout_pk(event_id)),
        SessionItem.gsi2sk.set(items.checkout_sk(a.checkout_expires_at, a.session.sk)),
        SessionItem.expires_at.set(max(int(a.session.expires_at), int(a.checkout_expires_at) + 3600)),
    ]


def commit_round(
    event: EventItem,
    line: logic.Line,
    counts: Sequence[int],
    plan: logic.Plan,
    admissions: Sequence[Admission],
    *,
    now: float,
    rate_window: float,
) -> RoundOutcome:
    """One admission round in one transaction: the event's cursors (must be unchanged since read),
    ``processing`` (stays ≤ ``max_concurrent``) and counters, each admitted place ``queued →
    admitted`` with its ``QueueReady``, each skipped place ``queued → abandoned/expired`` (still
    stale), each passed ticket that was handed out but never written closed (a ``passed`` place
    put where none is: the join on its way takes a new ticket), and each shard counter the round
    moves past tickets it never handed out (still at the count read). Nothing is written unless
    all hold: ``"committed"``; ``"lost"`` when the event moved on (another attempt's round, a
    config change); ``"retry"`` when a place or counter changed under the round (a poll, a
    revocation, a join) or an item was busy."""
    eid, n = event.event_id, event.shard_count
    actions, condition = _event_write(event, line, plan, len(admissions), now, rate_window)
    moved: dict[int, int] = {}
    for _, ticket in plan.skip:
        shard, seq = logic.ticket_shard(ticket, n)
        moved[shard] = max(moved.get(shard, 0), seq)
    try:
        with db.transact() as tx:
            tx.update(items.event(eid), actions, condition, label="event")
            for a in admissions:
                tx.update(
                    a.session, _admitted(eid, a, now), SessionItem.status == logic.QUEUED, label="admit"
                )
                tx.emit(items.aggregate(eid), DOMAIN, "QueueReady", a.notice)
            for p in plan.abandon:  # still silent since read: a poll meanwhile cancels the round
                tx.update(
                    items.place(eid, p.lane, p.ticket, shards=n),
                    [SessionItem.status.set(logic.ABANDONED), SessionItem.ended_at.set(now)],
                    (SessionItem.status == logic.QUEUED) & (SessionItem.last_seen == p.last_seen),
                    label="abandon",
                )
            for p in plan.expire:
                tx.update(
                    items.place(eid, p.lane, p.ticket, shards=n),
                    [SessionItem.status.set(logic.EXPIRED), SessionItem.ended_at.set(now)],
                    SessionItem.status == logic.QUEUED,
                    label="expire",
                )
            for lane, ticket in plan.gaps:
                ttl = float(event.session_ttl_minutes) * 60
                closed = sessions.closed_place(eid, lane, ticket, n, now, ttl)
                tx.put(closed, SessionItem.pk.does_not_exist(), label="gap")
            for shard, seq in moved.items():
                tx.update(
                    items.shard(eid, shard),
                    [ShardItem.next.set(seq)],
                    ShardItem.next == counts[shard],
                    label="counter",
                )
    except db.Refused as refused:
        return "lost" if refused.by("event") else "retry"
    return "committed"
