"""The settlement: one Daraja result applied to its payment, once, for any product.

A failure is one transaction (the payment and ``PaymentFailed`` through the outbox). A success
is one transaction across the payment, its receipt and the product's grant (its offer's writes);
the writer claims the follow-ups in it: the offer's (a router command, a timer), then
``PaymentProcessed`` published straight to the bus (idempotency key fixed per payment, so a
takeover's second publish is deduplicated by its consumers), then the claim marked done. A
duplicate finds the claim taken and does nothing; a delivery after a crash takes over what was
left after ``followup_grace_seconds``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core import clock, db, events
from chalicelib.core.observability import MetricUnit, logger, metrics
from chalicelib.payments import logic, offers
from chalicelib.payments.models import payments, receipts
from chalicelib.payments.models.items import PaymentItem
from chalicelib.payments.settings import payments_settings


class ReceiptReused(Exception):
    """The receipt already paid for another payment."""


class SettledMeanwhile(Exception):
    """Another worker settled the payment between our read and our write."""


def process_job(job: dict[str, Any]) -> str:
    """One job of the payments queue. It carries the payment as the callback saw it, which
    saves the worker a read; the writes' conditions still decide on the current state."""
    amount = job.get("amount")
    snapshot = PaymentItem.from_raw_data(job["payment"]) if job.get("payment") else None
    return settle(
        job["checkout_request_id"],
        str(job["result_code"]),
        job.get("result_desc") or "",
        Decimal(amount) if amount is not None else None,
        job.get("receipt"),
        job.get("source", "callback"),
        snapshot,
    )


def settle(
    checkout_request_id: str,
    result_code: str,
    result_desc: str,
    amount: Decimal | None,
    receipt: str | None,
    settled_by: str,
    snapshot: PaymentItem | None = None,
) -> str:
    """Apply one Daraja result to its payment, once. Returns what happened (for logs and tests).

    A grant that raced another write for the same buyer (or contention) is read and planned
    again, with ``db.retry_on_conflict``'s backoff."""
    settlement = logic.Settlement(result_code, result_desc, settled_by, receipt, amount)
    log = {"checkout_request_id": checkout_request_id, "result_code": result_code, "settled_by": settled_by}
    tries = 0

    def attempt() -> str:
        nonlocal snapshot, tries  # the first try trusts the caller's copy; a retry reads the payment
        payment, snapshot = snapshot or payments.get(checkout_request_id), None
        tries += 1
        if payment is None:
            logger.warning("result for unknown payment ignored", extra=log)
            return "unknown"
        log["payment_id"] = payment.payment_id
        if not payments.settleable(payment):
            return _resume_followups(payment)
        outcome = logic.judge(result_code, result_desc, amount, payment.price)
        if outcome.status != logic.PAID:
            return _fail(payment, outcome, settlement, log)
        try:
            granted = _grant(payment, settlement, fresh=tries > 1)
        except SettledMeanwhile:
            return _resume_followups(payments.get(checkout_request_id) or payment)
        except ReceiptReused:
            reused = logic.Outcome(logic.FAILED, "receipt_reused", logic.REASONS["receipt_reused"])
            return _fail(payment, reused, settlement, {**log, "receipt": receipt})
        logger.info("payment processed", extra={**log, "grant_id": payment.grant_id})
        metrics.add_metric(name="PaymentsProcessed", unit=MetricUnit.Count, value=1)
        _followups(payment, granted)
        return logic.PAID

    return db.retry_on_conflict(attempt)


def settle_held(checkout_request_id: str, quote: offers.Quote) -> str:
    """A held C2B payment (a Till payment, ``offers.ClaimLater``) settled for what its payer
    claimed: paid at its own amount, its TransID used as its receipt and the product's grant, in
    one transaction, then the follow-ups, as a confirmation with a reference would have been.
    ``paid``; ``duplicate``/``resumed`` when it was settled meanwhile; ``amount_mismatch`` when
    the quote's price is not what was paid; ``unknown``."""
    tries = 0

    def attempt() -> str:
        nonlocal tries
        tries += 1
        payment = payments.get(checkout_request_id)
        if payment is None:
            return "unknown"
        if payment.status != logic.HELD:
            return _resume_followups(payment)
        if Decimal(quote.price) != Decimal(payment.amount):
            return "amount_mismatch"
        payment.offer_id, payment.offer = quote.offer_id, {**quote.snapshot, "price": quote.price}
        payment.scope, payment.context = quote.scope, quote.context or None
        settlement = logic.Settlement(
            "0", "C2B confirmation, claimed", "claim", payment.checkout_request_id, Decimal(payment.amount)
        )
        try:
            granted = _grant(payment, settlement, fresh=tries > 1, held=True)
        except SettledMeanwhile:
            return _resume_followups(payments.get(checkout_request_id) or payment)
        except ReceiptReused:
            return "receipt_reused"  # its TransID paid another payment: never granted twice
        logger.info(
            "held payment claimed", extra={"payment_id": payment.payment_id, "grant_id": payment.grant_id}
        )
        metrics.add_metric(name="PaymentsProcessed", unit=MetricUnit.Count, value=1)
        _followups(payment, granted)
        return logic.PAID

    return db.retry_on_conflict(attempt)


def fail(payment: PaymentItem, outcome: logic.Outcome, settlement: logic.Settlement) -> bool:
    """settleable → failed|cancelled with its ``PaymentFailed``; ``False`` if settled meanwhile."""
    fields: dict[str, Any] = {}
    detail = _failed_event(payment, outcome, settlement)

    def write() -> None:
        with db.transact() as tx:
            fields.update(payments.fail(tx, payment, outcome, settlement))
            tx.emit(payment.aggregate, payment.product, "PaymentFailed", detail)

    if not db.applied(write, refused_by="payment"):
        return False
    db.apply(payment, fields)
    metrics.add_metric(name="PaymentsFailed", unit=MetricUnit.Count, value=1)
    return True


def _fail(
    payment: PaymentItem, outcome: logic.Outcome, settlement: logic.Settlement, log: dict[str, Any]
) -> str:
    if not fail(payment, outcome, settlement):
        return _resume_followups(payments.get(payment.checkout_request_id) or payment)
    logger.info("payment failed", extra={**log, "reason": outcome.reason})
    return "receipt_reused" if outcome.reason == "receipt_reused" else outcome.status


def _grant(
    payment: PaymentItem, settlement: logic.Settlement, fresh: bool, held: bool = False
) -> offers.Granted:
    """pending → paid (``held`` → paid: ``payments.pay(claimed=True)``), the receipt used once,
    and the product's grant, in one transaction."""
    now = clock.now()
    offer = offers.of(payment.product)
    paid: dict[str, Any] = {}
    try:
        with db.transact() as tx:
            granted = offer.grant(tx, payment, now, fresh)
            paid = payments.pay(tx, payment, settlement, granted, now, claimed=held)
            if settlement.receipt:
                receipts.use(tx, settlement.receipt, payment.checkout_request_id, now)
    except db.Refused as refused:
        if refused.by("payment"):
            raise SettledMeanwhile() from None
        if refused.by("receipt"):
            raise ReceiptReused() from None
        # The product's state moved (a concurrent purchase by the same buyer), or plain
        # contention: read and plan again.
        logger.info("grant raced another write for the same buyer; retrying", extra={"why": refused.reasons})
        raise db.Refused(refused.reasons, conflict=True) from None
    db.apply(payment, paid)
    return granted


def _resume_followups(payment: PaymentItem) -> str:
    """A settled payment: a duplicate (nothing to do), or a paid one whose follow-ups a dead
    worker left (a failure has none: its event left with it)."""
    if payment.followups_at is not None or payment.status != logic.PAID:
        return "duplicate"
    if not payments.claim_followups(payment, payments_settings().followup_grace_seconds):
        return "duplicate"
    logger.warning("taking over unfinished follow-ups", extra={"payment_id": payment.payment_id})
    _followups(payment, None)
    return "resumed"


def _followups(payment: PaymentItem, granted: offers.Granted | None) -> None:
    """The offer's follow-ups and ``PaymentProcessed``, then the claim marked done."""
    offers.of(payment.product).followups(payment, granted)
    events.publish_many([events.DomainEvent(payment.product, "PaymentProcessed", _processed_event(payment))])
    payments.finish_followups(payment)


def _base(payment: PaymentItem) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id,
        "checkout_request_id": payment.checkout_request_id,
        "product": payment.product,
        "offer_id": payment.offer_id,
        "amount": int(payment.amount),
        "phone": logic.mask_phone(payment.phone),
        **offers.of(payment.product).describe(payment),
    }


def _processed_event(payment: PaymentItem) -> dict[str, Any]:
    return {
        # Fixed per payment: a takeover publishes again and consumers keep the first.
        "idempotency_key": f"{payment.payment_id}#PaymentProcessed",
        **_base(payment),
        "receipt": payment.receipt,
        "settled_by": payment.settled_by,
        "grant_id": payment.grant_id,
    }


def _failed_event(
    payment: PaymentItem, outcome: logic.Outcome, settlement: logic.Settlement
) -> dict[str, Any]:
    return {
        **_base(payment),
        "status": outcome.status,
        "reason": outcome.reason,
        "result_code": settlement.result_code,
        "result_desc": settlement.result_desc[:500],
        "message": outcome.message,
    }
