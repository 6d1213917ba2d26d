"""Waitroom API routes: thin; every rule is in ``service``/``logic``."""

from __future__ import annotations

from chalice import Response

from chalicelib.core import clock
from chalicelib.core.aws import client
from chalicelib.core.config import get_settings
from chalicelib.core.http import Api, Call, json_response
from chalicelib.waitroom import logic, models, service, tokens
from chalicelib.waitroom.models.items import EventItem
from chalicelib.waitroom.schemas import (
    Complete,
    CreateEvent,
    EventList,
    EventOut,
    EventQuery,
    Health,
    PriorityJoin,
    SessionOut,
    Stats,
    UpdateEvent,
)

api = Api(__name__, tag="waitroom")
ADMIN = ("admin",)


def event_out(event: EventItem) -> EventOut:
    return EventOut(
        id=event.event_id,
        name=event.name,
        status=event.status,
        max_concurrent=int(event.max_concurrent),
        batch_size=int(event.batch_size),
        checkout_minutes=float(event.checkout_minutes),
        session_ttl_minutes=float(event.session_ttl_minutes),
        checkout_url=event.checkout_url,
        queued=models.events.line(event).queued,
        shards=event.shard_count,
        page=event.page,
        processing=int(event.processing),
        created_at=clock.to_datetime(event.created_at),
    )


# --- events (admin) ---------------------------------------------------------------------------


@api.route(
    "/waitroom/events", "POST", body=CreateEvent, response=EventOut, status=201, roles=ADMIN, errors=(409,)
)
def create_event(call: Call) -> EventOut:
    """Create an event (a sale) with its cap, batch size and windows; draft unless status=active."""
    return event_out(service.create_event(call.body))


@api.route("/waitroom/events", query=EventQuery, response=EventList, roles=ADMIN)
def list_events(call: Call) -> EventList:
    """Every event (``?status=active`` filters)."""
    return EventList(events=[event_out(e) for e in service.list_events(call.args.status)])


@api.route("/waitroom/events/{event_id}", response=EventOut)
def get_event(call: Call, event_id: str) -> EventOut:
    """An event's settings and line length (any signed-in user)."""
    return event_out(service.get_event(event_id))


@api.route(
    "/waitroom/events/{event_id}", "PATCH", body=UpdateEvent, response=EventOut, roles=ADMIN, errors=(409,)
)
def update_event(call: Call, event_id: str) -> EventOut:
    """Change an event's settings; a raised cap admits at once."""
    return event_out(service.update_event(event_id, call.body))


@api.route("/waitroom/events/{event_id}/activate", "POST", response=EventOut, roles=ADMIN, errors=(409,))
def activate_event(call: Call, event_id: str) -> EventOut:
    """Open (or resume) an event: joins accepted, admission runs."""
    return event_out(service.set_status(event_id, logic.ACTIVE))


@api.route("/waitroom/events/{event_id}/pause", "POST", response=EventOut, roles=ADMIN, errors=(409,))
def pause_event(call: Call, event_id: str) -> EventOut:
    """Pause an event: joins refused and admission held; places and checkouts in progress stay."""
    return event_out(service.set_status(event_id, logic.PAUSED))


@api.route("/waitroom/events/{event_id}/close", "POST", response=EventOut, roles=ADMIN, errors=(409,))
def close_event(call: Call, event_id: str) -> EventOut:
    """Close an event for good: no more joins or admissions."""
    return event_out(service.set_status(event_id, logic.CLOSED))


@api.route("/waitroom/events/{event_id}/stats", response=Stats, roles=ADMIN)
def event_stats(call: Call, event_id: str) -> Stats:
    """Queued, processing, admitted, completed, expired, abandoned, errors, last admission, rates."""
    return service.stats(event_id)


# --- sessions ---------------------------------------------------------------------------------


@api.route("/waitroom/events/{event_id}/join", "POST", response=SessionOut, errors=(409,))
def join(call: Call, event_id: str) -> SessionOut:
    """Join the line (the caller's own place; joining again returns the same session)."""
    session, event = service.join(event_id, call.user.sub)
    return service.view(session, event)


@api.route(
    "/waitroom/events/{event_id}/priority", "POST", body=PriorityJoin, response=SessionOut, roles=ADMIN
)
def priority_join(call: Call, event_id: str) -> SessionOut:
    """Admin: put a user in the priority (VIP) lane, admitted before the normal lane."""
    request: PriorityJoin = call.body
    session, event = service.join(event_id, request.user_id, lane="v")
    return service.view(session, event)


@api.route("/waitroom/sessions/{session_id}", response=SessionOut, errors=(403,))
def session_status(call: Call, session_id: str) -> SessionOut:
    """Status, position, people ahead and ETA; once admitted the checkout token. Polling is the heartbeat."""
    return service.poll(session_id, call.user)


@api.route(
    "/waitroom/sessions/{session_id}/complete",
    "POST",
    body=Complete,
    response=SessionOut,
    roles=None,
    errors=(401,),
)
def complete(call: Call, session_id: str) -> SessionOut:
    """The checkout service: purchase done (authenticated by the checkout token); the slot frees at once."""
    request: Complete = call.body
    session = service.complete(session_id, request.token)
    return service.view(session, service.get_event(session.event_id))


@api.route("/waitroom/sessions/{session_id}/revoke", "POST", response=SessionOut, roles=ADMIN, errors=(409,))
def revoke(call: Call, session_id: str) -> SessionOut:
    """Admin: revoke a session (its token is refused from now on; its slot is freed)."""
    session = service.revoke(session_id)
    return service.view(session, service.get_event(session.event_id))


# --- public -----------------------------------------------------------------------------------


@api.route("/waitroom/.well-known/jwks.json", roles=None)
def jwks(call: Call) -> Response:
    """Public keys of checkout tokens (current and recently retired), for offline verification."""
    return json_response(tokens.keys.ring().jwks(), headers={"Cache-Control": "public, max-age=300"})


@api.route("/waitroom/health", response=Health, roles=None)
def health(call: Call) -> Response:
    """The waiting room's own health: its table, its signing key, and how many events run."""
    checks: dict[str, str] = {}
    active = 0
    kid = None
    published: list[str] = []
    try:
        client("dynamodb").describe_table(TableName=get_settings().name("waitroom"))
        active = sum(1 for _ in service.list_events(logic.ACTIVE))
        checks["table"] = "ok"
    except Exception as error:
        checks["table"] = f"error: {type(error).__name__}"
    try:
        ring = tokens.keys.ring()
        kid = ring.active["kid"]
        published = [k["kid"] for k in ring.keys]
        checks["signing_key"] = "ok"
    except Exception as error:
        checks["signing_key"] = f"error: {type(error).__name__}"
    ok = all(v == "ok" for v in checks.values())
    body = Health(
        status="ok" if ok else "degraded",
        checks=checks,
        active_events=active,
        signing_kid=kid,
        published_kids=published,
    )
    return json_response(body.model_dump(), 200 if ok else 503)
