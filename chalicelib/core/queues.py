"""SQS consumers: partial batch responses, per-attempt backoff, and a record of every failed try.

Each record is handled on its own (Powertools ``BatchProcessor``); a failed record is reported in
``batchItemFailures`` so only it returns to the queue, its visibility timeout set from the
queue's backoff schedule.

Every failed try is recorded as it happens (one conditional put of ``FAILED#<queue>/<message
id>``: try n of N, the error, when the next try is due), so the console's *retries* shows a job
that is still retrying and ``muda failed list`` shows why a dead letter died. A success costs
nothing, except after a failed try (receive count > 1): then the record is deleted, so the job
leaves the retries at once. The router provisioner (``functions/router_provisioner/store.py``)
writes the same item with boto3.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.core import clock
from chalicelib.core.aws import client, queue_url
from chalicelib.core.db import MudaModel, put_if
from chalicelib.core.observability import MetricUnit, logger, metrics

FAILURE_RETENTION_SECONDS = 14 * 24 * 3600  # as long as a DLQ keeps its messages


class FailedAttempt(MudaModel):
    """The last failed try of a message, keyed by queue and SQS message id: still retrying while
    ``attempts < max_attempts`` (``next_try_at`` set), dead (in the DLQ) after the last."""

    table = "ops"
    pk = UnicodeAttribute(hash_key=True)  # FAILED#<queue>
    sk = UnicodeAttribute(range_key=True)  # <message id>
    error = UnicodeAttribute()
    attempts = NumberAttribute()
    max_attempts = NumberAttribute(null=True)
    next_try_at = NumberAttribute(null=True)  # None: no further try (dead)
    summary = UnicodeAttribute(null=True)  # what the job is, for people
    failed_at = NumberAttribute()
    expires_at = NumberAttribute()


def failed_key(queue: str) -> str:
    return f"FAILED#{queue}"


def queue_name(record: SQSRecord) -> str:
    return record.event_source_arn.rsplit(":", 1)[-1]


def last_errors(queue: str) -> dict[str, FailedAttempt]:
    return {item.sk: item for item in FailedAttempt.query(failed_key(queue))}


@cache
def queue_policy(queue: str) -> tuple[int | None, int]:
    """(tries before the DLQ, visibility timeout) of a queue, read once per process."""
    attrs = client("sqs").get_queue_attributes(
        QueueUrl=queue_url(queue), AttributeNames=["RedrivePolicy", "VisibilityTimeout"]
    )["Attributes"]
    policy = json.loads(attrs.get("RedrivePolicy") or "{}")
    tries = policy.get("maxReceiveCount")
    return (int(tries) if tries else None), int(attrs.get("VisibilityTimeout", 30))


def _summary(body: str, width: int = 120) -> str:
    text = " ".join(body.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _record_failure(record: SQSRecord, error: BaseException, attempts: int, delay: float | None) -> None:
    """One conditional put: a late write of an earlier try never overwrites a later one."""
    now = clock.now()
    queue = queue_name(record)
    max_attempts, visibility = queue_policy(queue)
    last = max_attempts is not None and attempts >= max_attempts
    item = FailedAttempt(
        pk=failed_key(queue),
        sk=record.message_id,
        error="".join(traceback.format_exception_only(error)).strip()[:2000],
        attempts=attempts,
        max_attempts=max_attempts,
        next_try_at=None if last else now + (visibility if delay is None else delay),
        summary=_summary(record.body),
        failed_at=now,
        expires_at=int(now + FAILURE_RETENTION_SECONDS),
    )
    put_if(item, FailedAttempt.sk.does_not_exist() | (FailedAttempt.attempts <= attempts))


def _record_success(record: SQSRecord) -> None:
    """Done after a failed try: it is no longer retrying (a first-try success writes nothing)."""
    FailedAttempt(failed_key(queue_name(record)), record.message_id).delete()


def _attempt(record: SQSRecord) -> int:
    """This try's number (1-based: SQS's receive count; 1 when the event does not say)."""
    count = (record.raw_event.get("attributes") or {}).get("ApproximateReceiveCount")
    return int(count) if count else 1


def _back_off(record: SQSRecord, delays: Sequence[int], attempts: int) -> int:
    delay = delays[min(attempts, len(delays)) - 1]
    client("sqs").change_message_visibility(
        QueueUrl=queue_url(queue_name(record)), ReceiptHandle=record.receipt_handle, VisibilityTimeout=delay
    )
    return delay


class _ConcurrentBatchProcessor(BatchProcessor):
    """Powertools' processor with the records of a batch handled side by side, for handlers that
    wait on a clock (a timer due in 0.4 s must not queue behind nine others)."""

    def __init__(self, workers: int) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self.workers = workers

    def process(self) -> list[tuple]:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(self._process_record, self.records))


def process_batch(
    event: dict[str, Any],
    handle: Callable[[SQSRecord], Any],
    *,
    backoff: Sequence[int] = (10, 30, 60),
    concurrent: bool = False,
) -> dict[str, Any]:
    """Run ``handle`` on every record (one after another, or side by side when ``concurrent``);
    return the partial batch response Lambda expects."""

    def run(record: SQSRecord) -> Any:
        logger.thread_safe_append_keys(message_id=record.message_id)
        attempts = _attempt(record)
        try:
            result = handle(record)
        except Exception as error:
            logger.exception(
                "message failed",
                extra={"queue": queue_name(record), "message_id": record.message_id, "attempt": attempts},
            )
            try:
                metrics.add_metric(name="JobFailedTries", unit=MetricUnit.Count, value=1)
                delay = _back_off(record, backoff, attempts) if backoff else None
                _record_failure(record, error, attempts, delay)
            except Exception:  # bookkeeping must never hide the original failure
                logger.exception("could not record failure")
            raise
        else:
            if attempts > 1:
                try:
                    _record_success(record)
                except Exception:  # the record then ages out of the retries view
                    logger.exception("could not clear the failed try")
            return result
        finally:
            logger.thread_safe_clear_keys()  # a record's keys never label the next one's lines

    records = len(event.get("Records", []))
    processor = (
        _ConcurrentBatchProcessor(workers=records)
        if concurrent and records > 1
        else BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    )
    return process_partial_response(event=event, record_handler=run, processor=processor)
