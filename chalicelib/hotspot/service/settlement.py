"""The payment worker: one Daraja result applied to its payment, once.

A failure is one transaction (the payment and ``PaymentFailed``). A success is one transaction
across the payment, its receipt, the buyer's user, subscription and current pointer, and
``PaymentProcessed``; the writer claims the follow-ups in it (the provisioning command and the
expiry timer, which are not events), so a duplicate delivery finds nothing to do and a delivery
after a crash takes over what was left.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core import clock, db, timers
from chalicelib.core.observability import MetricUnit, logger, metrics
from chalicelib.hotspot import logic, messages
from chalicelib.hotspot.models import payments, receipts, subscriptions
from chalicelib.hotspot.models.items import DOMAIN, PaymentItem, SubscriptionItem, apply
from chalicelib.hotspot.settings import hotspot_settings

EXPIRE = "hotspot.expire"


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

    A purchase that raced another write for the same buyer (or contention) is read and planned
    again, with ``db.retry_on_conflict``'s backoff."""
    settlement = logic.Settlement(result_code, result_desc, settled_by, receipt, amount)
    log = {"checkout_request_id": checkout_request_id, "result_code": result_code, "settled_by": settled_by}

    def attempt() -> str:
        nonlocal snapshot  # the first try trusts the job's copy; a retry reads the payment
        payment, snapshot = snapshot or payments.get(checkout_request_id), None
        if payment is None:
            logger.warning("result for unknown payment ignored", extra=log)
            return "unknown"
        log["payment_id"] = payment.payment_id
        if not payments.settleable(payment):
            return _resume_followups(payment)
        outcome = logic.judge(result_code, result_desc, amount, int(payment.package["price"]))
        if outcome.status != logic.PAID:
            return _fail(payment, outcome, settlement, log)
        try:
            sub = _purchase(payment, settlement)
        except SettledMeanwhile:
            return _resume_followups(payments.get(checkout_request_id) or payment)
        except ReceiptReused:
            reused = logic.Outcome(logic.FAILED, "receipt_reused", logic.REASONS["receipt_reused"])
            return _fail(payment, reused, settlement, {**log, "receipt": receipt})
        logger.info("payment processed", extra={**log, "subscription_id": sub.subscription_id})
        metrics.add_metric(name="PaymentsProcessed", unit=MetricUnit.Count, value=1)
        _followups(payment, sub)
        return logic.PAID

    return db.retry_on_conflict(attempt)


def fail(payment: PaymentItem, outcome: logic.Outcome, settlement: logic.Settlement) -> bool:
    """settleable → failed|cancelled with its ``PaymentFailed``; ``False`` if settled meanwhile."""
    if not payments.fail(payment, outcome, settlement, _failed_event(payment, outcome, settlement)):
        return False
    metrics.add_metric(name="PaymentsFailed", unit=MetricUnit.Count, value=1)
    return True


def _fail(
    payment: PaymentItem, outcome: logic.Outcome, settlement: logic.Settlement, log: dict[str, Any]
) -> str:
    if not fail(payment, outcome, settlement):
        return _resume_followups(payments.get(payment.checkout_request_id) or payment)
    logger.info("payment failed", extra={**log, "reason": outcome.reason})
    return "receipt_reused" if outcome.reason == "receipt_reused" else outcome.status


def _purchase(payment: PaymentItem, settlement: logic.Settlement) -> SubscriptionItem:
    """pending → paid, the receipt used once, and the access it buys, in one transaction: a new
    subscription (with the buyer's hotspot user on first purchase) or, while the buyer's
    subscription on this router is active, that one extended."""
    now = clock.now()
    user, current = subscriptions.buyer(payment.phone, payment.router_id)
    active = subscriptions.get(current.subscription_id) if current else None
    if active is not None and not logic.still_active(active.status, float(active.expires_at_ts), now):
        active = None
    purchase = logic.plan_purchase(
        now,
        payment.package,
        active.term if active else None,
        int(active.provision_version or 0) if active else 0,
    )
    new_user = user is None
    user = user or subscriptions.new_user(payment, now)
    sub = active or subscriptions.new(payment, user, purchase, now)
    renewed: dict[str, Any] = {}
    try:
        with db.transact() as tx:
            paid = payments.pay(tx, payment, settlement, sub.subscription_id, purchase, now)
            if settlement.receipt:
                receipts.use(tx, settlement.receipt, payment.checkout_request_id, now)
            if new_user:
                subscriptions.add_user(tx, user)
            if purchase.renewal:
                renewed = subscriptions.renew(tx, sub, payment, purchase, now)
            else:
                subscriptions.start(tx, sub, current.subscription_id if current else None)
            tx.emit(
                payment.aggregate,
                DOMAIN,
                "PaymentProcessed",
                _processed_event(payment, sub.subscription_id, purchase, settlement),
            )
    except db.Refused as refused:
        if refused.by("payment"):
            raise SettledMeanwhile() from None
        if refused.by("receipt"):
            raise ReceiptReused() from None
        # The buyer's user, subscription or pointer moved (a concurrent purchase by the same
        # phone), or plain contention: read and plan again.
        logger.info(
            "purchase raced another write for the same buyer; retrying", extra={"why": refused.reasons}
        )
        raise db.Refused(refused.reasons, conflict=True) from None
    apply(sub, renewed)
    apply(payment, paid)
    return sub


def _processed_event(
    payment: PaymentItem, subscription_id: str, purchase: logic.Purchase, settlement: logic.Settlement
) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id,
        "checkout_request_id": payment.checkout_request_id,
        "subscription_id": subscription_id,
        "router_id": payment.router_id,
        "package_id": payment.package_id,
        "amount": int(payment.amount),
        "receipt": settlement.receipt,
        "phone": logic.mask_phone(payment.phone),
        "renewal": purchase.renewal,
        "expires_at": logic.iso(purchase.term.expires_at),
        "settled_by": settlement.settled_by,
    }


def _failed_event(
    payment: PaymentItem, outcome: logic.Outcome, settlement: logic.Settlement
) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id,
        "checkout_request_id": payment.checkout_request_id,
        "router_id": payment.router_id,
        "package_id": payment.package_id,
        "amount": int(payment.amount),
        "status": outcome.status,
        "reason": outcome.reason,
        "result_code": settlement.result_code,
        "result_desc": settlement.result_desc[:500],
        "phone": logic.mask_phone(payment.phone),
        "message": outcome.message,
    }


def _resume_followups(payment: PaymentItem) -> str:
    """A settled payment: a duplicate (nothing to do), or a paid one whose follow-ups a dead
    worker left (a failure has none: its event left with it)."""
    if payment.followups_at is not None or payment.status != logic.PAID:
        return "duplicate"
    if not payments.claim_followups(payment, hotspot_settings().followup_grace_seconds):
        return "duplicate"
    logger.warning("taking over unfinished follow-ups", extra={"payment_id": payment.payment_id})
    _followups(payment)
    return "resumed"


def _followups(payment: PaymentItem, sub: SubscriptionItem | None = None) -> None:
    """The provisioning command and the expiry timer of a paid payment; then marked done."""
    sub = sub or subscriptions.get(payment.subscription_id or "")
    if sub is None:
        raise LookupError(f"paid payment {payment.payment_id} has no subscription")
    messages.router_command(
        logic.provision_command(
            subscription_id=sub.subscription_id,
            router_id=sub.router_id,
            version=int(payment.provision_version or sub.provision_version),
            username=sub.username,
            password=sub.password,
            package_id=sub.package_id,
            rate_limit=sub.rate_limit,
            shared_users=int(sub.shared_users),
            term=sub.term,
            now=clock.now(),
            mac=sub.mac,
            ip=sub.ip,
        )
    )
    timers.schedule(EXPIRE, sub.subscription_id, float(sub.expires_at_ts), {})
    payments.finish_followups(payment)
