"""Patients pay for consultations: a plan or a top-up of one kind of credit, by M-Pesa STK push.

The consult offer to the payments domain. Its grant is the same pair of writes as an admin's
(``models.credits.grant``): a grant record keyed by the payment (so it exists once) and the
credits added to the patient's subscription, here inside the transaction that marks the payment
paid, so a duplicate callback, a query racing the callback or a retried worker grants nothing
more. Nothing follows a grant but ``PaymentProcessed`` (with the patient as its recipient, so it
lands in their notifications). Admin grants stay, for cash and corrections.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chalicelib.consult.models import credits as credit_models
from chalicelib.consult.models import items
from chalicelib.core import db
from chalicelib.core.config import domain_settings
from chalicelib.core.errors import NotFound, Unprocessable
from chalicelib.payments import offers
from chalicelib.payments.models import payments
from chalicelib.payments.models.items import PaymentItem
from chalicelib.payments.service import stk

PRODUCT = "consult"
KINDS = ("text", "voice", "video")


class PurchaseSettings(BaseSettings):
    """What a top-up credit costs (whole KES, as M-Pesa takes it) and what the statement says."""

    model_config = SettingsConfigDict(env_prefix="MUDA_CONSULT_PURCHASE_", extra="ignore", frozen=True)

    # JSON in the environment: {"text": 50, "voice": 100, "video": 150}
    top_up_prices: Annotated[dict[str, int], NoDecode] = {"text": 50, "voice": 100, "video": 150}
    account_reference: str = Field(default="MudaConsult", max_length=12)
    transaction_desc: str = Field(default="Consultation", max_length=13)

    @field_validator("top_up_prices", mode="before")
    @classmethod
    def _json(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value


def purchase_settings() -> PurchaseSettings:
    return domain_settings(PurchaseSettings)


def quote_plan(plan_id: str, patient_id: str) -> offers.Quote:
    plan = credit_models.get_plan(plan_id)
    if plan is None:
        raise NotFound(f"no plan {plan_id}", code="no_plan")
    price = int(plan.price)
    if price <= 0 or price % 100:  # plans are priced in minor units; M-Pesa takes whole shillings
        raise Unprocessable(f"plan {plan_id} cannot be paid by M-Pesa", code="not_for_sale")
    return _quote(f"plan:{plan.plan_id}", price // 100, plan.name, plan.credits(), patient_id, plan.plan_id)


def quote_top_up(kind: str, count: int, patient_id: str) -> offers.Quote:
    each = purchase_settings().top_up_prices.get(kind)
    if each is None or each <= 0:
        raise Unprocessable(f"{kind} credits are not for sale", code="not_for_sale")
    return _quote(f"top-up:{kind}", each * count, f"{count} {kind} credit(s)", {kind: count}, patient_id)


def _quote(
    offer_id: str, price: int, name: str, added: dict[str, int], patient_id: str, plan_id: str | None = None
) -> offers.Quote:
    s = purchase_settings()
    return offers.Quote(
        offer_id=offer_id,
        price=price,
        snapshot={"name": name, "credits": {k: v for k, v in added.items() if v}, "plan_id": plan_id},
        account_reference=s.account_reference,
        description=s.transaction_desc,
        account=patient_id,
    )


def buy(quote: offers.Quote, phone: str) -> PaymentItem:
    """The PIN prompt for a quoted plan or top-up (``DarajaError`` if Daraja refuses)."""
    return stk.start(PRODUCT, quote, phone)


def mine(patient_id: str, payment_id: str) -> PaymentItem:
    """A patient's own purchase (404 for anyone else's)."""
    payment = payments.by_id(payment_id)
    if payment is None or payment.product != PRODUCT or payment.account != patient_id:
        raise NotFound("no such purchase", code="no_purchase")
    return payment


def history(patient_id: str, limit: int = 20) -> list[PaymentItem]:
    return payments.of_account(PRODUCT, patient_id, limit)


class ConsultOffer:
    product = PRODUCT

    def grant(self, tx: db.Tx, payment: PaymentItem, now: float, fresh: bool) -> offers.Granted:
        patient = payment.account or ""
        added: dict[str, int] = payment.offer["credits"]
        plan_id = payment.offer.get("plan_id")
        Subscription = items.Subscription
        actions = [Subscription.patient_id.set(patient), Subscription.updated_at.set(now)]
        actions += [Subscription.credit(kind).add(n) for kind, n in added.items()]
        if plan_id:  # a plan (re)activates the subscription; a top-up leaves its status alone
            actions += [Subscription.plan_id.set(plan_id), Subscription.status.set("active")]
        else:
            actions.append(Subscription.status.set(Subscription.status | "active"))
        record = items.new_grant(patient, payment.payment_id, added, plan_id, "mpesa", now)
        tx.put(record, items.Grant.sk.does_not_exist(), label="grant")
        tx.update(Subscription(*items.subscription_key(patient)), actions, label="subscription")
        return offers.Granted(grant_id=f"{patient}#{payment.payment_id}", fields={"credits": added})

    def followups(self, payment: PaymentItem, granted: offers.Granted | None) -> None:
        """Nothing but the event: the credits are spendable from the commit."""

    def account(self, reference: str, phone: str, amount: int) -> offers.Quote | None:
        """Paybill: the account number is the patient's id (one with a subscription); the amount
        buys text credits at the top-up price, so it must be a whole number of them."""
        if not reference or credit_models.get_subscription(reference) is None:
            return None
        each = purchase_settings().top_up_prices.get("text") or 0
        if each <= 0 or amount <= 0 or amount % each:
            raise offers.WrongAmount(f"{amount} is not a whole number of text credits at {each}")
        return quote_top_up("text", amount // each, reference)

    def describe(self, payment: PaymentItem) -> dict[str, Any]:
        return {
            "patient_id": payment.account,
            "plan_id": payment.offer.get("plan_id"),
            "credits": payment.offer.get("credits"),
            "recipients": [payment.account] if payment.account else [],
        }


OFFER = offers.register(ConsultOffer())
