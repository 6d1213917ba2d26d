"""SQS consumers: partial batch responses, per-attempt backoff, and a record of every failure.

Each record is handled on its own (Powertools ``BatchProcessor``); a failed record is reported in
``batchItemFailures`` so only it returns to the queue, its visibility timeout set from the
queue's backoff schedule, and its error kept so ``muda failed list`` can show why it died.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.core import clock
from chalicelib.core.aws import client, queue_url
from chalicelib.core.db import MudaModel
from chalicelib.core.observability import logger

FAILURE_RETENTION_SECONDS = 14 * 24 * 3600  # as long as a DLQ keeps its messages


class FailedAttempt(MudaModel):
    """The last error of a message that failed, keyed by queue and SQS message id."""

    table = "ops"
    pk = UnicodeAttribute(hash_key=True)  # FAILED#<queue>
    sk = UnicodeAttribute(range_key=True)  # <message id>
    error = UnicodeAttribute()
    attempts = NumberAttribute()
    failed_at = NumberAttribute()
    expires_at = NumberAttribute()


def queue_name(record: SQSRecord) -> str:
    return record.event_source_arn.rsplit(":", 1)[-1]


def last_errors(queue: str) -> dict[str, FailedAttempt]:
    return {item.sk: item for item in FailedAttempt.query(f"FAILED#{queue}")}


def _record_failure(record: SQSRecord, error: BaseException, attempts: int) -> None:
    now = clock.now()
    FailedAttempt(
        pk=f"FAILED#{queue_name(record)}",
        sk=record.message_id,
        error="".join(traceback.format_exception_only(error)).strip()[:2000],
        attempts=attempts,
        failed_at=now,
        expires_at=int(now + FAILURE_RETENTION_SECONDS),
    ).save()


def _back_off(record: SQSRecord, delays: Sequence[int], attempts: int) -> None:
    delay = delays[min(attempts, len(delays)) - 1]
    client("sqs").change_message_visibility(
        QueueUrl=queue_url(queue_name(record)), ReceiptHandle=record.receipt_handle, VisibilityTimeout=delay
    )


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
        try:
            return handle(record)
        except Exception as error:
            attempts = int(record.attributes.approximate_receive_count or 1)
            logger.exception(
                "message failed", extra={"queue": queue_name(record), "message_id": record.message_id}
            )
            try:
                _record_failure(record, error, attempts)
                if backoff:
                    _back_off(record, backoff, attempts)
            except Exception:  # bookkeeping must never hide the original failure
                logger.exception("could not record failure")
            raise
        finally:
            logger.thread_safe_clear_keys()  # a record's keys never label the next one's lines

    records = len(event.get("Records", []))
    processor = (
        _ConcurrentBatchProcessor(workers=records)
        if concurrent and records > 1
        else BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    )
    return process_partial_response(event=event, record_handler=run, processor=processor)
