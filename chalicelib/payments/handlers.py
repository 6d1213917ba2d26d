"""Payments event handlers: the payments worker (SQS ``payments``) and the periodic STK query
of pending pushes."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint

from chalicelib.core.config import get_settings
from chalicelib.core.observability import flush_metrics, logger
from chalicelib.core.queues import process_batch
from chalicelib.payments.service import recovery, worker

blueprint = Blueprint(__name__)

# The old system's numbers: 4 payment workers, 3 tries with 10/30/60 s backoff, then the DLQ
# (the queue's maxReceiveCount is 3).
PAYMENT_BACKOFF = (10, 30, 60)
RATE_SECONDS = 60  # EventBridge's shortest rate


@blueprint.on_sqs_message(queue=get_settings().name("payments"), batch_size=10, maximum_concurrency=4)
def payments(event: Any) -> dict[str, Any]:
    """Daraja results that could not be settled where they arrived."""

    def handle(record: SQSRecord) -> str:
        job = json.loads(record.body)
        logger.thread_safe_append_keys(checkout_request_id=job.get("checkout_request_id"))
        return worker.process(job)

    try:
        return process_batch(event.to_dict(), handle, backoff=PAYMENT_BACKOFF, concurrent=True)
    finally:
        flush_metrics()


@blueprint.schedule("rate(1 minute)")
def payments_query_pending(event: Any) -> dict[str, int]:
    """Pushes with no result yet whose STK query is due (rounds ``timer_sweep_interval_seconds``
    apart within the minute, like the timers' sweeper, so a query is at most that late)."""
    interval = get_settings().timer_sweep_interval_seconds
    context = getattr(event, "context", None)
    budget = context.get_remaining_time_in_millis() / 1000 if context is not None else 0.0
    started = time.monotonic()
    totals: Counter[str] = Counter()
    rounds = 0
    try:
        while True:
            totals.update(recovery.run())
            rounds += 1
            next_round = rounds * interval
            if next_round >= RATE_SECONDS or next_round + interval / 2 > budget:
                return {**totals, "rounds": rounds}
            time.sleep(max(0.0, started + next_round - time.monotonic()))
    finally:
        flush_metrics()
