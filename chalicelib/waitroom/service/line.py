"""A user in line: joining (one session per user and event), looking a session up, and the
status call (place, people ahead, ETA; polling is the heartbeat)."""

from __future__ import annotations

import random

from chalicelib.core import clock
from chalicelib.core.auth import Principal
from chalicelib.core.errors import Conflict, Forbidden, NotFound, Unavailable
from chalicelib.core.observability import logger
from chalicelib.waitroom import logic
from chalicelib.waitroom.logic import Lane
from chalicelib.waitroom.models import events, items, sessions
from chalicelib.waitroom.models.items import EventItem, SessionItem
from chalicelib.waitroom.schemas import SessionOut
from chalicelib.waitroom.service.admission import admit_quietly
from chalicelib.waitroom.settings import WaitroomSettings, settings

_JOIN_ATTEMPTS = 25  # shard races and tickets closed by the admitter, each a fresh read


def join(event_id: str, user_id: str, lane: Lane = "n") -> tuple[SessionItem, EventItem]:
    """The user's session in this event: the existing one, or a new place at the back of ``lane``.

    The normal lane takes its ticket from one of the event's counter shards (``logic.pick_shard``:
    fair to within the stated window); the priority lane, for VIPs an admin adds, from the event.
    """
    for attempt in range(_JOIN_ATTEMPTS):
        marker, event, counts = events.read_for_join(event_id, user_id)
        if marker is not None:
            return _existing(marker.session_id)
        if event is None:
            raise NotFound(f"no event {event_id}")
        if event.status != logic.ACTIVE:
            raise Conflict(f"event {event_id} is {event.status}: joins are closed", code="event_not_active")
        ticket = _take_ticket(event, lane, counts, 2**attempt)
        if ticket is None:
            continue  # lost the shard to another join: read again
        now = clock.now()
        expires = int(now + event.session_ttl_minutes * 60)
        session = items.place(
            event_id,
            lane,
            ticket,
            shards=event.shard_count,
            user_id=user_id,
            status=logic.QUEUED,
            joined_at=now,
            last_seen=now,
            ahead_at_join=_ahead(event, lane, ticket, counts),
            expires_at=expires,
        )
        sid = session.session_id
        outcome = sessions.write_place(
            session, items.marker(event_id, user_id, session_id=sid, expires_at=expires)
        )
        if outcome == "duplicate":
            # This ticket will never be written: close it now, so the line does not wait on it.
            ttl = float(event.session_ttl_minutes) * 60
            sessions.close_place(sessions.closed_place(event_id, lane, ticket, event.shard_count, now, ttl))
            found = sessions.get_marker(event_id, user_id)
            if found is None:  # pragma: no cover - the marker that won cannot vanish in between
                raise Unavailable("join raced; try again")
            return _existing(found.session_id)
        if outcome == "written":
            logger.info("waitroom joined", extra={"event_id": event_id, "session_id": sid, "lane": lane})
            room = logic.admission_count(event.max_concurrent, event.processing, event.batch_size, 1)
            # The event was read eventually consistent: a slot freed a moment ago may not show, and
            # its own attempt may have read the line before this place. Near the front, look
            # again (a consistent read; one call when still full) rather than wait for the backstop.
            if room or int(session.ahead_at_join) < int(event.batch_size):
                admitted = {s.session_id: s for s in admit_quietly(event_id)}
                session = admitted.get(sid, session)
            return session, event
        # "passed": the admitter closed this ticket before it was written; take a new one.
    raise Unavailable("could not join: the line moved too fast; try again")


def _ahead(event: EventItem, lane: Lane, ticket: int, counts: list[int] | None = None) -> int:
    """People ahead of a ticket: exact with the shard counts, else up to the tickets some shard
    has not handed out yet (at most shards x slack)."""
    if counts is None:
        line = logic.Line(int(event.next_v), 0, int(event.cursor_v), int(event.cursor_n))
    else:
        line = events.line(event, counts)
    return line.places_ahead(lane, ticket)


def _take_ticket(event: EventItem, lane: Lane, counts: list[int], spread: int) -> int | None:
    if lane == "v":
        allocated = events.allocate_ticket(event.event_id, lane)
        if allocated is None:
            raise Conflict(f"event {event.event_id} is not active: joins are closed", code="event_not_active")
        return int(allocated.next_v)
    shard, below = logic.pick_shard(counts, settings().shard_slack, random.random(), spread)
    seq = events.take_shard_ticket(event.event_id, shard, below if len(counts) > 1 else None)
    if seq is None:
        return None
    counts[shard] = max(counts[shard], seq)  # the view's places ahead count this ticket's own shard
    return logic.shard_ticket(seq, shard, event.shard_count)


def _existing(sid: str) -> tuple[SessionItem, EventItem]:
    event, session, _ = find(sid)
    return session, event


def find(sid: str) -> tuple[EventItem, SessionItem, list[int]]:
    """A session, its event and the event's shard counts, by the session's id (``NotFound`` for
    either). Two reads: the event with its counters, then the place."""
    try:
        event_id, lane, ticket = logic.parse_session_id(sid)
    except logic.InvalidSessionId:
        raise NotFound(f"no session {sid}") from None
    event, counts = events.read_with_shards(event_id, consistent=False)
    session = sessions.get_session(event_id, lane, ticket, event.shard_count) if event else None
    if event is None or session is None or session.status == logic.PASSED:
        raise NotFound(f"no session {sid}")
    return event, session, counts


def find_session(sid: str) -> SessionItem:
    """A session by its id (one GetItem: the event's shard count is cached)."""
    try:
        event_id, lane, ticket = logic.parse_session_id(sid)
    except logic.InvalidSessionId:
        raise NotFound(f"no session {sid}") from None
    shards = events.shard_count(event_id)
    session = sessions.get_session(event_id, lane, ticket, shards) if shards else None
    if session is None or session.status == logic.PASSED:
        raise NotFound(f"no session {sid}")
    return session


def poll(sid: str, principal: Principal) -> SessionOut:
    """A user's status call: their place, people ahead and ETA; polling is the heartbeat."""
    event, session, counts = find(sid)
    if session.user_id != principal.sub and not principal.is_admin:
        raise Forbidden("not your session")
    return view(heartbeat(session, principal.sub), event, counts)


def heartbeat(session: SessionItem, user_id: str) -> SessionItem:
    """The owner's poll keeps a queued place (written at most every ``heartbeat_write_seconds``)."""
    now = clock.now()
    stale = now - float(session.last_seen) >= settings().heartbeat_write_seconds
    if session.status == logic.QUEUED and session.user_id == user_id and stale:
        if sessions.heartbeat(session, now):
            session.last_seen = now
        else:  # admitted (or skipped) since read
            session = find_session(session.session_id)
    return session


def view(session: SessionItem, event: EventItem, counts: list[int] | None = None) -> SessionOut:
    """A session as its owner sees it. ``counts``: the event's shard counts, read if not given."""
    now = clock.now()
    s = settings()
    queued = session.status == logic.QUEUED
    ahead = None
    if queued:
        if counts is None and event.shard_count > 1:
            counts = events.shard_counts(event)
        ahead = _ahead(event, session.lane, int(session.ticket), counts)  # type: ignore[arg-type]
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
        poll_after_seconds=poll_after(s, eta, ahead, int(event.batch_size)) if queued else None,
    )


def poll_after(s: WaitroomSettings, eta: int | None, ahead: int | None, batch: int = 1) -> float:
    """Poll well within the abandonment window, sooner as the turn nears: those the next
    admission round would take poll every ``min_poll_seconds``, so they reach checkout quickly
    while the rest of the crowd polls slowly."""
    if ahead is not None and ahead < batch:
        return s.min_poll_seconds
    return round(max(s.min_poll_seconds, min(s.abandon_after_seconds / 4, (eta or 60) / 4, 30)), 2)
