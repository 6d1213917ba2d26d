"""Queue operations: depths and ages, jobs still retrying, dead letters and their redrive (the
CLI's and the console's data)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalicelib.core import clock, health
from chalicelib.core.aws import client, queue_url
from chalicelib.core.config import get_settings
from chalicelib.core.queues import FailedAttempt, failed_key, last_errors, queue_policy
from chalicelib.ops.logic import QueueDepth, retrying

# A retry record whose next try was due this long ago, and that no later try replaced or
# cleared, is not shown (its job ended without its clean-up: a crash mid-way).
RETRY_GRACE_SECONDS = 15 * 60

_DEPTH_ATTRS = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    message_id: str
    body: str
    receive_count: int
    error: str
    failed_at: float | None = None


@dataclass(frozen=True)
class Retry:
    """A job on its second or later try: ``attempt`` tries failed so far, of ``max_attempts``."""

    queue: str
    message_id: str
    attempt: int
    max_attempts: int | None
    error: str
    failed_at: float
    next_try_at: float
    summary: str


def depths() -> list[QueueDepth]:
    sqs = client("sqs")
    ages = health.queue_ages()
    result = []
    for queue in get_settings().queues:
        attrs = sqs.get_queue_attributes(QueueUrl=queue_url(queue), AttributeNames=_DEPTH_ATTRS)["Attributes"]
        dlq = sqs.get_queue_attributes(QueueUrl=queue_url(f"{queue}-dlq"), AttributeNames=_DEPTH_ATTRS)[
            "Attributes"
        ]
        age = ages[queue].oldest_age_seconds if queue in ages else None
        result.append(QueueDepth.from_attributes(queue, attrs, dlq, age, queue_policy(queue)[0]))
    return result


def retries(queue: str | None = None) -> list[Retry]:
    """Jobs still retrying, oldest failure first: recorded at each failed try
    (``core.queues.FailedAttempt``), cleared by a later success."""
    now = clock.now()
    found = []
    for name in [queue] if queue else get_settings().queues:
        for item in FailedAttempt.query(
            failed_key(name), filter_condition=FailedAttempt.next_try_at.exists()
        ):
            attempts = int(item.attempts)
            most = int(item.max_attempts) if item.max_attempts is not None else None
            next_try = float(item.next_try_at) if item.next_try_at is not None else None
            if next_try is None or not retrying(attempts, most, next_try, now, RETRY_GRACE_SECONDS):
                continue
            found.append(
                Retry(
                    name,
                    item.sk,
                    attempts,
                    most,
                    item.error,
                    float(item.failed_at),
                    next_try,
                    item.summary or "",
                )
            )
    return sorted(found, key=lambda r: r.failed_at)


def _dead_messages(queue: str) -> list[dict[str, Any]]:
    """Every message of ``queue``'s DLQ. Each read hides a message for a while so the next read
    returns others; all are made visible again before returning (listing consumes nothing)."""
    sqs = client("sqs")
    url = queue_url(f"{queue}-dlq")
    found: dict[str, dict[str, Any]] = {}
    while True:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, AttributeNames=["All"]
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in found]
        if not fresh:
            break
        found.update((m["MessageId"], m) for m in fresh)
    return list(found.values())


def _release(queue: str, messages: list[dict[str, Any]]) -> None:
    url = queue_url(f"{queue}-dlq")
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages[start : start + 10])
        ]
        client("sqs").change_message_visibility_batch(QueueUrl=url, Entries=entries)


def dead_letters(queue: str | None = None) -> list[DeadLetter]:
    """Dead letters with the last error their handler raised (read without consuming them)."""
    result = []
    for name in [queue] if queue else get_settings().queues:
        errors = last_errors(name)
        messages = _dead_messages(name)
        _release(name, messages)
        for message in messages:
            failure = errors.get(message["MessageId"])
            result.append(
                DeadLetter(
                    name,
                    message["MessageId"],
                    message["Body"],
                    int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
                    failure.error if failure else "",
                    float(failure.failed_at) if failure else None,
                )
            )
    return result


def redrive(message_id: str | None = None, queue: str | None = None) -> int:
    """Move dead letters (all, or the one with ``message_id``) back to their queue."""
    sqs = client("sqs")
    moved = 0
    for name in [queue] if queue else get_settings().queues:
        kept = []
        for message in _dead_messages(name):
            if message_id and message["MessageId"] != message_id:
                kept.append(message)
                continue
            sqs.send_message(QueueUrl=queue_url(name), MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=queue_url(f"{name}-dlq"), ReceiptHandle=message["ReceiptHandle"])
            moved += 1
        _release(name, kept)
    return moved


def describe_body(body: str, width: int = 60) -> str:
    try:
        text = json.dumps(json.loads(body), separators=(",", ":"))
    except ValueError:
        text = body
    return text if len(text) <= width else text[: width - 1] + "…"
