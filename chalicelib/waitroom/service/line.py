"""A user in line: joining (one session per user and event), looking a session up, and the
status call (place, people ahead, ETA; polling is the heartbeat)."""

from __future__ import annotations

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
from chalicelib.waitroom.service.events import get_event
from chalicelib.waitroom.settings import settings

_JOIN_ATTEMPTS = 3


def join(event_id: str, user_id: str, lane: Lane = "n") -> tuple[SessionItem, EventItem]:
    """The user's session in this event: the existing one, or a new place at the back of ``lane``."""
    marker = sessions.get_marker(event_id, user_id)
    if marker is not None:
        return _existing(marker.session_id)
    for _ in range(_JOIN_ATTEMPTS):
        now = clock.now()
        event = events.allocate_ticket(event_id, lane)
        if event is None:
            current = get_event(event_id)
            raise Conflict(f"event {event_id} is {current.status}: joins are closed", code="event_not_active")
        ticket = int(event.next_v if lane == "v" else event.next_n)
        expires = int(now + event.session_ttl_minutes * 60)
        session = items.place(
            event_id,
            lane,
            ticket,
            user_id=user_id,
            status=logic.QUEUED,
            joined_at=now,
            last_seen=now,
            expires_at=expires,
        )
        sid = session.session_id
        outcome = sessions.write_place(
            session, items.marker(event_id, user_id, session_id=sid, expires_at=expires)
        )
        if outcome == "duplicate":
            found = sessions.get_marker(event_id, user_id)
            if found is None:  # pragma: no cover - the marker that won cannot vanish in between
                raise Unavailable("join raced; try again")
            return _existing(found.session_id)
        if outcome == "written":
            logger.info("waitroom joined", extra={"event_id": event_id, "session_id": sid, "lane": lane})
            room = logic.admission_count(event.max_concurrent, event.processing, event.batch_size, 1)
            if room:
                admitted = {s.session_id: s for s in admit_quietly(event_id, event)}
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
    session = sessions.get_session(event_id, lane, ticket)
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
        if sessions.heartbeat(session, now):
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
