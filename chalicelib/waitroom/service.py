"""The waiting room's use cases, sequenced: write first (conditional), then tokens, timers and
events. ``api.py``, ``handlers.py`` and ``cli.py`` call these and nothing below them.

Admission is event-driven: every join, completion, expiry and revocation makes an attempt right
after its own write (``admit``); the per-minute backstop only catches what a crash dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.core import clock, events, timers
from chalicelib.core.auth import Principal
from chalicelib.core.config import domain_settings
from chalicelib.core.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized, Unavailable
from chalicelib.core.observability import MetricUnit, logger, metrics
from chalicelib.waitroom import logic, models, tokens
from chalicelib.waitroom.logic import Lane
from chalicelib.waitroom.models import EventItem, SessionItem
from chalicelib.waitroom.schemas import CreateEvent, SessionOut, Stats, UpdateEvent, WaitroomSettings

DOMAIN = "waitroom"
CHECKOUT_TIMER = "waitroom.checkout"  # key: session id; due: checkout_expires_at
ADMIT_TIMER = "waitroom.admit"  # key: event id; a deferred attempt (a young gap blocks the line)
# An attempt that loses a round to another attempt stops: the winner committed after the loser
# read, and re-reads and goes on until no room or no place is left, so it sees whatever the loser
# would have admitted (a chain of winners; the backstop covers a crash). Retrying would only burn
# reads and signatures under a burst of joins. A round cancelled by a *place* (a poll refreshed an
# abandoned-looking user, a revocation) is retried: no other attempt is going to redo it.
_MAX_RETRIES = 5
_JOIN_ATTEMPTS = 3


def settings() -> WaitroomSettings:
    return domain_settings(WaitroomSettings)


# --- events -----------------------------------------------------------------------------------


def create_event(request: CreateEvent) -> EventItem:
    now = clock.now()
    item = EventItem(
        *models.event_key(request.id),
        event_id=request.id,
        name=request.name,
        status=request.status,
        max_concurrent=request.max_concurrent,
        batch_size=request.batch_size,
        checkout_minutes=request.checkout_minutes,
        session_ttl_minutes=request.session_ttl_minutes,
        checkout_url=str(request.checkout_url) if request.checkout_url else None,
        created_at=now,
        updated_at=now,
        gsi1sk=f"{request.status}#{request.id}",
    )
    if not models.create_event(item):
        raise Conflict(f"event {request.id} exists", code="event_exists")
    return item


def get_event(event_id: str) -> EventItem:
    event = models.get_event(event_id)
    if event is None:
        raise NotFound(f"no event {event_id}")
    return event


def update_event(event_id: str, request: UpdateEvent) -> EventItem:
    current = get_event(event_id)
    changes: dict[str, Any] = {name: getattr(request, name) for name in request.model_fields_set}
    if "checkout_url" in changes and changes["checkout_url"] is not None:
        changes["checkout_url"] = str(changes["checkout_url"])
    ttl = changes.get("session_ttl_minutes", current.session_ttl_minutes)
    if ttl < changes.get("checkout_minutes", current.checkout_minutes):
        raise BadRequest("session_ttl_minutes must be at least checkout_minutes", code="invalid_config")
    event = models.update_event(event_id, changes, clock.now())
    if event is None:
        raise Conflict(f"event {event_id} is closed", code="event_closed")
    if event.status == logic.ACTIVE and _admit_quietly(event_id):  # a raised cap admits at once
        event = get_event(event_id)
    return event


def set_status(event_id: str, status: str) -> EventItem:
    allowed_from = [s for s, targets in logic.TRANSITIONS.items() if status in targets]
    event = models.set_event_status(event_id, allowed_from, status, clock.now())
    if event is None:
        current = get_event(event_id)
        raise Conflict(
            f"event {event_id} cannot go from {current.status} to {status}", code="invalid_transition"
        )
    if status == logic.ACTIVE and _admit_quietly(event_id):
        event = get_event(event_id)
    return event


def stats(event_id: str) -> Stats:
    event = get_event(event_id)
    now = clock.now()
    window = settings().rate_window_seconds
    line = event.line
    return Stats(
        event_id=event.event_id,
        status=event.status,
        queued=line.queued,
        queued_priority=line.waiting("v"),
        processing=int(event.processing),
        max_concurrent=int(event.max_concurrent),
        admitted=int(event.admitted),
        completed=int(event.completed),
        expired=int(event.expired),
        abandoned=int(event.abandoned),
        revoked=int(event.revoked),
        errors=int(event.errors),
        last_admission_at=clock.to_datetime(event.last_admission_at) if event.last_admission_at else None,
        admission_rate_per_minute=round(60 * logic.decayed(event.admit_rate, event.rate_at, now, window), 3),
        pass_rate_per_minute=round(60 * logic.decayed(event.pass_rate, event.rate_at, now, window), 3),
    )


# --- sessions ---------------------------------------------------------------------------------


def join(event_id: str, user_id: str, lane: Lane = "n") -> tuple[SessionItem, EventItem]:
    """The user's session in this event: the existing one, or a new place at the back of ``lane``."""
    marker = models.get_marker(event_id, user_id)
    if marker is not None:
        return _existing(marker.session_id)
    for _ in range(_JOIN_ATTEMPTS):
        now = clock.now()
        event = models.allocate_ticket(event_id, lane, now)
        if event is None:
            current = get_event(event_id)
            raise Conflict(f"event {event_id} is {current.status}: joins are closed", code="event_not_active")
        ticket = int(event.next_v if lane == "v" else event.next_n)
        sid = logic.session_id(event_id, lane, ticket)
        expires = int(now + event.session_ttl_minutes * 60)
        session = SessionItem(
            models.queue_pk(event_id, lane),
            logic.ticket_key(ticket),
            session_id=sid,
            event_id=event_id,
            user_id=user_id,
            lane=lane,
            ticket=ticket,
            status=logic.QUEUED,
            joined_at=now,
            last_seen=now,
            expires_at=expires,
        )
        marker = models.JoinMarker(f"EVENT#{event_id}", f"USER#{user_id}", session_id=sid, expires_at=expires)
        outcome = models.write_place(session, marker)
        if outcome == "duplicate":
            found = models.get_marker(event_id, user_id)
            if found is None:  # pragma: no cover - the marker that won cannot vanish in between
                raise Unavailable("join raced; try again")
            return _existing(found.session_id)
        if outcome == "written":
            logger.info("waitroom joined", extra={"event_id": event_id, "session_id": sid, "lane": lane})
            room = logic.admission_count(event.max_concurrent, event.processing, event.batch_size, 1)
            if room:
                admitted = {s.session_id: s for s in _admit_quietly(event_id, event)}
                session = admitted.get(sid, session)
            return session, event
        # "passed": the admitter went by this ticket before it was written; take a new one.
    raise Unavailable("could not join: the line moved too fast; try again")


def _existing(sid: str) -> tuple[SessionItem, EventItem]:
    session = find_session(sid)
    return session, get_event(session.event_id)


def find_session(sid: str) -> SessionItem:
    try:
        event_id, lane, ticket = logic.parse_session_id(sid)
    except logic.InvalidSessionId:
        raise NotFound(f"no session {sid}") from None
    session = models.get_session(event_id, lane, ticket)
    if session is None:
        raise NotFound(f"no session {sid}")
    return session


def poll(sid: str, principal: Principal) -> SessionOut:
    """A user's status call: their place, people ahead and ETA; polling is the heartbeat."""
    session = find_session(sid)
    if session.user_id != principal.sub and not principal.is_admin:
        raise Forbidden("not your session")
    event = get_event(session.event_id)
    now = clock.now()
    stale = now - float(session.last_seen) >= settings().heartbeat_write_seconds
    if session.status == logic.QUEUED and session.user_id == principal.sub and stale:
        if models.heartbeat(session, now):
            session.last_seen = now
        else:  # admitted (or skipped) since read
            session = find_session(sid)
    return view(session, event)


def view(session: SessionItem, event: EventItem) -> SessionOut:
    now = clock.now()
    s = settings()
    queued = session.status == logic.QUEUED
    ahead = event.line.places_ahead(session.lane, int(session.ticket)) if queued else None  # type: ignore[arg-type]
    pass_rate = logic.decayed(event.pass_rate, event.rate_at, now, s.rate_window_seconds)
    eta = logic.eta_seconds(ahead, pass_rate) if ahead is not None else None
    admitted = session.status == logic.ADMITTED
    url = (event.checkout_url or s.checkout_url).format(event=event.event_id, session=session.session_id)
    return SessionOut(
        id=session.session_id,
        event_id=session.event_id,
        user_id=session.user_id,
        lane=session.lane,  # type: ignore[arg-type]
        status=session.status,
        ticket=int(session.ticket),
        position=ahead + 1 if ahead is not None else None,
        people_ahead=ahead,
        eta_seconds=eta,
        joined_at=clock.to_datetime(session.joined_at),
        admitted_at=clock.to_datetime(session.admitted_at) if session.admitted_at else None,
        admission_no=int(session.admission_no) if session.admission_no else None,
        checkout_token=session.token if admitted else None,
        checkout_url=url if admitted else None,
        checkout_expires_at=clock.to_datetime(session.checkout_expires_at)
        if session.checkout_expires_at
        else None,
        ended_at=clock.to_datetime(session.ended_at) if session.ended_at else None,
        # Poll well within the abandonment window, sooner as the turn nears.
        poll_after_seconds=(
            int(max(2, min(s.abandon_after_seconds / 4, (eta or 60) / 4, 30))) if queued else None
        ),
    )


def complete(sid: str, token: str) -> SessionItem:
    """The checkout service's call: the purchase is done, the slot is free at once."""
    session = find_session(sid)
    claims = tokens.verify(token, audience=session.event_id)
    if claims["sub"] != sid:
        raise Unauthorized("checkout token is for another session", code="invalid_token")
    now = clock.now()
    if session.status == logic.ADMITTED and models.release(session, logic.COMPLETED, now, jti=claims["jti"]):
        session.status, session.ended_at = logic.COMPLETED, now
        _after_release(session, cancel_timer=True)
        logger.info("waitroom checkout completed", extra={"session_id": sid, "event_id": session.event_id})
        return session
    session = find_session(sid)  # lost a race, or it was not admitted: say why
    if session.status == logic.COMPLETED and session.jti == claims["jti"]:
        return session  # a repeat: already done
    if session.status == logic.REVOKED:
        raise Unauthorized("checkout token revoked", code="token_revoked")
    if session.status == logic.EXPIRED:
        raise Unauthorized("checkout window has ended", code="token_expired")
    raise Unauthorized("checkout token is not this session's current token", code="invalid_token")


def revoke(sid: str) -> SessionItem:
    """Admin: end a session now; its token is refused from then on, its slot (if any) freed."""
    session = find_session(sid)
    now = clock.now()
    if session.status in (logic.QUEUED, logic.ADMITTED) and models.release(
        session, logic.REVOKED, now, from_status=session.status
    ):
        held = session.status == logic.ADMITTED
        session.status, session.ended_at = logic.REVOKED, now
        if held:
            _after_release(session, cancel_timer=True)
        logger.info("waitroom session revoked", extra={"session_id": sid, "event_id": session.event_id})
        return session
    current = find_session(sid)
    raise Conflict(f"session {sid} is {current.status}: nothing to revoke", code="not_revocable")


def expire_checkout(sid: str) -> bool:
    """The checkout timer: an admitted session past its window expires and frees its slot."""
    session = find_session(sid)
    if session.status != logic.ADMITTED or float(session.checkout_expires_at or 0) > clock.now():
        return False
    if not models.release(session, logic.EXPIRED, clock.now()):
        return False
    logger.info("waitroom checkout expired", extra={"session_id": sid, "event_id": session.event_id})
    _after_release(session, cancel_timer=False)
    return True


def _after_release(session: SessionItem, *, cancel_timer: bool) -> None:
    if cancel_timer:
        try:
            timers.cancel(CHECKOUT_TIMER, session.session_id)
        except Exception:  # the timer then fires and finds nothing to do
            logger.exception("could not cancel checkout timer", extra={"session_id": session.session_id})
    _admit_quietly(session.event_id)


# --- admission --------------------------------------------------------------------------------


@dataclass
class AdmitResult:
    admitted: list[SessionItem]
    skipped: int = 0
    rounds: int = 0


def _admit_quietly(event_id: str, event: EventItem | None = None) -> list[SessionItem]:
    """An attempt on behalf of another write: its failure must not fail that write (the backstop
    retries within a minute). The sessions it admitted, as they now are."""
    try:
        return admit(event_id, event).admitted
    except Exception:
        logger.exception("admission attempt failed", extra={"event_id": event_id})
        _count_error(event_id)
        return []


def _count_error(event_id: str) -> None:
    try:
        models.add_errors(event_id)
    except Exception:
        logger.exception("could not count an admission error", extra={"event_id": event_id})


def admit(event_id: str, event: EventItem | None = None) -> AdmitResult:
    """Fill the free slots of an event in position order (priority lane first), one transaction
    of up to ``batch_size`` admissions per round. Concurrent attempts are safe: each round is
    conditional on the cursors it read and on ``processing`` staying within the cap; the loser
    re-reads. Cost per admitted user is independent of the line's length: the line is read from
    the cursor, a page at a time."""
    s = settings()
    result = AdmitResult(admitted=[])
    retries = 0
    while result.rounds < s.max_rounds:
        event = event or models.get_event(event_id)
        if event is None or event.status != logic.ACTIVE:
            break
        line = event.line
        want = logic.admission_count(event.max_concurrent, event.processing, event.batch_size, line.queued)
        if want == 0:
            break
        plan, sessions = _plan(event, want)
        if plan.empty:
            if plan.wait_until is not None:
                _defer(event_id, plan.wait_until)
            break
        now = clock.now()
        admissions = [
            _admission(event, sessions[(place.lane, place.ticket)], int(event.admitted) + i + 1, now)
            for i, place in enumerate(plan.admit)
        ]
        outcome = models.commit_round(event, plan, admissions, now=now, rate_window=s.rate_window_seconds)
        result.rounds += 1
        event = None
        if outcome == "lost":  # another attempt's round won: it goes on (see _MAX_RETRIES)
            break
        if outcome == "retry":  # a place changed under us: nobody else will redo this round
            retries += 1
            if retries > _MAX_RETRIES:
                break
            continue
        result.skipped += len(plan.abandon) + len(plan.expire)
        for a in admissions:
            a.session.status, a.session.admitted_at, a.session.admission_no = (
                logic.ADMITTED,
                now,
                a.admission_no,
            )
            a.session.token, a.session.jti = a.token, a.jti
            a.session.checkout_expires_at = a.checkout_expires_at
            result.admitted.append(a.session)
        _announce(event_id, admissions, now)
        if plan.wait_until is not None:
            _defer(event_id, plan.wait_until)
            break
        # No early exit even when the line looked drained: an attempt that lost this round to us
        # has stopped, trusting us to re-read and take its place (see _MAX_RETRIES).
    return result


def _plan(event: EventItem, want: int) -> tuple[logic.Plan, dict[tuple[str, int], SessionItem]]:
    """Read the line from each cursor (priority lane first; the normal lane only if the priority
    lane was read to its end) and decide the round."""
    s = settings()
    line = event.line
    read = min(2 * want + 20, logic.MAX_TRANSACTION_ITEMS - 10)
    places: dict[Lane, list[logic.Place]] = {}
    exhausted: dict[Lane, bool] = {}
    sessions: dict[tuple[str, int], SessionItem] = {}
    for lane in logic.LANES:
        if line.waiting(lane) == 0 or (lane == "n" and not exhausted.get("v", True)):
            places[lane], exhausted[lane] = [], line.waiting(lane) == 0
            continue
        items, exhausted[lane] = models.places_after(event.event_id, lane, line.cursor(lane), read)
        places[lane] = [item.place() for item in items]
        sessions.update({(item.lane, int(item.ticket)): item for item in items})
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
    )
    return plan, sessions


def _admission(event: EventItem, session: SessionItem, number: int, now: float) -> models.Admission:
    expires_at = now + float(event.checkout_minutes) * 60
    jti = tokens.new_jti()
    claims = logic.checkout_claims(
        issuer=tokens.issuer(),
        event_id=event.event_id,
        session=session.session_id,
        user_id=session.user_id,
        lane=session.lane,  # type: ignore[arg-type]
        ticket=int(session.ticket),
        admitted_at=now,
        checkout_seconds=float(event.checkout_minutes) * 60,
        jti=jti,
    )
    return models.Admission(session, number, tokens.sign(claims), jti, expires_at)


def _announce(event_id: str, admissions: list[models.Admission], now: float) -> None:
    """After the round committed: a checkout timer and a ``QueueReady`` per admitted user."""
    if not admissions:
        return
    logger.info("waitroom admitted", extra={"event_id": event_id, "count": len(admissions)})
    metrics.add_metric(name="WaitroomAdmissions", unit=MetricUnit.Count, value=len(admissions))
    for a in admissions:
        try:
            timers.schedule(CHECKOUT_TIMER, a.session.session_id, a.checkout_expires_at)
        except Exception:  # the backstop finds admitted sessions past their window (gsi2)
            logger.exception("could not schedule checkout expiry", extra={"session_id": a.session.session_id})
            _count_error(event_id)
    ready = [
        events.DomainEvent(
            DOMAIN,
            "QueueReady",
            {
                "session_id": a.session.session_id,
                "user_id": a.session.user_id,
                "event_id": event_id,
                "admitted_at": clock.to_datetime(now).isoformat(),
                "checkout_expires_at": clock.to_datetime(a.checkout_expires_at).isoformat(),
                "recipients": [a.session.user_id],
                "message": f"It's your turn for {event_id}: complete your checkout before "
                f"{clock.to_datetime(a.checkout_expires_at):%H:%M} UTC.",
            },
        )
        for a in admissions
    ]
    try:
        events.publish_many(ready)
    except Exception:  # the user still sees the admission when polling
        logger.exception("could not publish QueueReady", extra={"event_id": event_id})
        _count_error(event_id)


def _defer(event_id: str, at: float) -> None:
    try:
        timers.schedule(ADMIT_TIMER, event_id, at)
    except Exception:
        logger.exception("could not defer an admission attempt", extra={"event_id": event_id})


def backstop() -> dict[str, int]:
    """Every minute: expire checkouts whose timer was lost, then an attempt per active event.
    One event's failure never stops another's."""
    admitted = expired = failed = 0
    grace = 60.0
    for event in list(models.events(logic.ACTIVE)):
        try:
            for session in models.overdue_checkouts(event.event_id, clock.now() - grace):
                expired += expire_checkout(session.session_id)
            admitted += len(admit(event.event_id).admitted)
        except Exception:
            failed += 1
            logger.exception("waitroom backstop failed for an event", extra={"event_id": event.event_id})
            _count_error(event.event_id)
    return {"admitted": admitted, "expired": expired, "failed": failed}


# The timer kinds above are handled in handlers.py; import it so they are registered wherever the
# service runs (API, runtime, CLI, tests), not only where app.py is loaded.
from chalicelib.waitroom import handlers as _handlers  # noqa: E402, F401
