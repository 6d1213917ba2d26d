"""Payouts (B2C): created with the payee's debit, sent, settled or reversed once, and the sparse
index of the unsettled ones that the status query reads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chalicelib.core import clock, db
from chalicelib.payments.models.items import (
    UNSETTLED_PAYOUTS,
    PayoutItem,
    payout_key,
    payouts_index,
    query_index,
)
from chalicelib.payments.payees import Payee

REQUESTED, SENT, PAID, FAILED = "requested", "sent", "paid", "failed"


class InsufficientBalance(Exception):
    """The payee's balance does not cover the payout (nothing was written)."""


def create(
    payee: Payee, payout_id: str, account: str, phone: str, amount: int, first_query: float, by: str
) -> PayoutItem:
    """The payout and the payee's debit in one transaction, before any money moves (its events
    are the outcome's: ``PayoutPaid`` or ``PayoutFailed``)."""
    now = clock.now()
    units = payee.debited(amount)
    payout = PayoutItem(
        *payout_key(payout_id),
        payout_id=payout_id,
        product=payee.product,
        account=account,
        phone=phone,
        amount=amount,
        debited=units,
        status=REQUESTED,
        requested_by=by,
        created_at=now,
        gsi1pk=UNSETTLED_PAYOUTS,
        gsi1sk=query_index(first_query),
        gsi2pk=payouts_index(payee.product, account),
        gsi2sk=clock.time_key(now),
    )

    def write() -> None:
        with db.transact() as tx:
            payee.debit(tx, account, units, now)
            tx.put(payout, PayoutItem.pk.does_not_exist(), label="payout")

    try:
        db.retry_on_conflict(write)  # racing withdrawals of one wallet: contention, not refusal
    except db.Refused as refused:
        if refused.by("wallet"):
            raise InsufficientBalance() from None
        raise
    return payout


def get(payout_id: str) -> PayoutItem | None:
    return db.get_or_none(PayoutItem, *payout_key(payout_id), consistent=True)


def of_account(product: str, account: str, limit: int = 20) -> list[PayoutItem]:
    return list(PayoutItem.gsi2.query(payouts_index(product, account), scan_index_forward=False, limit=limit))


def _unsettled() -> Any:
    return PayoutItem.status.is_in(REQUESTED, SENT)


def sent(payout: PayoutItem, conversation_id: str) -> bool:
    fields = {"status": SENT, "conversation_id": conversation_id, "sent_at": clock.now()}
    return db.update_if(payout, db.updates(PayoutItem, fields), PayoutItem.status == REQUESTED)


def paid(payout: PayoutItem, receipt: str | None, code: str, desc: str, by: str) -> bool:
    """requested|sent → paid, once (``False``: settled before; nothing changes)."""
    fields = _settled(PAID, receipt, code, desc, by)

    def write() -> None:
        with db.transact() as tx:
            tx.update(payout, db.updates(PayoutItem, fields), _unsettled(), label="payout")
            tx.emit(payout.aggregate, payout.product, "PayoutPaid", {**_event(payout), "receipt": receipt})

    return db.applied(write, refused_by="payout")


def failed(payout: PayoutItem, payee: Payee, code: str, desc: str, by: str) -> bool:
    """requested|sent → failed with the payee's debit reversed, in one transaction, once."""
    fields = _settled(FAILED, None, code, desc, by)

    def write() -> None:
        with db.transact() as tx:
            tx.update(payout, db.updates(PayoutItem, fields), _unsettled(), label="payout")
            payee.reverse(tx, payout.account, int(payout.debited), clock.now())
            event = {**_event(payout), "result_code": code, "result_desc": desc[:300]}
            tx.emit(payout.aggregate, payout.product, "PayoutFailed", event)

    return db.applied(write, refused_by="payout")


def query_again(payout: PayoutItem, at: float) -> bool:
    """A status query was asked (or a timeout came): the next one at ``at`` unless settled."""
    actions = [PayoutItem.gsi1sk.set(query_index(at)), PayoutItem.status_queries.add(1)]
    return db.update_if(payout, actions, _unsettled())


def unsettled(now: float, limit: int = 200) -> Iterator[PayoutItem]:
    yield from PayoutItem.gsi1.query(UNSETTLED_PAYOUTS, PayoutItem.gsi1sk <= query_index(now), limit=limit)


def _settled(status: str, receipt: str | None, code: str, desc: str, by: str) -> dict[str, Any]:
    return {
        "status": status,
        "receipt": receipt,
        "result_code": code,
        "result_desc": desc[:500],
        "settled_by": by,
        "settled_at": clock.now(),
        "gsi1pk": None,
        "gsi1sk": None,
    }


def _event(payout: PayoutItem) -> dict[str, Any]:
    return {
        "payout_id": payout.payout_id,
        "account": payout.account,
        "amount": int(payout.amount),
        "recipients": [payout.account],
    }
