"""Operations API: who am I, and the admin views of queues, dead letters, timers and events."""

from __future__ import annotations

import json
from dataclasses import asdict

from chalicelib.core import timers
from chalicelib.core.errors import BadRequest, NotFound
from chalicelib.core.http import Api, Call
from chalicelib.ops import models, queues
from chalicelib.ops.logic import count_by_kind
from chalicelib.ops.schemas import (
    DeadLetterList,
    EventList,
    EventOut,
    Me,
    QueueList,
    Redrive,
    Redriven,
    TimerList,
    TimerOut,
)

api = Api(__name__, tag="ops")
ADMIN = ("admin",)


@api.route("/me", response=Me)
def me(call: Call) -> Me:
    """The caller as the API sees them (any valid token)."""
    assert call.principal
    return Me(sub=call.principal.sub, roles=sorted(call.principal.roles))


@api.route("/admin/queues", response=QueueList, roles=ADMIN)
def admin_queues(call: Call) -> QueueList:
    """Depth, in flight, delayed and dead letters of every queue."""
    return QueueList.model_validate({"queues": [asdict(d) for d in queues.depths()]})


@api.route("/admin/failed", response=DeadLetterList, roles=ADMIN)
def admin_failed(call: Call) -> DeadLetterList:
    """Dead letters with the error that killed them."""
    return DeadLetterList.model_validate(
        {"failed": [asdict(d) for d in queues.dead_letters(call.query.get("queue"))]}
    )


@api.route("/admin/failed/retry", "POST", body=Redrive, response=Redriven, roles=ADMIN)
def admin_failed_retry(call: Call) -> Redriven:
    """Redrive one dead letter (by message id) or all of them to their queue."""
    request: Redrive = call.body
    moved = queues.redrive(request.message_id, request.queue)
    if request.message_id and not moved:
        raise NotFound(f"no dead letter with id {request.message_id}")
    return Redriven(redriven=moved)


@api.route("/admin/timers", response=TimerList, roles=ADMIN)
def admin_timers(call: Call) -> TimerList:
    """Pending timers (``?overdue=true``: only those past due beyond the sweeper's grace)."""
    flag = call.query.get("overdue", "false").lower()
    if flag not in ("true", "false"):
        raise BadRequest("overdue must be true or false")
    items = list(timers.overdue() if flag == "true" else timers.pending())
    out = [TimerOut(kind=t.kind, key=t.key, state=t.state, due_at=float(t.due_at)) for t in items[:500]]
    return TimerList(timers=out, by_kind=dict(count_by_kind(t.kind for t in items)))


@api.route("/admin/events", response=EventList, roles=ADMIN)
def admin_events(call: Call) -> EventList:
    """Domain events, newest first (``?type=PaymentProcessed`` filters, ``?limit=`` up to 200)."""
    try:
        limit = int(call.query.get("limit", "50"))
    except ValueError:
        raise BadRequest("limit must be a whole number") from None
    if not 1 <= limit <= 200:
        raise BadRequest("limit must be between 1 and 200")
    wanted = call.query.get("type")
    items = models.recent_events(limit=limit, detail_type=wanted)
    return EventList(
        events=[
            EventOut(
                id=e.event_id,
                source=e.source,
                type=e.detail_type,
                detail=json.loads(e.detail),
                time=e.sk.split("#")[0],
            )
            for e in items
        ]
    )
