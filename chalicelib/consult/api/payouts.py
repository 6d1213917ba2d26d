"""Payouts of doctors' earnings by M-Pesa B2C: ``POST /me/payouts`` (a doctor withdraws),
``POST /admin/payouts/batch`` (an admin pays several out), ``GET /me/payouts``."""

from __future__ import annotations

from pydantic import BaseModel, Field

from chalicelib.consult import payouts
from chalicelib.core.errors import Conflict, Unprocessable
from chalicelib.core.http import Api, Call
from chalicelib.core.schemas import RequestBody
from chalicelib.payments import logic
from chalicelib.payments.models.items import PayoutItem
from chalicelib.payments.service.b2c import InsufficientBalance

api = Api(__name__, tag="consult")


class PayoutIn(RequestBody):
    phone_number: str = Field(min_length=9, max_length=16, description="The M-Pesa phone paid")
    amount: int | None = Field(default=None, ge=10, le=150_000, description="Whole KES; all when omitted")


class BatchLine(RequestBody):
    doctor_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@:+-]+$")
    phone_number: str = Field(min_length=9, max_length=16)
    amount: int | None = Field(default=None, ge=10, le=150_000)


class BatchIn(RequestBody):
    payouts: list[BatchLine] = Field(min_length=1, max_length=100)


class PayoutOut(BaseModel):
    payout_id: str
    status: str = Field(description="requested | sent | paid | failed (the debit given back)")
    amount: int
    phone: str
    receipt: str | None = None
    result_code: str | None = None
    result_desc: str | None = None
    created_at: float
    settled_at: float | None = None


class PayoutList(BaseModel):
    payouts: list[PayoutOut]


class BatchOut(BaseModel):
    payouts: list[PayoutOut]
    refused: list[dict[str, str]]


def _out(p: PayoutItem) -> PayoutOut:
    return PayoutOut(
        payout_id=p.payout_id,
        status=p.status,
        amount=int(p.amount),
        phone=logic.mask_phone(p.phone),
        receipt=p.receipt,
        result_code=p.result_code,
        result_desc=p.result_desc,
        created_at=float(p.created_at),
        settled_at=float(p.settled_at) if p.settled_at is not None else None,
    )


def _phone(raw: str) -> str:
    try:
        return logic.normalize_phone(raw)
    except logic.InvalidInput as error:
        raise Unprocessable(str(error), code="validation_error") from None


@api.route(
    "/me/payouts", "POST", body=PayoutIn, response=PayoutOut, status=202, roles=("doctor",), errors=(409,)
)
def withdraw(call: Call) -> PayoutOut:
    """Withdraw earnings to M-Pesa: the wallet is debited first; the result settles or returns it."""
    body: PayoutIn = call.body
    try:
        payout = payouts.withdraw(call.user.sub, _phone(body.phone_number), body.amount, call.user.sub)
    except InsufficientBalance:
        raise Conflict("your balance does not cover this payout", code="insufficient_balance") from None
    return _out(payout)


@api.route("/me/payouts", response=PayoutList, roles=("doctor",))
def my_payouts(call: Call) -> PayoutList:
    """My payouts, newest first."""
    return PayoutList(payouts=[_out(p) for p in payouts.mine(call.user.sub)])


@api.route("/admin/payouts/batch", "POST", body=BatchIn, response=BatchOut, status=202, roles=("admin",))
def batch(call: Call) -> BatchOut:
    """Pay several doctors out (each line once; a line the balance does not cover is refused)."""
    body: BatchIn = call.body
    done, refused = [], []
    for line in body.payouts:
        try:
            done.append(
                _out(payouts.withdraw(line.doctor_id, _phone(line.phone_number), line.amount, call.user.sub))
            )
        except InsufficientBalance:
            refused.append({"doctor_id": line.doctor_id, "reason": "insufficient_balance"})
    return BatchOut(payouts=done, refused=refused)
