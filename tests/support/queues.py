"""Queues on in-process moto: drain one, see what it holds (delayed messages too), feed a handler.

``sqs_event`` is the one SQS event builder (the local runtime's, re-exported): tests build the
event Lambda's SQS event source would pass, never a hand-made or Chalice-generated one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalicelib.core.aws import client, queue_arn, queue_url
from chalicelib.core.config import get_settings
from infra.local.runtime import LambdaContext, sqs_event

__all__ = ["LambdaContext", "bodies", "drain", "held", "invoke", "receive", "sqs_event"]


def _full_name(queue: str) -> str:
    """``payments`` -> ``muda-test-payments``; a full name is kept."""
    prefix = get_settings().prefix + "-"
    return queue if queue.startswith(prefix) else get_settings().name(queue)


def drain(queue: str, visibility_timeout: int | None = None) -> list[dict[str, Any]]:
    """Receive and delete every message visible now on ``queue`` (short or full name); the
    messages, attributes included. Delayed or in-flight messages stay where they are."""
    sqs, url = client("sqs"), queue_url(_full_name(queue))
    extra = {} if visibility_timeout is None else {"VisibilityTimeout": visibility_timeout}
    out: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            **extra,
        ).get("Messages", [])
        if not messages:
            return out
        out.extend(messages)
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def bodies(queue: str) -> list[Any]:
    """``drain`` and parse each body as JSON (the raw text if it is not JSON)."""
    out = []
    for m in drain(queue):
        try:
            out.append(json.loads(m["Body"]))
        except ValueError:
            out.append(m["Body"])
    return out


def held(queue: str) -> list[str]:
    """Every body moto holds on ``queue`` right now (visible, in flight or delayed), unconsumed.

    Reads moto's in-process backend: SQS has no API to peek at delayed messages, and a test
    that arms a timer wants to see the message it armed, not a queue-wide count that other
    tests sharing the stack move.
    """
    from moto.sqs.models import sqs_backends

    settings = get_settings()
    account = queue_arn(_full_name(queue)).split(":")[4]
    backend = sqs_backends[account][settings.region]
    return [m.body for m in backend.queues[_full_name(queue)]._messages]


def invoke(
    handler: Callable[[dict[str, Any], Any], Any], queue: str, messages: list[dict[str, Any]]
) -> dict[str, Any]:
    """One Lambda invocation as the SQS event source makes it: build the event from received
    messages, call ``handler(event, context)``, delete the records it did not report as failed
    (those come back after their visibility timeout). Returns the handler's report."""
    name = _full_name(queue)
    url = queue_url(name)
    result = handler(sqs_event(messages, queue_arn(name), get_settings().region), LambdaContext(name))
    report = result if isinstance(result, dict) else {}
    failed = {f["itemIdentifier"] for f in report.get("batchItemFailures", [])}
    for m in messages:
        if m["MessageId"] not in failed:
            client("sqs").delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return {"batchItemFailures": report.get("batchItemFailures", [])}


def receive(queue: str, max_messages: int = 10) -> list[dict[str, Any]]:
    """Receive what is visible now on ``queue`` (not deleted: ``invoke`` does that)."""
    return (
        client("sqs")
        .receive_message(
            QueueUrl=queue_url(_full_name(queue)),
            MaxNumberOfMessages=max_messages,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        .get("Messages", [])
    )
