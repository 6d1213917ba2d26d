"""M-Pesa receipts (an STK ``MpesaReceiptNumber`` or a C2B ``TransID``): each pays once."""

from __future__ import annotations

from chalicelib.core import db
from chalicelib.payments.models.items import ReceiptItem, receipt_key


def use(tx: db.Tx, receipt: str, checkout_request_id: str, now: float) -> None:
    """The receipt taken by this payment (label ``receipt``; refused if already used)."""
    item = ReceiptItem(*receipt_key(receipt), checkout_request_id=checkout_request_id, created_at=now)
    tx.put(item, ReceiptItem.pk.does_not_exist(), label="receipt")


def used(receipt: str) -> ReceiptItem | None:
    return db.get_or_none(ReceiptItem, *receipt_key(receipt), consistent=True)
