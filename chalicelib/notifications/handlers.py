"""The notifications consumer: every muda.* event arrives (EventBridge envelope, via the
``notifications`` queue); those naming ``detail.recipients`` become inbox items, once each."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint

from chalicelib.core import clock
from chalicelib.core.config import get_settings
from chalicelib.core.observability import logger
from chalicelib.core.queues import process_batch
from chalicelib.notifications import logic, models

blueprint = Blueprint(__name__)


def deliver(envelope: dict[str, Any]) -> int:
    """Store the event's inbox items; a redelivery stores nothing new. Returns how many were new."""
    stored = 0
    for d in logic.deliveries(envelope):
        stored += models.store(
            models.InboxItem(
                models.user_key(d.recipient),
                d.notification_id,
                event_id=d.event_id,
                event_type=d.event_type,
                source=d.source,
                message=d.message,
                detail=d.detail,
                occurred_at=d.occurred_at,
                read=False,
                expires_at=int(clock.now() + models.RETENTION_SECONDS),
            )
        )
    return stored


@blueprint.on_sqs_message(queue=get_settings().name("notifications"), batch_size=10)
def notifications_inbox(event: Any) -> dict[str, Any]:
    """Domain events addressed to users, into their inboxes."""

    def handle(record: SQSRecord) -> None:
        envelope = json.loads(record.body)
        stored = deliver(envelope)
        if stored:
            logger.info("notifications stored", extra={"event": envelope.get("detail-type"), "count": stored})

    return process_batch(event.to_dict(), handle)
