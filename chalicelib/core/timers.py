"""Durable timers: one service for every "do X at time T".

``schedule(kind, key, due_at, payload)`` writes the timer (the source of truth) and then arms it:
an SQS message with ``DelaySeconds`` when due within ``timer_sqs_max_delay``, else an EventBridge
Scheduler one-time schedule that lands on the same queue ``timer_scheduler_lead_seconds`` early.
The consumer re-delays any remainder and waits out the last sub-second, then *claims* the timer
with a conditional update before calling the handler registered for its kind.

State machine (every arrow a conditional write)::

    pending --claim--> firing --done--> fired
       ^                 |  \\--error (attempts < max)--> pending
       |                 \\----error (attempts = max)---> failed --redrive--> firing
    cancelled <--cancel-- pending

A claim is a lease: a consumer that dies mid-handler leaves ``firing`` with ``lease_until`` in
the past, which the sweeper finds and fires again. Pending and firing timers carry the sparse
``sweep`` GSI keys; fired, failed and cancelled ones drop out of it.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection

from chalicelib.core import clock, db, ids
from chalicelib.core.aws import client, queue_arn, queue_url
from chalicelib.core.config import get_settings
from chalicelib.core.db import MudaModel
from chalicelib.core.observability import MetricUnit, logger, metrics, tracer

PENDING, FIRING, FIRED, FAILED, CANCELLED = "pending", "firing", "fired", "failed", "cancelled"
DONE_RETENTION_SECONDS = 7 * 24 * 3600
RETRY_DELAY_SECONDS = 30  # a failed handler's timer is due to the sweeper again after this

Outcome = Literal["fired", "duplicate", "redelayed"]


class SweepIndex(GlobalSecondaryIndex["TimerItem"]):
    class Meta:
        index_name = "sweep"
        projection = IncludeProjection(["kind", "key", "due_at", "state"])

    sweep_shard = UnicodeAttribute(hash_key=True)
    sweep_at = NumberAttribute(range_key=True)


class TimerItem(MudaModel):
    table = "timers"
    id = UnicodeAttribute(hash_key=True)  # <kind>#<key>
    kind = UnicodeAttribute()
    key = UnicodeAttribute()
    due_at = NumberAttribute()
    state = UnicodeAttribute()
    payload = JSONAttribute(null=True)
    via = UnicodeAttribute(null=True)  # sqs | scheduler
    sweep_shard = UnicodeAttribute(null=True)
    sweep_at = NumberAttribute(null=True)
    claim = UnicodeAttribute(null=True)
    lease_until = NumberAttribute(null=True)
    attempts = NumberAttribute(default=0)
    last_error = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    fired_at = NumberAttribute(null=True)
    expires_at = NumberAttribute(null=True)  # TTL: clean-up of finished timers only
    sweep = SweepIndex()


@dataclass(frozen=True)
class Timer:
    """What a handler receives."""

    kind: str
    key: str
    due_at: float
    payload: dict[str, Any]
    attempt: int

    @property
    def id(self) -> str:
        return timer_id(self.kind, self.key)


Handler = Callable[[Timer], None]
_handlers: dict[str, Handler] = {}


def handles(kind: str) -> Callable[[Handler], Handler]:
    """Register the handler of a timer kind (one per kind)."""

    def register(fn: Handler) -> Handler:
        if _handlers.get(kind, fn) is not fn:
            raise ValueError(f"timer kind {kind!r} already has a handler")
        _handlers[kind] = fn
        return fn

    return register


def timer_id(kind: str, key: str) -> str:
    return f"{kind}#{key}"


def schedule_name(tid: str) -> str:
    """Deterministic, valid Scheduler name (≤ 64 chars of [0-9A-Za-z_.-])."""
    return "t-" + hashlib.sha256(tid.encode()).hexdigest()[:48]


def _epoch(due_at: datetime | float) -> float:
    if isinstance(due_at, datetime):
        if due_at.tzinfo is None:
            raise ValueError("due_at must be timezone-aware")
        return due_at.timestamp()
    return float(due_at)


def _shard(tid: str) -> str:
    return str(zlib.crc32(tid.encode()) % get_settings().timer_sweep_shards)


def _message(item: TimerItem) -> str:
    return json.dumps({"id": item.id, "due_at": item.due_at})


# --- scheduling -------------------------------------------------------------------------------


def schedule(kind: str, key: str, due_at: datetime | float, payload: dict[str, Any] | None = None) -> bool:
    """Make sure ``kind``/``key`` fires at ``due_at``; ``False`` if it already was (a no-op).

    Scheduling an existing timer at another time moves it (a message armed for the old time
    fails its claim); scheduling a cancelled one re-arms it.
    """
    if kind not in _handlers:
        raise ValueError(f"no handler registered for timer kind {kind!r}")
    now = clock.now()
    item = _pending(kind, key, due_at, payload, now)
    if not db.put_if(item, _replaceable(item)):
        return False
    _arm(item, now)
    return True


def add(
    tx: db.Tx,
    kind: str,
    key: str,
    due_at: datetime | float,
    payload: dict[str, Any] | None = None,
    label: str = "timer",
) -> None:
    """``schedule``'s write, inside the caller's transaction (the timer exists if and only if the
    caller's change does); ``arm`` it after the commit. Unarmed, the sweeper still fires it within
    its bound after due. (The kind's handler may live in a module this process has not loaded: a
    payment settled by the payments worker writes the hotspot's expiry.)"""
    item = _pending(kind, key, due_at, payload, clock.now())
    tx.put(item, _replaceable(item), label=label)


def _pending(
    kind: str, key: str, due_at: datetime | float, payload: dict[str, Any] | None, now: float
) -> TimerItem:
    """A pending timer as ``schedule`` and ``add`` write it: SQS when due within its delay limit,
    else Scheduler; the sweeper's shard and first look at ``due``."""
    due = round(_epoch(due_at), 3)
    tid = timer_id(kind, key)
    return TimerItem(
        id=tid,
        kind=kind,
        key=key,
        due_at=due,
        state=PENDING,
        payload=payload or {},
        via="sqs" if due - now <= get_settings().timer_sqs_max_delay else "scheduler",
        sweep_shard=_shard(tid),
        sweep_at=due,
        attempts=0,
        created_at=now,
    )


def _replaceable(item: TimerItem) -> Any:
    """Written unless the same timer is already pending at the same time (a no-op): a new time
    moves it, a cancelled one is re-armed."""
    return TimerItem.id.does_not_exist() | (TimerItem.due_at != item.due_at) | (TimerItem.state == CANCELLED)


def arm(kind: str, key: str, due_at: datetime | float) -> None:
    """Send the message (or create the schedule) of a timer written by ``add``; arming twice is
    harmless (the claim decides)."""
    due, now = round(_epoch(due_at), 3), clock.now()
    via = "sqs" if due - now <= get_settings().timer_sqs_max_delay else "scheduler"
    _arm(TimerItem(id=timer_id(kind, key), kind=kind, key=key, due_at=due, via=via), now)


def _arm(item: TimerItem, now: float) -> None:
    if item.via == "sqs":
        _send(_message(item), item.due_at - now)
        return
    settings = get_settings()
    at = clock.to_datetime(item.due_at - settings.timer_scheduler_lead_seconds)
    request = {
        "Name": schedule_name(item.id),
        "GroupName": settings.scheduler_group,
        "ScheduleExpression": f"at({at:%Y-%m-%dT%H:%M:%S})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": {
            "Arn": queue_arn(settings.timers_queue),
            "RoleArn": settings.scheduler_role_arn or _default_scheduler_role(),
            "Input": _message(item),
            "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
            "DeadLetterConfig": {"Arn": queue_arn(f"{settings.timers_queue}-dlq")},
        },
    }
    scheduler = client("scheduler")
    try:
        scheduler.create_schedule(**request)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConflictException":
            raise
        scheduler.update_schedule(**request)  # moved: same deterministic name, new time


def _default_scheduler_role() -> str:
    account = queue_arn(get_settings().timers_queue).split(":")[4]
    return f"arn:aws:iam::{account}:role/{get_settings().name('scheduler')}"


def _send(body: str, remaining: float) -> None:
    """Put a timer message on the queue, delayed by the whole seconds of ``remaining``."""
    settings = get_settings()
    delay = max(0, min(settings.timer_sqs_max_delay, math.floor(remaining)))
    client("sqs").send_message(
        QueueUrl=queue_url(settings.timers_queue), MessageBody=body, DelaySeconds=delay
    )


def cancel(kind: str, key: str) -> bool:
    """Cancel a pending timer; ``False`` if it was not pending (fired, firing, absent)."""
    item = TimerItem(timer_id(kind, key))
    try:
        item.update(
            actions=[
                TimerItem.state.set(CANCELLED),
                TimerItem.sweep_shard.remove(),
                TimerItem.sweep_at.remove(),
                TimerItem.expires_at.set(int(clock.now() + DONE_RETENTION_SECONDS)),
            ],
            condition=TimerItem.state == PENDING,
        )
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise
    if item.via == "scheduler":
        try:
            client("scheduler").delete_schedule(
                Name=schedule_name(item.id), GroupName=get_settings().scheduler_group
            )
        except ClientError as error:  # already fired and deleted itself
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
    return True


def get(kind: str, key: str) -> TimerItem | None:
    try:
        return TimerItem.get(timer_id(kind, key), consistent_read=True)
    except TimerItem.DoesNotExist:
        return None


# --- delivery ---------------------------------------------------------------------------------


def deliver(body: str) -> Outcome:
    """Handle one message of the timers queue (from SQS delay, Scheduler, sweeper or redrive)."""
    message = json.loads(body)
    due = float(message["due_at"])
    remaining = due - clock.now()
    # SQS delays are whole seconds, so a message lands up to a second early: wait out the
    # fraction in-process; anything longer (Scheduler's lead, a 900 s hop) is re-delayed.
    if remaining > 1:
        _send(body, remaining)
        return "redelayed"
    if remaining > 0:
        time.sleep(remaining)
    return fire(message["id"], due)


@tracer.capture_method
def fire(tid: str, due: float) -> Outcome:
    """Claim the timer armed for ``due`` and run its handler; a lost claim is a duplicate."""
    settings = get_settings()
    now = clock.now()
    token = ids.new_id()
    item = TimerItem(tid)
    claimable = (
        (TimerItem.state == PENDING)
        | (TimerItem.state == FAILED)
        | ((TimerItem.state == FIRING) & (TimerItem.lease_until < now))
    )
    try:
        item.update(
            actions=[
                TimerItem.state.set(FIRING),
                TimerItem.claim.set(token),
                TimerItem.lease_until.set(now + settings.timer_lease_seconds),
                TimerItem.sweep_at.set(now + settings.timer_lease_seconds),
                TimerItem.sweep_shard.set(_shard(tid)),
                TimerItem.attempts.add(1),
            ],
            condition=(TimerItem.due_at == due) & claimable,
        )
    except UpdateError as error:
        if db.condition_failed(error):
            logger.info("timer skipped - already claimed or moved", extra={"timer": tid, "due_at": due})
            return "duplicate"
        raise
    lateness = now - due
    metrics.add_metric(name="TimerLatenessMs", unit=MetricUnit.Milliseconds, value=max(0.0, lateness) * 1000)
    timer = Timer(item.kind, item.key, item.due_at, item.payload or {}, int(item.attempts))
    log = {"timer": tid, "kind": item.kind, "attempt": timer.attempt, "lateness_ms": round(lateness * 1000)}
    try:
        handler = _handlers.get(item.kind)
        if handler is None:
            raise LookupError(f"no handler registered for timer kind {item.kind!r}")
        handler(timer)
    except Exception as error:
        _release(item, token, error, settings.timer_max_attempts)
        logger.exception("timer handler failed", extra=log)
        raise
    _finish(item, token)
    logger.info("timer fired", extra=log)
    return "fired"


def _finish(item: TimerItem, token: str) -> None:
    now = clock.now()
    try:
        item.update(
            actions=[
                TimerItem.state.set(FIRED),
                TimerItem.fired_at.set(now),
                TimerItem.expires_at.set(int(now + DONE_RETENTION_SECONDS)),
                TimerItem.sweep_shard.remove(),
                TimerItem.sweep_at.remove(),
                TimerItem.lease_until.remove(),
                TimerItem.claim.remove(),
            ],
            condition=TimerItem.claim == token,
        )
    except UpdateError as error:
        if not db.condition_failed(error):
            raise
        logger.warning("timer claim lost while firing (moved, or lease expired)", extra={"timer": item.id})


def _release(item: TimerItem, token: str, error: Exception, max_attempts: int) -> None:
    """Hand a failed claim back: pending for another try, or failed once out of attempts."""
    exhausted = item.attempts >= max_attempts
    actions = [
        TimerItem.last_error.set(repr(error)[:1000]),
        TimerItem.claim.remove(),
        TimerItem.lease_until.remove(),
    ]
    if exhausted:
        actions += [TimerItem.state.set(FAILED), TimerItem.sweep_shard.remove(), TimerItem.sweep_at.remove()]
    else:
        actions += [TimerItem.state.set(PENDING), TimerItem.sweep_at.set(clock.now() + RETRY_DELAY_SECONDS)]
    try:
        item.update(actions=actions, condition=TimerItem.claim == token)
    except UpdateError as update_error:
        if not db.condition_failed(update_error):
            raise


# --- the sweeper ------------------------------------------------------------------------------


def overdue(grace: float | None = None) -> Iterator[TimerItem]:
    """Timers pending (or firing on an expired lease) more than ``grace`` seconds past due."""
    settings = get_settings()
    cutoff = clock.now() - (settings.timer_sweep_grace_seconds if grace is None else grace)
    for shard in range(settings.timer_sweep_shards):
        yield from TimerItem.sweep.query(str(shard), TimerItem.sweep_at <= cutoff)


def pending() -> Iterator[TimerItem]:
    for shard in range(get_settings().timer_sweep_shards):
        yield from TimerItem.sweep.query(str(shard))


def sweep() -> int:
    """Re-send every overdue timer to the timers queue; the claim makes duplicates harmless.

    A re-sent timer's ``sweep_at`` moves to now, so the next sweeps leave it alone for another
    grace: under a backlog (timers late because the consumers are behind, not lost) re-sending
    every overdue timer on every sweep would multiply the very load that made them late."""
    sqs = client("sqs")
    now = clock.now()
    url = queue_url(get_settings().timers_queue)
    batch: list[dict[str, str]] = []
    count = 0

    def flush() -> None:
        if batch:
            failed = sqs.send_message_batch(QueueUrl=url, Entries=list(batch)).get("Failed")
            if failed:
                raise RuntimeError(f"sweeper could not re-send {len(failed)} timer(s): {failed[:3]}")
            batch.clear()

    for item in overdue():
        unchanged = (TimerItem.state == item.state) & (TimerItem.sweep_at == item.sweep_at)
        if not db.update_if(item, [TimerItem.sweep_at.set(now)], unchanged):
            continue  # claimed, finished or re-sent by another sweeper meanwhile
        batch.append({"Id": str(len(batch)), "MessageBody": _message(item)})
        count += 1
        if len(batch) == 10:
            flush()
    flush()
    if count:
        logger.warning("sweeper re-sent overdue timers", extra={"count": count})
    return count
