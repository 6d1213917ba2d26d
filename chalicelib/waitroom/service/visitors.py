"""The crowd on the waiting page: anonymous visitors known by a random device id (a cookie, and
the page's local storage), each with one place per event, joins limited per IP and per device.

A visitor id is 128 random bits: holding it is what proves a place is yours (as a session
cookie would); the id alone gives nothing else. Its user id in the line is ``visitor:<id>``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from chalicelib.core import clock, ratelimit
from chalicelib.core.errors import NotFound
from chalicelib.waitroom import logic
from chalicelib.waitroom.models import events, sessions
from chalicelib.waitroom.models.items import EventItem, RateWindow, SessionItem
from chalicelib.waitroom.service import line
from chalicelib.waitroom.settings import settings

VISITOR = re.compile(r"^[A-Za-z0-9_-]{22}$")
PREFIX = "visitor:"


@dataclass
class Visit:
    """What the page shows a visitor: the event, their session (if any) and why not."""

    event: EventItem
    session: SessionItem | None
    visitor: str | None
    counts: list[int] | None = None  # the event's shard counts, when read with it


def new_visitor() -> str:
    return secrets.token_urlsafe(16)


def valid(visitor: str | None) -> str | None:
    return visitor if visitor and VISITOR.match(visitor) else None


def event(event_id: str) -> EventItem:
    found = events.get_event(event_id)
    if found is None:
        raise NotFound(f"no event {event_id}")
    return found


def join(event_id: str, visitor: str | None, ip: str | None) -> Visit:
    """The visitor's place (a new visitor id when they bring none), after the join limits."""
    visitor = valid(visitor) or new_visitor()
    s = settings()
    now = clock.now()
    checks = [("device", f"device#{visitor}", s.join_limit_per_device)]
    if ip:
        checks.append(("network address", f"ip#{ip}", s.join_limit_per_ip))
    ratelimit.enforce(RateWindow, checks, s.join_limit_window_seconds, now, "joins")
    session, current = line.join(event_id, PREFIX + visitor)
    return Visit(current, session, visitor)


def find(event_id: str, visitor: str | None) -> Visit:
    """The visitor's place in this event, polled (the heartbeat), or none."""
    current = event(event_id)
    visitor = valid(visitor)
    if visitor is None:
        return Visit(current, None, None)
    marker = sessions.get_marker(event_id, PREFIX + visitor)
    if marker is None:
        return Visit(current, None, visitor)
    current, session, counts = line.find(marker.session_id)
    return Visit(current, line.heartbeat(session, PREFIX + visitor), visitor, counts)


def state(visit: Visit) -> dict[str, Any]:
    """The page's view of a visit (the JSON the script polls, and what the server renders)."""
    ev, session = visit.event, visit.session
    s = settings()
    refresh = float((ev.page or {}).get("refresh_seconds") or 30)
    out: dict[str, Any] = {
        "event": {"id": ev.event_id, "name": ev.name, "status": ev.status},
        "status": "not_joined" if session is None else session.status,
        "session_id": session.session_id if session else None,
        "position": None,
        "people_ahead": None,
        "eta_seconds": None,
        "eta_range": None,
        "progress": None,
        "poll_after_seconds": min(s.min_poll_seconds * 2, refresh),
        "abandon_after_seconds": s.abandon_after_seconds,
        "redirect": None,
    }
    if session is None:
        if ev.status == logic.CLOSED:
            out["poll_after_seconds"] = None
        return out
    view = line.view(session, ev, visit.counts)
    if view.status == logic.QUEUED:
        ahead = view.people_ahead or 0
        first = int(session.ahead_at_join) if session.ahead_at_join is not None else None
        out.update(
            position=view.position,
            people_ahead=ahead,
            eta_seconds=view.eta_seconds,
            eta_range=logic.eta_range(view.eta_seconds),
            progress=round(1 - ahead / first, 3) if first else (1.0 if ahead == 0 else 0.0),
            poll_after_seconds=min(view.poll_after_seconds or 0, refresh) or refresh,
        )
        if ev.status == logic.CLOSED:
            out["poll_after_seconds"] = None
    elif view.status == logic.ADMITTED and view.checkout_token and view.checkout_url:
        out["redirect"] = redirect(ev, view.checkout_url, view.checkout_token)
        out["checkout_expires_at"] = (
            view.checkout_expires_at.isoformat() if view.checkout_expires_at else None
        )
        out["poll_after_seconds"] = None
    else:
        out["poll_after_seconds"] = None
    return out


def redirect(ev: EventItem, url: str, token: str) -> dict[str, str]:
    """How the token reaches the event's target URL: a query parameter, or a POST form field."""
    page = ev.page or {}
    field = page.get("token_param") or "token"
    if page.get("redirect") == "post":
        return {"method": "POST", "url": url, "field": field, "token": token}
    parts = urlsplit(url)
    query = (parts.query + "&" if parts.query else "") + urlencode({field: token})
    return {"method": "GET", "url": urlunsplit(parts._replace(query=query)), "field": field, "token": token}
