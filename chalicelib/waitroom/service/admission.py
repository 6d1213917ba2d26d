"""Admission: fill an event's free slots in position order, a round (one transaction) at a time.

Admission is event-driven: every join, completion, expiry and revocation makes an attempt right
after its own write (``admit_quietly``); the per-minute backstop only catches what a crash dropped.
Each admitted user's ``QueueReady`` is written in the round's transaction (the outbox), so it
leaves if and only if the admission happened; the checkout timer is armed after the commit (a lost
one is found by the backstop through gsi2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.core import clock, timers
from chalicelib.core.observability import MetricUnit, logger, metrics
from chalicelib.waitroom import logic, tokens
from chalicelib.waitroom.logic import Lane
from chalicelib.waitroom.models import admission, events, sessions
from chalicelib.waitroom.models.admission import Admission
from chalicelib.waitroom.models.items import EventItem, SessionItem
from chalicelib.waitroom.settings import settings

CHECKOUT_TIMER = "waitroom.checkout"  # key: session id; due: checkout_expires_at
ADMIT_TIMER = "waitroom.admit"  # key: event id; a deferred attempt (a young gap blocks the line)
# An attempt that loses a round to another attempt stops: the winner committed after the loser
# read, and re-reads and goes on until no room or no place is left, so it sees whatever the loser
# would have admitted (a chain of winners; the backstop covers a crash). Retrying would only burn
# reads and signatures under a burst of joins. A round cancelled by a *place* (a poll refreshed an
# abandoned-looking user, a revocation) is retried: no other attempt is going to redo it.
_MAX_RETRIES = 5


@dataclass
class AdmitResult:
    admitted: list[SessionItem] = field(default_factory=list)
    skipped: int = 0
    rounds: int = 0


def admit_quietly(event_id: str) -> list[SessionItem]:
    """An attempt on behalf of another write: its failure must not fail that write (the backstop
    retries within a minute). The sessions it admitted, as they now are."""
    try:
        return admit(event_id).admitted
    except Exception:
        logger.exception("admission attempt failed", extra={"event_id": event_id})
        count_error(event_id)
        return []


def count_error(event_id: str) -> None:
    try:
        events.add_errors(event_id)
    except Exception:
        logger.exception("could not count an admission error", extra={"event_id": event_id})


def admit(event_id: str) -> AdmitResult:
    """Fill the free slots of an event in position order (priority lane first), one transaction
    of up to ``batch_size`` admissions per round. Concurrent attempts are safe: each round is
    conditional on the cursors it read and on ``processing`` staying within the cap; the loser
    re-reads. Cost per admitted user is independent of the line's length: the line is read from
    the cursor, a page per shard at a time."""
    s = settings()
    result = AdmitResult()
    retries = 0
    while result.rounds < s.max_rounds:
        event, counts = events.read_with_shards(event_id)
        if event is None or event.status != logic.ACTIVE:
            break
        line = events.line(event, counts)
        want = logic.admission_count(event.max_concurrent, event.processing, event.batch_size, line.queued)
        if want == 0:
            break
        plan, found = _plan(event, line, counts, want)
        if plan.empty:
            if plan.wait_until is not None:
                _defer(event_id, plan.wait_until)
            break
        now = clock.now()
        admissions = [
            _admission(event, found[(p.lane, p.ticket)], int(event.admitted) + i + 1, now)
            for i, p in enumerate(plan.admit)
        ]
        outcome = admission.commit_round(
            event, line, counts, plan, admissions, now=now, rate_window=s.rate_window_seconds
        )
        result.rounds += 1
        if outcome == "lost":  # another attempt's round won: it goes on (see _MAX_RETRIES)
            break
        if outcome == "retry":  # a place or a counter changed under us: nobody else will redo it
            retries += 1
            if retries > _MAX_RETRIES:
                break
            continue
        result.skipped += len(plan.abandon) + len(plan.expire)
        result.admitted += [_as_admitted(a, now) for a in admissions]
        _after_round(event_id, admissions)
        if plan.wait_until is not None:
            _defer(event_id, plan.wait_until)
            break
        # No early exit even when the line looked drained: an attempt that lost this round to us
        # has stopped, trusting us to re-read and take its place (see _MAX_RETRIES).
    return result


def _plan(
    event: EventItem, line: logic.Line, counts: list[int], want: int
) -> tuple[logic.Plan, dict[tuple[str, int], SessionItem]]:
    """Read the line from each cursor (priority lane first; the normal lane only if the priority
    lane was read to its end; the normal lane a page per shard, merged in ticket order up to the
    first shard whose page ended) and decide the round."""
    s = settings()
    n = event.shard_count
    read = min(2 * want + 20, logic.MAX_TRANSACTION_ITEMS - 10)
    per_shard = max(4, -(-read // n) + 2)
    places: dict[Lane, list[logic.Place]] = {}
    exhausted: dict[Lane, bool] = {}
    found: dict[tuple[str, int], SessionItem] = {}
    for lane in logic.LANES:
        if line.waiting(lane) == 0 or (lane == "n" and not exhausted.get("v", True)):
            places[lane], exhausted[lane] = [], line.waiting(lane) == 0
            continue
        if lane == "v" or n == 1:
            page, exhausted[lane] = sessions.places_after(event.event_id, lane, line.cursor(lane), read)
        else:
            page, exhausted[lane] = _merged(event.event_id, line.cursor(lane), per_shard, n)
        places[lane] = [item.place() for item in page]
        found.update({(item.lane, int(item.ticket)): item for item in page})

    def handed_out(lane: Lane, ticket: int) -> bool:
        if lane == "v":
            return True
        shard, seq = logic.ticket_shard(ticket, n)
        return seq <= counts[shard]

    plan = logic.plan_round(
        line,
        places,
        exhausted=exhausted,
        room=want,
        batch_size=want,
        now=clock.now(),
        abandon_after=s.abandon_after_seconds,
        session_ttl=float(event.session_ttl_minutes) * 60,
        gap_grace=s.gap_grace_seconds,
        max_items=logic.MAX_TRANSACTION_ITEMS - 1 - n,  # room for the counters it moves
        handed_out=handed_out,
    )
    return plan, found


def _merged(event_id: str, cursor: int, limit: int, shards: int) -> tuple[list[SessionItem], bool]:
    """Each shard's places after the cursor, merged in ticket order; cut at the lowest last ticket
    of a shard with more to read (beyond it a place of that shard may be missing from the page)."""
    pages = [sessions.places_after(event_id, "n", cursor, limit, k) for k in range(shards)]
    merged = sorted((item for page, _ in pages for item in page), key=lambda item: int(item.ticket))
    horizons = [int(page[-1].ticket) for page, complete in pages if not complete and page]
    if not horizons:
        return merged, True
    horizon = min(horizons)
    return [item for item in merged if int(item.ticket) <= horizon], False


def _admission(event: EventItem, session: SessionItem, number: int, now: float) -> Admission:
    checkout_seconds = float(event.checkout_minutes) * 60
    expires_at = now + checkout_seconds
    jti = tokens.new_jti()
    claims = logic.checkout_claims(
        issuer=tokens.issuer(),
        event_id=event.event_id,
        session=session.session_id,
        user_id=session.user_id,
        lane=session.lane,  # type: ignore[arg-type]
        ticket=int(session.ticket),
        admitted_at=now,
        checkout_seconds=checkout_seconds,
        jti=jti,
    )
    notice = logic.queue_ready(event.event_id, session.session_id, session.user_id, now, expires_at)
    return Admission(session, number, tokens.sign(claims), jti, expires_at, notice)


def _as_admitted(a: Admission, now: float) -> SessionItem:
    """The session as the committed round left it (no re-read)."""
    s = a.session
    s.status, s.admitted_at, s.admission_no = logic.ADMITTED, now, a.admission_no
    s.token, s.jti, s.checkout_expires_at = a.token, a.jti, a.checkout_expires_at
    return s


def _after_round(event_id: str, admissions: list[Admission]) -> None:
    """After the round committed: a checkout timer per admitted user (its notice is already in
    the outbox)."""
    if not admissions:
        return
    logger.info("waitroom admitted", extra={"event_id": event_id, "count": len(admissions)})
    metrics.add_metric(name="WaitroomAdmissions", unit=MetricUnit.Count, value=len(admissions))
    for a in admissions:
        try:
            timers.schedule(CHECKOUT_TIMER, a.session.session_id, a.checkout_expires_at)
        except Exception:  # the backstop finds admitted sessions past their window (gsi2)
            logger.exception("could not schedule checkout expiry", extra={"session_id": a.session.session_id})
            count_error(event_id)


def _defer(event_id: str, at: float) -> None:
    try:
        timers.schedule(ADMIT_TIMER, event_id, at)
    except Exception:
        logger.exception("could not defer an admission attempt", extra={"event_id": event_id})
