"""Hotspot event handlers: the payment worker (SQS ``payments``) and the timer kinds
(STK query fallback, subscription expiry)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint

from chalicelib.core import timers
from chalicelib.core.config import get_settings
from chalicelib.core.observability import flush_metrics, logger
from chalicelib.core.queues import process_batch
from chalicelib.hotspot import service

blueprint = Blueprint(__name__)

# The old system's numbers: 4 payment workers, 3 tries with 10/30/60 s backoff, then the DLQ
# (the queue's maxReceiveCount is 3).
PAYMENT_BACKOFF = (10, 30, 60)


@blueprint.on_sqs_message(queue=get_settings().name("payments"), batch_size=10, maximum_concurrency=4)
def payments(event: Any) -> dict[str, Any]:
    """Daraja results (callbacks) to apply to their payments."""

    def handle(record: SQSRecord) -> str:
        job = json.loads(record.body)
        logger.thread_safe_append_keys(checkout_request_id=job.get("checkout_request_id"))
        return service.process_job(job)

    try:
        return process_batch(event.to_dict(), handle, backoff=PAYMENT_BACKOFF, concurrent=True)
    finally:
        flush_metrics()


@timers.handles(service.QUERY)
def stk_query_due(timer: timers.Timer) -> None:
    """No callback yet: ask Daraja for the push's result (~30 s, 60 s, 120 s, 5 min)."""
    service.query(timer.payload["checkout_request_id"], int(timer.payload["n"]))


@timers.handles(service.EXPIRE)
def subscription_due(timer: timers.Timer) -> None:
    """A subscription's access ends: expired, and its router user removed."""
    service.expire(timer.key)
