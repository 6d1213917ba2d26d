"""Students pay for class credits: a bundle by M-Pesa STK push, its credits added when paid.

The classes offer to the payments domain. Its grant is the pair of writes an admin's grant makes
(``models.credits.grant_credits``): the ledger's grant item keyed by the payment (it can exist
once) and the wallet's credits, here inside the transaction that marks the payment paid. Admin
grants stay (cash, corrections).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chalicelib.classes.models.items import CreditLedger, Wallet, grant_key, ledger_item, wallet_key
from chalicelib.core import db
from chalicelib.core.config import domain_settings
from chalicelib.core.errors import NotFound
from chalicelib.payments import offers
from chalicelib.payments.models import payments
from chalicelib.payments.models.items import PaymentItem
from chalicelib.payments.service import stk

PRODUCT = "classes"


class PurchaseSettings(BaseSettings):
    """The class-credit bundles on sale: ``{"id": {"credits": n, "price": whole KES}}``."""

    model_config = SettingsConfigDict(env_prefix="MUDA_CLASSES_PURCHASE_", extra="ignore", frozen=True)

    bundles: Annotated[dict[str, dict[str, int]], NoDecode] = {
        "five": {"credits": 5, "price": 500},
        "ten": {"credits": 10, "price": 900},
    }
    account_reference: str = Field(default="MudaClasses", max_length=12)
    transaction_desc: str = Field(default="Class credits", max_length=13)

    @field_validator("bundles", mode="before")
    @classmethod
    def _json(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value


def purchase_settings() -> PurchaseSettings:
    return domain_settings(PurchaseSettings)


def quote(bundle_id: str, student_id: str) -> offers.Quote:
    s = purchase_settings()
    bundle = s.bundles.get(bundle_id)
    if bundle is None:
        raise NotFound(f"no bundle {bundle_id}", code="no_bundle")
    return offers.Quote(
        offer_id=bundle_id,
        price=int(bundle["price"]),
        snapshot={"name": f"{int(bundle['credits'])} class credits", "credits": int(bundle["credits"])},
        account_reference=s.account_reference,
        description=s.transaction_desc,
        account=student_id,
    )


def buy(bundle_id: str, student_id: str, phone: str) -> PaymentItem:
    return stk.start(PRODUCT, quote(bundle_id, student_id), phone)


def mine(student_id: str, payment_id: str) -> PaymentItem:
    payment = payments.by_id(payment_id)
    if payment is None or payment.product != PRODUCT or payment.account != student_id:
        raise NotFound("no such purchase", code="no_purchase")
    return payment


class ClassesOffer:
    product = PRODUCT

    def grant(self, tx: db.Tx, payment: PaymentItem, now: float, fresh: bool) -> offers.Granted:
        student, credits = payment.account or "", int(payment.offer["credits"])
        record = ledger_item(
            grant_key(student, payment.payment_id),
            student,
            credits,
            "granted",
            now,
            reference=payment.payment_id,
        )
        tx.put(record, CreditLedger.pk.does_not_exist(), label="grant")
        tx.update(
            Wallet(*wallet_key(student)),
            [Wallet.credits.add(credits), Wallet.granted.add(credits), Wallet.student_id.set(student)],
            label="wallet",
        )
        return offers.Granted(grant_id=f"{student}#{payment.payment_id}", fields={"credits": credits})

    def followups(self, payment: PaymentItem, granted: offers.Granted | None) -> None:
        """Nothing but the event: the credits are usable from the commit."""

    def describe(self, payment: PaymentItem) -> dict[str, Any]:
        return {
            "student_id": payment.account,
            "bundle_id": payment.offer_id,
            "credits": payment.offer.get("credits"),
            "recipients": [payment.account] if payment.account else [],
        }


OFFER = offers.register(ClassesOffer())
