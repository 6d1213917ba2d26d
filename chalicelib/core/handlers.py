"""The spine's event entry points: the timers queue consumer and the per-minute sweeper."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint

from chalicelib.core import outbox, timers
from chalicelib.core.config import get_settings
from chalicelib.core.observability import flush_metrics
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


@blueprint.schedule("rate(1 minute)")
def timers_sweep(event: Any) -> dict[str, int]:
    """Backstop: fire pending timers whose message was lost, and publish the events a crashed
    writer left in the outbox."""
    try:
        return {"resent": timers.sweep(), "events": outbox.sweep()}
    finally:
        flush_metrics()
