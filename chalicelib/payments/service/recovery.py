"""Missing results: one periodic query of the pending pushes (instead of timers per payment) and
of the payouts with no result (``b2c.query_unsettled``).

A pushed payment carries the time of its next STK query on a sparse index (written with the
payment, so arming it costs nothing); settling takes it off. Each round reads the due ones (one
Query per shard) and asks Daraja: a final answer is settled like a callback (the conditional
writes decide between a late callback and the query); "still processing" moves the payment to
its next query time; after the last, it is given up (``no_result``), which a late callback still
overrides.
"""

from __future__ import annotations

from collections import Counter

from chalicelib.core import clock
from chalicelib.core.observability import logger
from chalicelib.integrations.mpesa import DarajaError
from chalicelib.payments import daraja, logic
from chalicelib.payments.models import payments
from chalicelib.payments.models.items import PaymentItem
from chalicelib.payments.service import b2c, settlement
from chalicelib.payments.settings import payments_settings


def run(now: float | None = None) -> Counter[str]:
    """One round over every pending push whose query is due; what happened, counted."""
    now = clock.now() if now is None else now
    done: Counter[str] = Counter()
    for payment in payments.due_for_query(now):
        try:
            done[query(payment)] += 1
        except Exception:  # one payment's trouble never stops the round; it stays due
            logger.exception("STK query failed", extra={"checkout_request_id": payment.checkout_request_id})
            done["error"] += 1
    done.update(b2c.query_unsettled(now))  # payouts with no result: the status query
    return done


def query(payment: PaymentItem) -> str:
    """Ask Daraja for one pending push's result and act on it."""
    if payment.status != logic.PENDING:
        return "settled"
    n = int(payment.query_n or 0)
    cid = payment.checkout_request_id
    try:
        answer = daraja.client().query(cid)
    except DarajaError as error:
        if error.retryable and _again(payment, n):
            logger.warning("STK query failed; asking again later", extra={"error": str(error)})
            return "retry"
        if error.retryable:
            raise
        answer = None
        logger.warning("STK query refused", extra={"error": str(error), "checkout_request_id": cid})
    if answer is None:  # still processing
        if _again(payment, n):
            return "processing"
        settlement.fail(
            payment, logic.no_result(), logic.Settlement("no_result", "no answer from M-Pesa", "query")
        )
        return "no_result"
    return settlement.settle(cid, answer.result_code, answer.result_desc, None, None, "query", payment)


def _again(payment: PaymentItem, n: int) -> bool:
    """Move the payment to its next query time; ``False`` after the last one."""
    at = logic.query_at(float(payment.created_at), n + 1, payments_settings().query_after_seconds)
    if at is None:
        return False
    payments.next_query(payment, n, max(at, clock.now()))
    return True
