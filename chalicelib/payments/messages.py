"""The payments domain's work messages: a job for the payments worker (a result to settle that
could not be settled where it arrived)."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.core.aws import client, queue_url
from chalicelib.core.config import get_settings


def payment_job(job: dict[str, Any]) -> None:
    client("sqs").send_message(
        QueueUrl=queue_url(get_settings().name("payments")), MessageBody=json.dumps(job)
    )
