"""Refused M-Pesa callbacks, kept for the operator (they changed nothing)."""

from __future__ import annotations

from chalicelib.core import clock, ids
from chalicelib.hotspot.models.items import RejectedCallback, rejected_day, rejected_key

RETENTION_SECONDS = 30 * 86400


def reject(reason: str, body: str | None, checkout_request_id: str | None, source_ip: str | None) -> None:
    """Keep a refused callback (truncated, 30 days)."""
    now = clock.now()
    RejectedCallback(
        *rejected_key(now, ids.new_id()),
        reason=reason,
        checkout_request_id=checkout_request_id,
        source_ip=source_ip,
        body=(body or "")[:2000],
        created_at=now,
        expires_at=int(now + RETENTION_SECONDS),
    ).save()


def rejected(day: str) -> list[RejectedCallback]:
    """One UTC day's refused callbacks (``YYYY-MM-DD``), newest first."""
    return list(RejectedCallback.query(rejected_day(day), scan_index_forward=False))
