"""Payments: created pending with their alias (and their place in the STK query schedule), the
raw callback kept once, settled once by a Daraja result, and the claim on the follow-ups of a
paid one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chalicelib.core import clock, db, ids
from chalicelib.payments import logic
from chalicelib.payments.models.items import (
    PaymentAlias,
    PaymentItem,
    account_index,
    alias_key,
    payment_key,
    phone_index,
    query_index,
    query_shard,
)
from chalicelib.payments.offers import Granted, Quote
from chalicelib.payments.settings import payments_settings


def create(
    *,
    checkout_request_id: str,
    merchant_request_id: str | None,
    product: str,
    quote: Quote,
    phone: str,
    keep_until: int,
    method: str = "stk",
    status: str = logic.PENDING,
) -> PaymentItem:
    """The pending payment and its alias in one write; a pushed one carries its first STK query
    time on the sparse query index (found by the periodic query, no timer of its own)."""
    now = clock.now()
    s = payments_settings()
    payment_id = ids.new_id("pay_")
    first_query = logic.query_at(now, 0, s.query_after_seconds) if method == "stk" else None
    payment = PaymentItem(
        *payment_key(checkout_request_id),
        payment_id=payment_id,
        checkout_request_id=checkout_request_id,
        merchant_request_id=merchant_request_id,
        method=method,
        product=product,
        offer_id=quote.offer_id,
        offer={**quote.snapshot, "price": quote.price},
        scope=quote.scope,
        account=quote.account,
        context=quote.context or None,
        phone=phone,
        amount=quote.price,
        status=status,
        created_at=now,
        gsi2pk=account_index(product, quote.account) if quote.account else phone_index(phone),
        gsi2sk=clock.time_key(now),
        expires_at=keep_until,
    )
    if first_query is not None:
        payment.query_n = 0
        payment.gsi1pk = query_shard(checkout_request_id, s.query_shards)
        payment.gsi1sk = query_index(first_query)
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


def of_account(product: str, account: str, limit: int = 20) -> list[PaymentItem]:
    """A signed-in buyer's payments for a product, newest first."""
    index = account_index(product, account)
    return list(PaymentItem.gsi2.query(index, scan_index_forward=False, limit=limit))


def record_callback(checkout_request_id: str, raw: str) -> PaymentItem | None:
    """Keep the first raw callback of a known payment and count the copies, in one write that
    returns the payment; ``None`` when no payment has this CheckoutRequestID."""
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
        "gsi1pk": None,  # off the STK query index
        "gsi1sk": None,
    }
    if settlement.receipt:
        fields["receipt"] = settlement.receipt
    if settlement.amount_paid is not None:
        fields["amount_paid"] = float(settlement.amount_paid)
    return fields


def fail(
    tx: db.Tx, payment: PaymentItem, outcome: logic.Outcome, settlement: logic.Settlement
) -> dict[str, Any]:
    """settleable → failed|cancelled (label ``payment``); nothing follows a failure but its event,
    which leaves in this transaction. A "no answer" verdict only settles a payment still pending."""
    now = clock.now()
    fields = {
        "status": outcome.status,
        "reason": outcome.reason,
        "message": outcome.message,
        "followups_at": now,
        **_settled(settlement, now),
    }
    condition = PaymentItem.status == logic.PENDING if outcome.reason == "no_result" else _settleable()
    tx.update(payment, db.updates(PaymentItem, fields), condition, label="payment")
    return fields


def pay(
    tx: db.Tx,
    payment: PaymentItem,
    settlement: logic.Settlement,
    granted: Granted,
    now: float,
    claimed: bool = False,
) -> dict[str, Any]:
    """settleable → paid (label ``payment``) with what the grant gave, the follow-ups claimed by
    this writer. ``claimed``: a held C2B payment paid for what its payer claimed (the offer the
    caller put on ``payment``), refused unless still held, for this product and amount. Returns
    the fields written, to ``apply`` once the transaction commits."""
    fields = {
        "status": logic.PAID,
        "grant_id": granted.grant_id,
        "grant_version": granted.version,
        "grant": granted.fields or None,
        "followup_claimed_at": now,
        "followups_at": None,  # a late success after "no answer" has follow-ups again
        "reason": None,
        "message": None,
        **_settled(settlement, now),
    }
    condition = _settleable()
    if claimed:
        fields.update(
            offer_id=payment.offer_id, offer=payment.offer, scope=payment.scope, context=payment.context
        )
        condition = (
            (PaymentItem.status == logic.HELD)
            & (PaymentItem.product == payment.product)
            & (PaymentItem.amount == payment.amount)
        )
    tx.update(payment, db.updates(PaymentItem, fields), condition, label="payment")
    return fields


def claim_followups(payment: PaymentItem, grace: float) -> bool:
    """Take over the follow-ups of a paid payment whose worker died before finishing them."""
    return db.claim_lease(
        payment, PaymentItem.followup_claimed_at, grace, unless_done=PaymentItem.followups_at
    )


def finish_followups(payment: PaymentItem) -> None:
    now = clock.now()
    payment.update(actions=[PaymentItem.followups_at.set(now)])


# --- the STK query schedule -----------------------------------------------------------------------


def due_for_query(now: float, limit: int = 200) -> Iterator[PaymentItem]:
    """Pending pushes whose next STK query is due (one Query per shard of the sparse index)."""
    s = payments_settings()
    for shard in range(s.query_shards):
        yield from PaymentItem.gsi1.query(
            f"QUERY#{shard}", PaymentItem.gsi1sk <= query_index(now), limit=limit
        )


def next_query(payment: PaymentItem, n: int, at: float) -> bool:
    """Still processing after query ``n``: query ``n+1`` at ``at``; ``False`` if the payment moved."""
    fields = {"query_n": n + 1, "gsi1sk": query_index(at)}
    condition = (PaymentItem.status == logic.PENDING) & (PaymentItem.query_n == n)
    if not db.update_if(payment, db.updates(PaymentItem, fields), condition):
        return False
    db.apply(payment, fields)
    return True
