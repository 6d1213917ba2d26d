"""The spine's event entry points: the timers queue consumer and the sweeper."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint

from chalicelib.core import health, outbox, timers
from chalicelib.core.config import get_settings
from chalicelib.core.observability import MetricUnit, flush_metrics, metrics
from chalicelib.core.queues import process_batch

blueprint = Blueprint(__name__)
settings = get_settings()


@blueprint.on_sqs_message(queue=settings.timers_queue, batch_size=10, maximum_concurrency=50)
def timers_due(event: Any) -> dict[str, Any]:
    """Timers whose delay ran out (SQS), that Scheduler dropped off, or that the sweeper re-sent."""

    def handle(record: SQSRecord) -> str:
        return timers.deliver(record.body)

    try:
        # Side by side: each record waits out its own last second without holding up the others.
        return process_batch(event.to_dict(), handle, backoff=(5, 15, 30, 60, 120), concurrent=True)
    finally:
        flush_metrics()


SWEEP_RATE_SECONDS = 60  # EventBridge's shortest rate


@blueprint.schedule("rate(1 minute)")
def timers_sweep(event: Any) -> dict[str, int]:
    """Backstop: fire pending timers whose message was lost, and publish the events a crashed
    writer left in the outbox.

    Sweeps every ``timer_sweep_interval_seconds`` (30 s: twice per invocation, the second after
    a wait; the Lambda's timeout allows it), so a lost timer fires at most grace + interval
    after due. Each round records the sweeper's heartbeat (``/health``). A round is skipped
    when the invocation (its Lambda context, or the local runtime's period) could not finish it.
    """
    interval = get_settings().timer_sweep_interval_seconds
    context = getattr(event, "context", None)
    budget = context.get_remaining_time_in_millis() / 1000 if context is not None else 0.0
    started = time.monotonic()
    totals: Counter[str] = Counter()
    rounds = 0
    try:
        while True:
            totals.update({"resent": timers.sweep(), "events": outbox.sweep()})
            rounds += 1
            health.beat(health.SWEEPER, rounds=rounds, **totals)
            next_round = rounds * interval
            if next_round >= SWEEP_RATE_SECONDS or next_round + interval / 2 > budget:
                metrics.add_metric(name="TimersResent", unit=MetricUnit.Count, value=totals["resent"])
                return {**totals, "rounds": rounds}
            time.sleep(max(0.0, started + next_round - time.monotonic()))
    finally:
        flush_metrics()
