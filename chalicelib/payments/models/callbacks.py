"""The archive of refused M-Pesa callbacks, kept for the operator (they changed nothing)."""

from __future__ import annotations

from aws_lambda_powertools.metrics import single_metric

from chalicelib.core import clock, ids
from chalicelib.core.observability import SERVICE, MetricUnit
from chalicelib.payments.models.items import RejectedCallback, rejected_day, rejected_key

RETENTION_SECONDS = 30 * 86400


def reject(
    reason: str,
    body: str | None,
    checkout_request_id: str | None,
    source_ip: str | None,
    endpoint: str = "stk",
) -> None:
    """Keep a refused callback (truncated, 30 days), and count it at once (``CallbackRejected``:
    an alarm watches it; the API's handlers flush no metrics of their own)."""
    with single_metric(
        "CallbackRejected", MetricUnit.Count, 1, namespace="Muda", default_dimensions={"service": SERVICE}
    ):
        pass
    now = clock.now()
    RejectedCallback(
        *rejected_key(now, ids.new_id()),
        reason=reason,
        checkout_request_id=checkout_request_id,
        endpoint=endpoint,
        source_ip=source_ip,
        body=(body or "")[:2000],
        created_at=now,
        expires_at=int(now + RETENTION_SECONDS),
    ).save()


def rejected(day: str) -> list[RejectedCallback]:
    """One UTC day's refused callbacks (``YYYY-MM-DD``), newest first."""
    return list(RejectedCallback.query(rejected_day(day), scan_index_forward=False))
