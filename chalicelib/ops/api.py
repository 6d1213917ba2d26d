"""Operations API: who am I, and the admin views of queues, dead letters, timers and events."""

from __future__ import annotations

import json
from dataclasses import asdict

from chalicelib.core import clock, timers
from chalicelib.core.errors import NotFound
from chalicelib.core.http import Api, Call
from chalicelib.ops import models, queues
from chalicelib.ops.logic import count_by_kind
from chalicelib.ops.schemas import (
    DeadLetterList,
    DeadLetterQuery,
    EventList,
    EventOut,
    EventPage,
    Me,
    QueueList,
    Redrive,
    Redriven,
    TimerList,
    TimerOut,
    TimerQuery,
)

api = Api(__name__, tag="ops")
ADMIN = ("admin",)


@api.route("/me", response=Me)
def me(call: Call) -> Me:
    """The caller as the API sees them (any valid token)."""
    return Me(sub=call.user.sub, roles=sorted(call.user.roles))


@api.route("/admin/queues", response=QueueList, roles=ADMIN)
def admin_queues(call: Call) -> QueueList:
    """Depth, in flight, delayed and dead letters of every queue."""
    return QueueList.model_validate({"queues": [asdict(d) for d in queues.depths()]})


@api.route("/admin/failed", query=DeadLetterQuery, response=DeadLetterList, roles=ADMIN)
def admin_failed(call: Call) -> DeadLetterList:
    """Dead letters with the error that killed them."""
    return DeadLetterList.model_validate(
        {"failed": [asdict(d) for d in queues.dead_letters(call.args.queue)]}
    )


@api.route("/admin/failed/retry", "POST", body=Redrive, response=Redriven, roles=ADMIN, errors=(404,))
def admin_failed_retry(call: Call) -> Redriven:
    """Redrive one dead letter (by message id) or all of them to their queue."""
    request: Redrive = call.body
    moved = queues.redrive(request.message_id, request.queue)
    if request.message_id and not moved:
        raise NotFound(f"no dead letter with id {request.message_id}")
    return Redriven(redriven=moved)


@api.route("/admin/timers", query=TimerQuery, response=TimerList, roles=ADMIN)
def admin_timers(call: Call) -> TimerList:
    """Pending timers by kind, and the overdue ones (past due beyond the sweeper's grace) with how
    late (``?overdue=true``: list only those)."""
    now = clock.now()
    late = list(timers.overdue())
    late_keys = {(t.kind, t.key) for t in late}
    items = late if call.args.overdue else list(timers.pending())
    out = [
        TimerOut(
            kind=t.kind,
            key=t.key,
            state=t.state,
            due_at=float(t.due_at),
            late_seconds=round(now - float(t.due_at), 3) if (t.kind, t.key) in late_keys else None,
        )
        for t in items[:500]
    ]
    return TimerList(
        timers=out,
        by_kind=dict(count_by_kind(t.kind for t in items)),
        overdue_by_kind=dict(count_by_kind(t.kind for t in late)),
        overdue=len(late),
    )


@api.route("/admin/events", query=EventPage, response=EventList, roles=ADMIN)
def admin_events(call: Call) -> EventList:
    """Domain events, newest first (``?type=PaymentProcessed`` filters, ``?limit=`` up to 200)."""
    args: EventPage = call.args
    items = models.recent_events(limit=args.limit, detail_type=args.type)
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
