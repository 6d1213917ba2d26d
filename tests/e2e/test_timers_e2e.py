"""Timers on the local stack as `make run` starts it: each fires once, a lost message is recovered
within the sweeper's stated bound, a runtime killed mid-flight loses nothing."""

from __future__ import annotations

import random

import pytest

from chalicelib.core import clock, events, timers
from chalicelib.core.aws import client, queue_url
from chalicelib.core.config import get_settings
from chalicelib.ops import models
from chalicelib.ops.handlers import PROBE
from infra.local.stack import LocalStack
from tests.e2e.conftest import WAIT, Http
from tests.support.ids import unique
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e

# What the stated bound leaves for the sweep's own query and one delivery after it: on AWS that
# is milliseconds of the 10 s between the bound (grace + interval = 50 s) and the promised minute.
ONE_SWEEP_AND_DELIVERY = 1.0


def schedule_probes(run: str, offsets: list[float]) -> None:
    """Schedule probe timers due ``offset`` seconds after each one is scheduled."""
    for n, offset in enumerate(offsets):
        assert timers.schedule(PROBE, models.probe_key(run, n), clock.now() + offset)


def all_fired(run: str, count: int) -> list[models.ProbeItem]:
    return eventually(
        lambda: (p := models.probes(run)) and len(p) == count and p, WAIT, 0.5, f"{count} probes of {run}"
    )


def test_timers_on_both_paths_each_fire_once_never_early(stack: LocalStack) -> None:
    """Given 100 timers due 1-7 s out (those past 3 s armed via EventBridge Scheduler), each
    fires exactly once, none before its due time."""
    run = unique("both")
    rng = random.Random(7)
    schedule_probes(run, [rng.uniform(1, 7) for _ in range(100)])
    via = {timers.get(PROBE, models.probe_key(run, n)).via for n in range(0, 100, 5)}
    assert via == {"sqs", "scheduler"}

    fired = all_fired(run, 100)

    assert [p.executions for p in fired] == [1] * 100
    assert min(p.first_fired_at - p.due_at for p in fired) >= -0.05, "a timer fired early"


def test_a_lost_message_fires_within_the_sweepers_bound(stack: LocalStack) -> None:
    """Given a pending timer whose only message is purged from the queue, the sweeper re-sends
    it: it fires once, no later than grace + sweep interval after due (the stated bound; the
    README's is 20 + 30 = 50 s), plus one sweep and one delivery."""
    settings = get_settings()
    run = unique("lost")
    schedule_probes(run, [2.5])
    client("sqs").purge_queue(QueueUrl=queue_url(settings.timers_queue))
    assert timers.get(PROBE, models.probe_key(run, 0)).via == "sqs"  # so the purge took its message

    (fired,) = all_fired(run, 1)

    lateness = fired.first_fired_at - fired.due_at
    bound = settings.timer_sweep_grace_seconds + settings.timer_sweep_interval_seconds
    assert fired.executions == 1
    assert settings.timer_sweep_grace_seconds <= lateness <= bound + ONE_SWEEP_AND_DELIVERY, lateness


def test_runtime_killed_mid_flight_loses_nothing(stack: LocalStack) -> None:
    """Given 60 timers due over 3 s, when the runtime is SIGKILLed as they fire, the stack restarts
    it and every one takes effect; only a handler caught mid-run by the kill runs again (its lease
    expired), which is why handlers write their effects conditionally."""
    run = unique("kill")
    schedule_probes(run, [1 + n * 0.05 for n in range(60)])
    eventually(lambda: len(models.probes(run)) >= 5, WAIT, 0.05, "some timers firing")
    stack.kill_runtime()

    fired = all_fired(run, 60)

    assert all(p.first_fired_at >= p.due_at - 0.05 for p in fired)
    reruns = [p.sk for p in fired if p.executions > 1]
    assert all(p.executions <= 2 for p in fired), reruns
    assert len(reruns) <= 20, f"more re-runs than one batch of in-flight handlers: {reruns}"


def test_domain_events_reach_the_admin_feed(stack: LocalStack, admin: Http) -> None:
    """Given an event put on the bus, the rule delivers it to the event log, shown by /admin/events."""
    marker = unique("feed")
    events.publish("ops", "ProbePublished", {"marker": marker})

    def feed() -> list[dict]:
        _, body = admin("GET", "/admin/events?type=ProbePublished&limit=200")
        return [e for e in body["events"] if e["detail"].get("marker") == marker]

    (event,) = eventually(feed, WAIT, 0.3, "event in the feed")
    assert event["source"] == "muda.ops"
