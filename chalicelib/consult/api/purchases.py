"""A patient's purchases of consultation credits by M-Pesa: a plan or a top-up, its status.

``POST /me/consult/purchases`` sends the PIN prompt (202); the credits are added when Safaricom
confirms (``chalicelib.consult.purchases``); ``GET /me/consult/purchases/{id}`` says pending,
paid, cancelled or failed with Daraja's reason.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from chalicelib.consult import purchases
from chalicelib.core.errors import Unprocessable
from chalicelib.core.http import Api, Call
from chalicelib.core.schemas import RequestBody
from chalicelib.payments import logic
from chalicelib.payments.answers import PurchaseOut, daraja_answers, purchase_out
from chalicelib.payments.service import stk

api = Api(__name__, tag="consult")
PATIENT = ("patient",)


class PurchaseIn(RequestBody):
    plan_id: str | None = Field(default=None, min_length=1, max_length=64)
    kind: Literal["text", "voice", "video"] | None = None
    credits: int | None = Field(default=None, ge=1, le=50)
    phone_number: str = Field(min_length=9, max_length=16, description="The M-Pesa phone that pays")

    @model_validator(mode="after")
    def _one(self) -> PurchaseIn:
        if (self.plan_id is None) == (self.kind is None):
            raise ValueError("give either plan_id, or kind and credits")
        if self.kind is not None and self.credits is None:
            raise ValueError("a top-up needs credits")
        return self


class PurchaseList(BaseModel):
    purchases: list[PurchaseOut]


def _out(view: dict) -> PurchaseOut:
    return purchase_out(view, "/me/consult/purchases")


@api.route(
    "/me/consult/purchases",
    "POST",
    body=PurchaseIn,
    response=PurchaseOut,
    status=202,
    roles=PATIENT,
    errors=(404, 502),
)
def buy(call: Call) -> PurchaseOut:
    """Buy a plan or a top-up: M-Pesa asks the phone for its PIN; poll the status URL."""
    body: PurchaseIn = call.body
    try:
        phone = logic.normalize_phone(body.phone_number)
    except logic.InvalidInput as error:
        raise Unprocessable(str(error), code="validation_error") from None
    patient = call.user.sub
    if body.plan_id is not None:
        quote = purchases.quote_plan(body.plan_id, patient)
    else:
        quote = purchases.quote_top_up(body.kind or "", int(body.credits or 0), patient)
    with daraja_answers():
        payment = purchases.buy(quote, phone)
    return _out(stk.view(payment))


@api.route("/me/consult/purchases", response=PurchaseList, roles=PATIENT)
def my_purchases(call: Call) -> PurchaseList:
    """My purchases, newest first."""
    return PurchaseList(purchases=[_out(stk.view(p)) for p in purchases.history(call.user.sub)])


@api.route("/me/consult/purchases/{payment_id}", response=PurchaseOut, roles=PATIENT)
def my_purchase(call: Call, payment_id: str) -> PurchaseOut:
    """One of my purchases: pending, paid, cancelled or failed (with M-Pesa's reason)."""
    return _out(stk.view(purchases.mine(call.user.sub, payment_id)))
