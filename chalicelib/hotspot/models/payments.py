"""Payments: created pending with their alias, settled once by a Daraja result, and the claim on
the follow-ups of a paid one (provisioning command and expiry timer, which are not events)."""

from __future__ import annotations

from typing import Any

from chalicelib.core import clock, db, ids
from chalicelib.hotspot import logic
from chalicelib.hotspot.models.items import (
    DOMAIN,
    PackageItem,
    PaymentAlias,
    PaymentItem,
    alias_key,
    apply,
    payment_key,
    phone_index,
    updates,
)


def create(
    *,
    checkout_request_id: str,
    merchant_request_id: str,
    package: PackageItem,
    router_id: str,
    phone: str,
    mac: str | None,
    ip: str | None,
    keep_until: int,
) -> PaymentItem:
    """The pending payment and its alias, together (the alias is what the buyer's status URL names)."""
    now = clock.now()
    payment_id = ids.new_id("pay_")
    payment = PaymentItem(
        *payment_key(checkout_request_id),
        payment_id=payment_id,
        checkout_request_id=checkout_request_id,
        merchant_request_id=merchant_request_id,
        package_id=package.package_id,
        package=package.snapshot(),
        router_id=router_id,
        phone=phone,
        mac=mac,
        ip=ip,
        amount=int(package.price),
        status=logic.PENDING,
        created_at=now,
        gsi2pk=phone_index(phone),
        gsi2sk=clock.time_key(now),
        expires_at=keep_until,
    )
    alias = PaymentAlias(
        *alias_key(payment_id), checkout_request_id=checkout_request_id, expires_at=keep_until
    )
    with db.transact() as tx:
        tx.put(payment, PaymentItem.pk.does_not_exist(), label="payment")
        tx.put(alias, PaymentAlias.pk.does_not_exist(), label="alias")
    return payment


def get(checkout_request_id: str) -> PaymentItem | None:
    return db.get_or_none(PaymentItem, *payment_key(checkout_request_id), consistent=True)


def by_id(payment_id: str) -> PaymentItem | None:
    alias = db.get_or_none(PaymentAlias, *alias_key(payment_id), consistent=True)
    return get(alias.checkout_request_id) if alias else None


def record_callback(checkout_request_id: str, raw: str) -> PaymentItem | None:
    """Keep the first raw callback of a known payment and count the copies, in one write;
    ``None`` when no payment has this CheckoutRequestID."""
    item = PaymentItem(*payment_key(checkout_request_id))
    now = clock.now()
    actions = [
        PaymentItem.callback_raw.set(PaymentItem.callback_raw | raw[:20000]),
        PaymentItem.callback_at.set(PaymentItem.callback_at | now),
        PaymentItem.callback_copies.add(1),
    ]
    return item if db.update_if(item, actions, PaymentItem.pk.exists()) else None


def settleable(payment: PaymentItem) -> bool:
    return logic.settleable(payment.status, payment.reason)


def _settleable() -> Any:
    """``logic.settleable`` as a condition on the stored payment."""
    return (PaymentItem.status == logic.PENDING) | (
        (PaymentItem.status == logic.FAILED) & (PaymentItem.reason == "no_result")
    )


def _settled(settlement: logic.Settlement, now: float) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "result_code": settlement.result_code,
        "result_desc": settlement.result_desc[:500],
        "settled_by": settlement.settled_by,
        "settled_at": now,
    }
    if settlement.receipt:
        fields["receipt"] = settlement.receipt
    if settlement.amount_paid is not None:
        fields["amount_paid"] = float(settlement.amount_paid)
    return fields


def fail(
    payment: PaymentItem, outcome: logic.Outcome, settlement: logic.Settlement, event: dict[str, Any]
) -> bool:
    """settleable → failed|cancelled with ``PaymentFailed`` (``event``) in the same transaction;
    nothing follows a failure, so its follow-ups are done at once. ``False`` if already settled
    (a "no answer" verdict only settles a payment still pending)."""
    now = clock.now()
    fields = {
        "status": outcome.status,
        "reason": outcome.reason,
        "message": outcome.message,
        "followups_at": now,
        **_settled(settlement, now),
    }
    actions = updates(PaymentItem, fields)
    condition = PaymentItem.status == logic.PENDING if outcome.reason == "no_result" else _settleable()

    def write() -> None:
        with db.transact() as tx:
            tx.update(payment, actions, condition, label="payment")
            tx.emit(payment.aggregate, DOMAIN, "PaymentFailed", event)

    if not db.applied(write, refused_by="payment"):
        return False
    apply(payment, fields)
    return True


def pay(
    tx: db.Tx,
    payment: PaymentItem,
    settlement: logic.Settlement,
    subscription_id: str,
    purchase: logic.Purchase,
    now: float,
) -> dict[str, Any]:
    """settleable → paid (label ``payment``), the follow-ups claimed by this writer. Returns the
    fields written, to ``apply`` to the item in hand once the transaction commits."""
    fields = {
        "status": logic.PAID,
        "subscription_id": subscription_id,
        "provision_version": purchase.version,
        "renewal": purchase.renewal,
        "followup_claimed_at": now,
        "followups_at": None,  # a late success after "no answer" has follow-ups again
        "reason": None,
        "message": None,
        **_settled(settlement, now),
    }
    tx.update(payment, updates(PaymentItem, fields), _settleable(), label="payment")
    return fields


def claim_followups(payment: PaymentItem, grace: float) -> bool:
    """Take over the follow-ups of a paid payment whose worker died before finishing them."""
    return db.claim_lease(
        payment, PaymentItem.followup_claimed_at, grace, unless_done=PaymentItem.followups_at
    )


def finish_followups(payment: PaymentItem) -> None:
    payment.update(actions=[PaymentItem.followups_at.set(clock.now())])
