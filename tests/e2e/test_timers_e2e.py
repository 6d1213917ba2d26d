"""Timers on the local stack as `make run` starts it: on time, exactly once, through loss and crash."""

from __future__ import annotations

import random

import pytest
import requests

from chalicelib.core import clock, events, timers
from chalicelib.core.auth import dev_token
from chalicelib.core.aws import client, queue_url
from chalicelib.core.config import get_settings
from chalicelib.ops import models
from chalicelib.ops.handlers import PROBE
from infra.local.stack import LocalStack
from tests.helpers import eventually

pytestmark = pytest.mark.e2e


def schedule_probes(run: str, offsets: list[float]) -> None:
    """Schedule probe timers due ``offset`` seconds after each one is scheduled."""
    for n, offset in enumerate(offsets):
        assert timers.schedule(PROBE, models.probe_key(run, n), clock.now() + offset)


def all_fired(run: str, count: int, timeout: float = 60) -> list[models.ProbeItem]:
    return eventually(
        lambda: (p := models.probes(run)) and len(p) == count and p, timeout, 1.0, f"{count} probes of {run}"
    )


def test_200_timers_each_fire_once_near_their_due_time(stack: LocalStack) -> None:
    """Given 200 timers due 1-8 s out (those past 3 s via EventBridge Scheduler), each fires once, on time."""
    rng = random.Random(7)
    schedule_probes("e2e200", [rng.uniform(1, 8) for _ in range(200)])
    via = {timers.get(PROBE, models.probe_key("e2e200", n)).via for n in range(0, 200, 7)}
    assert via == {"sqs", "scheduler"}

    fired = all_fired("e2e200", 200)

    assert [p.executions for p in fired] == [1] * 200
    lateness = sorted(p.first_fired_at - p.due_at for p in fired)
    assert lateness[0] >= -0.05, "a timer fired early"
    assert lateness[-1] < 1.0, f"lateness max {lateness[-1]:.3f}s (p50 {lateness[100]:.3f}s)"


def test_timer_whose_message_is_deleted_fires_by_the_sweeper(stack: LocalStack) -> None:
    """Given a pending timer whose SQS message is deleted by hand, the sweeper fires it (once)."""
    stack.kill_runtime()
    schedule_probes("e2elost", [1])
    client("sqs").purge_queue(QueueUrl=queue_url(get_settings().timers_queue))
    stack.start_runtime()

    fired = all_fired("e2elost", 1, timeout=30)

    assert fired[0].executions == 1
    assert fired[0].first_fired_at - fired[0].due_at >= get_settings().timer_sweep_grace_seconds


def test_runtime_killed_while_timers_are_pending_loses_and_doubles_nothing(stack: LocalStack) -> None:
    """Given 60 timers pending on the queue, when the runtime is SIGKILLed and restarted, each runs once."""
    schedule_probes("e2epend", [3 + n * 0.05 for n in range(60)])
    stack.kill_runtime()
    stack.start_runtime()

    fired = all_fired("e2epend", 60)

    assert [p.executions for p in fired] == [1] * 60


def test_runtime_killed_mid_flight_loses_nothing(stack: LocalStack) -> None:
    """Given 60 timers, when the runtime is SIGKILLed as they fire and restarted, every one takes
    effect once; only a handler caught mid-run by the kill runs again (its lease expired), which
    is why handlers write their effects conditionally."""
    schedule_probes("e2ekill", [1 + n * 0.05 for n in range(60)])
    eventually(lambda: len(models.probes("e2ekill")) >= 5, 20, 0.05, "some timers firing")
    stack.kill_runtime()
    stack.start_runtime()

    fired = all_fired("e2ekill", 60)

    assert all(p.first_fired_at >= p.due_at for p in fired)
    reruns = [p.sk for p in fired if p.executions > 1]
    assert all(p.executions <= 2 for p in fired), reruns
    assert len(reruns) <= 20, f"more re-runs than one batch of in-flight handlers: {reruns}"


def test_domain_events_reach_the_admin_feed(stack: LocalStack) -> None:
    """Given an event put on the bus, the rule delivers it to the event log, shown by /admin/events."""
    events.publish("ops", "ProbePublished", {"marker": "e2e-feed"})
    headers = {"Authorization": f"Bearer {dev_token('admin-1', ['admin'])}"}

    def feed() -> list[dict]:
        response = requests.get(
            f"{stack.api_url}/admin/events?type=ProbePublished", headers=headers, timeout=5
        )
        return [e for e in response.json()["events"] if e["detail"].get("marker") == "e2e-feed"]

    (event,) = eventually(feed, 20, 0.2, "event in the feed")
    assert event["source"] == "muda.ops"


def test_health_over_http(stack: LocalStack) -> None:
    response = requests.get(f"{stack.api_url}/health", timeout=5)
    assert response.status_code == 200 and response.json()["status"] == "ok"
