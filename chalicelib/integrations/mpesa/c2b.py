"""C2B (Paybill/Till): the validation and confirmation bodies Safaricom posts, on mpesakit's model.

``TransAmount`` comes as a string (``"10.00"``) or a number; ``MSISDN`` as a number or a string
(or masked); ``BillRefNumber`` is what the payer typed (Paybill) and empty for a till. The answers
to validation are Daraja's documented result codes (``0`` accepts; ``C2B00011``-``C2B00016``
reject, and the payer's money is not taken).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from mpesakit.c2b.schemas import C2BValidationRequest
from pydantic import ValidationError

from chalicelib.core.http import NestingTooDeep, NumberOutOfRange, loads
from chalicelib.integrations.mpesa.callback import CallbackError

ACCEPT = "0"
INVALID_MSISDN, INVALID_ACCOUNT, INVALID_AMOUNT = "C2B00011", "C2B00012", "C2B00013"
INVALID_SHORTCODE, OTHER_ERROR = "C2B00015", "C2B00016"


@dataclass(frozen=True)
class C2BPayment:
    trans_id: str
    amount: Decimal
    reference: str  # BillRefNumber, stripped ("" for a till)
    phone: str
    shortcode: str
    transaction_type: str


def parse_c2b(raw: bytes | str | dict[str, Any]) -> C2BPayment:
    """A validation or confirmation body, flattened; ``CallbackError`` when it is not one."""
    try:
        data = raw if isinstance(raw, dict) else loads(raw or b"")
    except (NestingTooDeep, NumberOutOfRange) as error:
        raise CallbackError(f"not a C2B body: {error}") from None
    except (ValueError, UnicodeDecodeError):
        raise CallbackError("body is not JSON") from None
    if not isinstance(data, dict):
        raise CallbackError("not a C2B body: not an object")
    try:
        body = C2BValidationRequest.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        raise CallbackError(f"not a C2B body: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    try:
        amount = Decimal(str(data["TransAmount"]).strip())
    except (InvalidOperation, KeyError):
        raise CallbackError("TransAmount is not a number") from None
    if not body.TransID.strip() or amount <= 0:
        raise CallbackError("empty TransID or no amount")
    return C2BPayment(
        trans_id=body.TransID.strip(),
        amount=amount,
        reference=(body.BillRefNumber or "").strip(),
        phone=str(body.MSISDN).strip(),
        shortcode=str(body.BusinessShortCode),
        transaction_type=body.TransactionType,
    )


def answer(code: str, desc: str) -> dict[str, str]:
    """The validation answer Daraja expects."""
    return {"ResultCode": code, "ResultDesc": desc}
