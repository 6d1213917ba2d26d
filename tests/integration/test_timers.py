"""The durable timer service on in-process moto: arm, claim, dispatch, cancel, move, sweep."""

from __future__ import annotations

import json

import pytest
from chalice.test import Client

from chalicelib.core import timers
from chalicelib.core.aws import client, queue_arn, queue_url
from chalicelib.core.config import get_settings
from chalicelib.ops import models
from chalicelib.ops.handlers import PROBE
from tests.support import queues
from tests.support.queues import held, sqs_event

pytestmark = pytest.mark.usefixtures("aws")


def armed(kind: str, key: str) -> int:
    """How many messages the timers queue holds for this timer (delayed ones included): the
    queue is shared with every other test, so count this timer's own."""
    tid = timers.timer_id(kind, key)
    return sum(json.loads(b).get("id") == tid for b in held("timers"))


def drain() -> list[str]:
    """Receive (and delete) every visible message body of the timers queue."""
    return [m["Body"] for m in queues.drain("timers")]


def body(kind: str, key: str, due: float) -> str:
    return json.dumps({"id": timers.timer_id(kind, key), "due_at": round(due, 3)})


def test_due_soon_is_armed_on_sqs_with_its_delay(clock) -> None:
    """Given a timer due in 30 s, when scheduled, then it is pending and an SQS message is delayed."""
    assert timers.schedule(PROBE, "r.1", clock.t + 30)

    item = timers.get(PROBE, "r.1")
    assert item.state == timers.PENDING and item.via == "sqs"
    assert armed(PROBE, "r.1") == 1
    assert (
        client("sqs").get_queue_attributes(
            QueueUrl=queue_url(get_settings().timers_queue),
            AttributeNames=["ApproximateNumberOfMessagesDelayed"],
        )["Attributes"]["ApproximateNumberOfMessagesDelayed"]
        != "0"
    )


def test_due_later_goes_to_scheduler_with_lead_and_deterministic_name(clock) -> None:
    """Given a timer due in 2 hours, when scheduled, then a one-time schedule targets the queue early."""
    due = clock.t + 7200
    timers.schedule(PROBE, "r.2", due)

    schedule = client("scheduler").get_schedule(
        Name=timers.schedule_name(timers.timer_id(PROBE, "r.2")), GroupName=get_settings().scheduler_group
    )
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["Arn"].endswith(get_settings().timers_queue)
    assert json.loads(schedule["Target"]["Input"])["due_at"] == round(due, 3)
    at = schedule["ScheduleExpression"]
    assert at.startswith("at(") and timers.get(PROBE, "r.2").via == "scheduler"


def test_same_timer_twice_is_a_no_op(clock) -> None:
    """Given a scheduled timer, when the same (kind, key, due_at) is scheduled again, nothing changes."""
    due = clock.t + 10
    assert timers.schedule(PROBE, "r.3", due) is True
    assert timers.schedule(PROBE, "r.3", due) is False
    assert armed(PROBE, "r.3") == 1


def test_delivery_claims_once_and_duplicates_are_acknowledged(clock) -> None:
    """Given a due timer, when its message arrives three times, the handler runs once."""
    due = clock.t
    timers.schedule(PROBE, "r.4", due)

    outcomes = [timers.deliver(body(PROBE, "r.4", due)) for _ in range(3)]

    assert outcomes == ["fired", "duplicate", "duplicate"]
    assert timers.get(PROBE, "r.4").state == timers.FIRED
    assert [p.executions for p in models.probes("r")] == [1]


def test_early_delivery_is_redelayed_not_fired(clock) -> None:
    """Given a timer due in 10 minutes, when a message for it arrives now, it is re-sent, not fired."""
    due = clock.t + 600
    timers.schedule(PROBE, "r.5", due)

    assert timers.deliver(body(PROBE, "r.5", due)) == "redelayed"
    assert timers.get(PROBE, "r.5").state == timers.PENDING


def test_moved_timer_ignores_the_old_message(clock) -> None:
    """Given a timer moved to a later time, when the old message arrives, it does not fire."""
    old, new = clock.t, clock.t + 60
    timers.schedule(PROBE, "r.6", old)
    timers.schedule(PROBE, "r.6", new)

    assert timers.deliver(body(PROBE, "r.6", old)) == "duplicate"
    clock.advance(60)
    assert timers.deliver(body(PROBE, "r.6", new)) == "fired"


def test_cancelled_timer_never_fires_and_can_be_rearmed(clock) -> None:
    """Given a cancelled timer, its message is a no-op; scheduling it again re-arms it."""
    due = clock.t
    timers.schedule(PROBE, "r.7", due)
    assert timers.cancel(PROBE, "r.7") is True
    assert timers.cancel(PROBE, "r.7") is False

    assert timers.deliver(body(PROBE, "r.7", due)) == "duplicate"
    assert timers.schedule(PROBE, "r.7", due) is True
    assert timers.deliver(body(PROBE, "r.7", due)) == "fired"


def test_cancel_removes_the_scheduler_schedule(clock) -> None:
    """Given a far timer on Scheduler, when cancelled, its schedule is deleted."""
    timers.schedule(PROBE, "r.8", clock.t + 7200)
    timers.cancel(PROBE, "r.8")
    names = [
        s["Name"]
        for s in client("scheduler").list_schedules(GroupName=get_settings().scheduler_group)["Schedules"]
    ]
    assert timers.schedule_name(timers.timer_id(PROBE, "r.8")) not in names


def test_failing_handler_releases_the_timer_then_fails_it_after_max_attempts(clock) -> None:
    """Given a handler that always raises, each delivery retries; after the last attempt it is failed."""
    due = clock.t
    timers.schedule(PROBE, "r.9", due, {"fail_times": 99})
    for attempt in range(1, get_settings().timer_max_attempts + 1):
        with pytest.raises(RuntimeError):
            timers.deliver(body(PROBE, "r.9", due))
        expected = timers.FAILED if attempt == get_settings().timer_max_attempts else timers.PENDING
        assert timers.get(PROBE, "r.9").state == expected
    assert "probe asked to fail" in timers.get(PROBE, "r.9").last_error


def test_a_failed_timer_fires_when_redriven(clock) -> None:
    """Given a timer that failed once, when its message comes back, it fires."""
    due = clock.t
    timers.schedule(PROBE, "r.10", due, {"fail_times": 1})
    with pytest.raises(RuntimeError):
        timers.deliver(body(PROBE, "r.10", due))
    assert timers.deliver(body(PROBE, "r.10", due)) == "fired"
    assert timers.get(PROBE, "r.10").attempts == 2


def test_sweeper_resends_overdue_timers_only(clock) -> None:
    """Given one timer overdue past the grace and one not yet due, the sweeper re-sends only the first."""
    timers.schedule(PROBE, "r.11", clock.t)
    timers.schedule(PROBE, "r.12", clock.t + 3600)
    drain()
    clock.advance(get_settings().timer_sweep_grace_seconds + 1)

    resent = timers.sweep()

    # The table and queue are shared: other tests' timers may show up too; this test's are exact.
    ids = [json.loads(b)["id"] for b in drain()]
    assert resent >= 1 and ids.count(timers.timer_id(PROBE, "r.11")) == 1
    assert timers.timer_id(PROBE, "r.11") in ids and timers.timer_id(PROBE, "r.12") not in ids


def test_sweeper_resends_a_late_timer_once_per_grace_not_on_every_sweep(clock) -> None:
    """Given a timer overdue because its consumers are behind (its message is still queued), when
    the sweeper runs again before another grace has passed, it does not re-send it again; once
    another grace has passed with the timer still unclaimed, it does."""
    grace = get_settings().timer_sweep_grace_seconds
    timers.schedule(PROBE, "r.15", clock.t)
    drain()
    tid = timers.timer_id(PROBE, "r.15")

    clock.advance(grace + 1)
    timers.sweep()
    clock.advance(grace / 2)
    timers.sweep()
    first = [json.loads(b)["id"] for b in drain()].count(tid)

    clock.advance(grace / 2 + 1)
    timers.sweep()
    later = [json.loads(b)["id"] for b in drain()].count(tid)

    assert (first, later) == (1, 1)


def test_sweeper_reclaims_a_timer_whose_consumer_died(clock) -> None:
    """Given a timer claimed by a consumer that died (lease expired), the sweeper fires it again."""
    due = clock.t
    timers.schedule(PROBE, "r.13", due)
    timers.TimerItem(timers.timer_id(PROBE, "r.13")).update(
        actions=[
            timers.TimerItem.state.set(timers.FIRING),
            timers.TimerItem.lease_until.set(clock.t + 5),
            timers.TimerItem.sweep_at.set(clock.t + 5),
        ]
    )
    assert timers.deliver(body(PROBE, "r.13", due)) == "duplicate"  # lease still held
    clock.advance(5 + get_settings().timer_sweep_grace_seconds + 1)

    assert timers.sweep() >= 1  # this timer's, and any other test's left overdue on the shared table
    assert timers.deliver(body(PROBE, "r.13", due)) == "fired"


def test_naive_datetime_is_refused() -> None:
    """Given a due time without a timezone, scheduling refuses it."""
    from datetime import datetime

    with pytest.raises(ValueError, match="timezone"):
        timers.schedule(PROBE, "r.14", datetime(2030, 1, 1))


def test_unknown_kind_is_refused(clock) -> None:
    with pytest.raises(ValueError, match="no handler"):
        timers.schedule("nope.kind", "x", clock.t)


def test_sqs_handler_reports_partial_batch_failures(api: Client, clock) -> None:
    """Given a batch with one good and one failing timer, only the failing one is reported."""
    due = clock.t
    timers.schedule(PROBE, "r.15", due)
    timers.schedule(PROBE, "r.16", due, {"fail_times": 1})
    messages = [
        {"MessageId": f"m-{n}", "ReceiptHandle": "not-a-real-handle", "Body": body(PROBE, key, due)}
        for n, key in enumerate(("r.15", "r.16"))
    ]
    event = sqs_event(messages, queue_arn(get_settings().timers_queue), get_settings().region)

    result = api.lambda_.invoke("timers_due", event).payload

    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert timers.get(PROBE, "r.15").state == timers.FIRED
    assert timers.get(PROBE, "r.16").state == timers.PENDING
