"""Safaricom's documented callback bodies (Daraja docs: "M-Pesa Express" results, C2B validation
and confirmation), for the tiers that post callbacks: one copy of each payload, the values the
test's own."""

from __future__ import annotations

import random
import string
from typing import Any

SHORTCODE = "174379"  # Daraja's sandbox shortcode, the tests' configured one


def c2b_body(
    reference: str, amount: Any, msisdn: Any = 254708374149, trans_id: str | None = None
) -> dict[str, Any]:
    """A C2B validation or confirmation body (``TransAmount`` a string in validation, a number in
    confirmation; ``MSISDN`` a number, a string, masked or hashed, as shortcodes differ)."""
    return {
        "TransactionType": "Pay Bill",
        "TransID": trans_id or "S" + "".join(random.choices(string.ascii_uppercase + string.digits, k=9)),
        "TransTime": "20261201063845",
        "TransAmount": amount,
        "BusinessShortCode": SHORTCODE,
        "BillRefNumber": reference,
        "InvoiceNumber": "",
        "OrgAccountBalance": "",
        "ThirdPartyTransID": "",
        "MSISDN": msisdn,
        "FirstName": "John",
        "MiddleName": "",
        "LastName": "Doe",
    }


def stk_success(checkout: str, amount: float, receipt: str, code: Any = 0) -> dict[str, Any]:
    """The success callback (``code`` other than 0 for a malformed one that still carries metadata)."""
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "29115-34620561-1",
                "CheckoutRequestID": checkout,
                "ResultCode": code,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": amount},
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20191219102115},
                        {"Name": "PhoneNumber", "Value": 254708374149},
                    ]
                },
            }
        }
    }


def stk_failure(checkout: str, code: Any, desc: str) -> dict[str, Any]:
    """A failed push's callback (1032 cancelled, 1037 no answer, 2001 wrong PIN, ...)."""
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "29115-34620561-1",
                "CheckoutRequestID": checkout,
                "ResultCode": code,
                "ResultDesc": desc,
            }
        }
    }
