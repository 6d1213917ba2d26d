"""Safaricom's documented STK callback bodies (Daraja docs, "M-Pesa Express" results), for the
tiers that post callbacks: one copy of the payload, the values the test's own."""

from __future__ import annotations

from typing import Any


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
