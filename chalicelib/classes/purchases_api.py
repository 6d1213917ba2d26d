"""A student's purchases of class-credit bundles by M-Pesa (``POST /me/class-credits/purchases``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from chalicelib.classes import purchases
from chalicelib.core.errors import Unprocessable
from chalicelib.core.http import Api, Call
from chalicelib.core.schemas import RequestBody
from chalicelib.payments import logic
from chalicelib.payments.answers import daraja_answers
from chalicelib.payments.service import stk

api = Api(__name__, tag="classes")
STUDENT = ("student",)


class BundlePurchaseIn(RequestBody):
    bundle_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    phone_number: str = Field(min_length=9, max_length=16, description="The M-Pesa phone that pays")


class BundlePurchaseOut(BaseModel):
    payment_id: str
    status: str = Field(description="pending | paid | cancelled | failed")
    offer_id: str
    offer_name: str | None = None
    amount: int
    phone: str
    reason: str | None = None
    message: str | None = None
    result_code: str | None = None
    result_desc: str | None = None
    receipt: str | None = None
    created_at: float
    settled_at: float | None = None
    status_url: str


def _out(view: dict) -> BundlePurchaseOut:
    return BundlePurchaseOut(**view, status_url=f"/me/class-credits/purchases/{view['payment_id']}")


@api.route(
    "/me/class-credits/purchases",
    "POST",
    body=BundlePurchaseIn,
    response=BundlePurchaseOut,
    status=202,
    roles=STUDENT,
    errors=(404, 502),
)
def buy_bundle(call: Call) -> BundlePurchaseOut:
    """Buy a bundle of class credits: M-Pesa asks the phone for its PIN; poll the status URL."""
    body: BundlePurchaseIn = call.body
    try:
        phone = logic.normalize_phone(body.phone_number)
    except logic.InvalidInput as error:
        raise Unprocessable(str(error), code="validation_error") from None
    with daraja_answers():
        payment = purchases.buy(body.bundle_id, call.user.sub, phone)
    return _out(stk.view(payment))


@api.route("/me/class-credits/purchases/{payment_id}", response=BundlePurchaseOut, roles=STUDENT)
def my_bundle_purchase(call: Call, payment_id: str) -> BundlePurchaseOut:
    """One of my bundle purchases: pending, paid, cancelled or failed (with M-Pesa's reason)."""
    return _out(stk.view(purchases.mine(call.user.sub, payment_id)))
