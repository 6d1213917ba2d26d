"""Operations entry points: the probe timer kind and the domain event log."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint

from chalicelib.core import timers
from chalicelib.core.config import get_settings
from chalicelib.core.observability import logger
from chalicelib.core.queues import process_batch
from chalicelib.ops import models

blueprint = Blueprint(__name__)

PROBE = "ops.probe"


@timers.handles(PROBE)
def probe_fired(timer: timers.Timer) -> None:
    """A self-test timer: records each firing on its own item, so "fired exactly once, on time"
    can be read back (e2e tests, ``bench/timers.py``, ``muda timers probe``)."""
    models.record_probe_fire(timer.key, timer.due_at)
    if timer.payload.get("fail_times", 0) >= timer.attempt:
        raise RuntimeError(f"probe asked to fail attempt {timer.attempt}")


@blueprint.on_sqs_message(queue=get_settings().events_queue, batch_size=10)
def domain_events(event: Any) -> dict[str, Any]:
    """Every domain event on the bus, kept for the admin feed."""

    def handle(record: SQSRecord) -> None:
        envelope = json.loads(record.body)
        models.record_event(envelope)
        logger.info(
            "domain event", extra={"event": envelope.get("detail-type"), "source": envelope.get("source")}
        )

    return process_batch(event.to_dict(), handle)
