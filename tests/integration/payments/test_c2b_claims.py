"""C2B payments a product takes without knowing what they buy (a Till payment: no reference),
held until the product settles them for what the payer claims; a hashed MSISDN kept whole."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.core import db
from chalicelib.payments import offers
from chalicelib.payments.models import payments
from chalicelib.payments.models.items import PaymentItem
from chalicelib.payments.service import settlement
from tests.integration.payments.conftest import CALLBACK_TOKEN, post
from tests.support.daraja import c2b_body
from tests.support.ids import unique


class ClaimedLater:
    """A product that takes KES 40 to references ``LATER…`` and is told later what they buy."""

    product = "claimtest"

    def __init__(self) -> None:
        self.granted: list[str] = []
        self.followed: list[str] = []

    def account(self, reference: str, phone: str, amount: int) -> offers.Quote | None:
        if not reference.startswith("LATER"):
            return None
        if amount != 40:
            raise offers.WrongAmount("40 only")
        raise offers.ClaimLater()

    def grant(self, tx: db.Tx, payment: PaymentItem, now: float, fresh: bool) -> offers.Granted:
        self.granted.append(payment.offer_id)
        return offers.Granted(grant_id=f"grant-{payment.offer_id}", fields={"what": payment.offer["name"]})

    def followups(self, payment: PaymentItem, granted: offers.Granted | None) -> None:
        self.followed.append(payment.payment_id)

    def describe(self, payment: PaymentItem) -> dict[str, Any]:
        return {}


@pytest.fixture
def offer(monkeypatch: pytest.MonkeyPatch) -> ClaimedLater:
    """Given the product registered for this test only."""
    product = ClaimedLater()
    monkeypatch.setitem(offers._offers, product.product, product)
    return product


def quote(price: int) -> offers.Quote:
    return offers.Quote("bundle-1", price, {"name": "a bundle"}, "LATER", "C2B", scope="here")


def test_a_payment_claimed_later_is_held_then_settled_once_for_the_claim(
    api: Client, offer: ClaimedLater
) -> None:
    """Given a product that takes KES 40 to its references and is told later what they buy
    When Safaricom validates KES 40 and KES 45, confirms the KES 40 (MSISDN hashed, upper case)
    twice, and the product settles it for a KES 30 quote, then a KES 40 one, twice
    Then 0 and C2B00013; the payment is held under that product (awaiting_claim) with the whole
    hash as its payer and nothing granted; the wrong price changes nothing; the right one pays it
    (its TransID the receipt, the claim's offer recorded) and grants and follows up once."""
    reference = unique("LATER")
    hashed = hashlib.sha256(b"254712345678").hexdigest().upper()
    payload = {**c2b_body(reference, "40.00"), "MSISDN": hashed}
    wrong = {**c2b_body(reference, "45.00"), "MSISDN": hashed}
    answers = [
        post(api, f"/mpesa/c2b/validation/{CALLBACK_TOKEN}", p).json_body["ResultCode"]
        for p in (payload, wrong)
    ]
    assert answers == ["0", "C2B00013"]
    for _ in range(2):
        post(api, f"/mpesa/c2b/confirmation/{CALLBACK_TOKEN}", {**payload, "TransAmount": 40.0})

    held = payments.get(payload["TransID"])
    assert (held.status, held.product, held.context["reason"]) == ("held", "claimtest", "awaiting_claim")
    assert held.phone == hashed.lower() and offer.granted == []

    assert settlement.settle_held(payload["TransID"], quote(30)) == "amount_mismatch"
    assert payments.get(payload["TransID"]).status == "held"
    outcomes = [settlement.settle_held(payload["TransID"], quote(40)) for _ in range(2)]

    assert outcomes == ["paid", "duplicate"]
    paid = payments.get(payload["TransID"])
    assert (paid.status, paid.receipt, paid.offer_id, paid.scope) == (
        "paid",
        payload["TransID"],
        "bundle-1",
        "here",
    )
    assert paid.grant_id == "grant-bundle-1" and paid.amount == Decimal(40)
    assert offer.granted == ["bundle-1"] and offer.followed == [paid.payment_id]
