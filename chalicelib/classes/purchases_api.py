"""A student's purchases of class-credit bundles by M-Pesa (``POST /me/class-credits/purchases``)."""

from __future__ import annotations

from pydantic import Field

from chalicelib.classes import purchases
from chalicelib.core.errors import Unprocessable
from chalicelib.core.http import Api, Call
from chalicelib.core.schemas import RequestBody
from chalicelib.payments import logic
from chalicelib.payments.answers import PurchaseOut, daraja_answers, purchase_out
from chalicelib.payments.service import stk

api = Api(__name__, tag="classes")
STUDENT = ("student",)


class BundlePurchaseIn(RequestBody):
    bundle_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    phone_number: str = Field(min_length=9, max_length=16, description="The M-Pesa phone that pays")


def _out(view: dict) -> PurchaseOut:
    return purchase_out(view, "/me/class-credits/purchases")


@api.route(
    "/me/class-credits/purchases",
    "POST",
    body=BundlePurchaseIn,
    response=PurchaseOut,
    status=202,
    roles=STUDENT,
    errors=(404, 502),
)
def buy_bundle(call: Call) -> PurchaseOut:
    """Buy a bundle of class credits: M-Pesa asks the phone for its PIN; poll the status URL."""
    body: BundlePurchaseIn = call.body
    try:
        phone = logic.normalize_phone(body.phone_number)
    except logic.InvalidInput as error:
        raise Unprocessable(str(error), code="validation_error") from None
    with daraja_answers():
        payment = purchases.buy(body.bundle_id, call.user.sub, phone)
    return _out(stk.view(payment))


@api.route("/me/class-credits/purchases/{payment_id}", response=PurchaseOut, roles=STUDENT)
def my_bundle_purchase(call: Call, payment_id: str) -> PurchaseOut:
    """One of my bundle purchases: pending, paid, cancelled or failed (with M-Pesa's reason)."""
    return _out(stk.view(purchases.mine(call.user.sub, payment_id)))
