"""The STK callback Safaricom posts to our CallBackURL, parsed with mpesakit's model.

``ResultCode`` comes as a number or as a string (``"0"``, ``"SFC_IC0003"``); metadata items are
read by ``Name`` (their order is not fixed, ``Balance`` has no value); a failure has no
``CallbackMetadata``. Anything else is a ``CallbackError`` with a short reason to record, a body
nested deeper than the API's limit included (read by the edge's own JSON reader, no recursion).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from mpesakit.mpesa_express import StkPushSimulateCallback
from pydantic import ValidationError

from chalicelib.core.http import NestingTooDeep, NumberOutOfRange, loads


class CallbackError(ValueError):
    """The body is not an STK callback we can act on."""


@dataclass(frozen=True)
class StkResult:
    merchant_request_id: str
    checkout_request_id: str
    result_code: str  # normalised to text: "0", "1032", "SFC_IC0003"
    result_desc: str
    amount: Decimal | None = None
    receipt: str | None = None
    transaction_date: str | None = None  # YYYYMMDDHHmmss, Nairobi time
    phone: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0"


def parse_callback(raw: bytes | str | dict[str, Any]) -> StkResult:
    """Validate and flatten one callback body; ``CallbackError`` when it is not one."""
    try:
        data = raw if isinstance(raw, dict) else loads(raw or b"")
    except (NestingTooDeep, NumberOutOfRange) as error:  # no callback nests so or carries such a number
        raise CallbackError(f"not an STK callback: {error}") from None
    except (ValueError, UnicodeDecodeError):
        raise CallbackError("body is not JSON") from None
    try:
        callback = StkPushSimulateCallback.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CallbackError(f"not an STK callback: {where}: {first['msg']}") from None
    stk = callback.Body.stkCallback
    code = _code(stk.ResultCode)
    if not stk.CheckoutRequestID.strip():
        raise CallbackError("empty CheckoutRequestID")
    result = StkResult(stk.MerchantRequestID, stk.CheckoutRequestID, code, stk.ResultDesc)
    if code != "0":
        return result
    amount, receipt = callback.get_metadata_value("Amount"), callback.get_metadata_value("MpesaReceiptNumber")
    if amount is None or not receipt:
        raise CallbackError("success callback without Amount or MpesaReceiptNumber")
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise CallbackError(f"Amount is not a number: {amount!r}") from None
    date, phone = callback.get_metadata_value("TransactionDate"), callback.get_metadata_value("PhoneNumber")
    return StkResult(
        stk.MerchantRequestID,
        stk.CheckoutRequestID,
        code,
        stk.ResultDesc,
        amount=value,
        receipt=str(receipt).strip(),
        transaction_date=_digits(date),
        phone=_digits(phone),
    )


def _code(value: int | str) -> str:
    text = str(value).strip()
    try:
        return str(int(text))  # "0", 0, "1032" and 1032 alike
    except ValueError:
        return text


def _digits(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)
