"""The payments worker: a queued result settled, and an unfinished claim waited out."""

from __future__ import annotations

from typing import Any

from chalicelib.payments import logic
from chalicelib.payments.models import payments
from chalicelib.payments.service import settlement


class FollowupsPending(RuntimeError):
    """The payment is paid but its follow-ups' claim is neither finished nor old enough to take
    over: the queue retries the job after its backoff (the takeover comes then)."""


def process(job: dict[str, Any]) -> str:
    if "c2b" in job:  # a C2B confirmation, settled again from its body (idempotent on TransID)
        from chalicelib.payments.service import c2b

        outcome = c2b.process_job(job)
    else:
        outcome = settlement.process_job(job)
    if outcome == "duplicate":
        payment = payments.get(job["checkout_request_id"])
        if payment is not None and payment.status == logic.PAID and payment.followups_at is None:
            raise FollowupsPending(f"follow-ups of {payment.payment_id} not finished yet")
    return outcome
