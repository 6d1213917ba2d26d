"""Payment rules without AWS: phone numbers, what a Daraja result means for a payment, which
payments a result may still settle, and when a pending push is queried."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal

PHONE = re.compile(r"^254[17]\d{8}$")

PENDING, PAID, FAILED, CANCELLED = "pending", "paid", "failed", "cancelled"
HELD = "held"  # a C2B payment nothing matched (for the operator), or a Till payment awaiting its claim

# Daraja result codes → (payment status, reason code, what the buyer reads)
RESULTS: dict[str, tuple[str, str, str]] = {
    "1": (FAILED, "insufficient_funds", "Your M-Pesa balance is not enough for this purchase."),
    "1001": (FAILED, "subscriber_locked", "M-Pesa is busy with another transaction on your line. Try again."),
    "1019": (FAILED, "expired", "The payment request expired. Try again."),
    "1025": (FAILED, "push_not_sent", "M-Pesa could not send the prompt to your phone. Try again."),
    "9999": (FAILED, "push_not_sent", "M-Pesa could not send the prompt to your phone. Try again."),
    "1032": (CANCELLED, "cancelled", "You cancelled the payment on your phone."),
    "1037": (FAILED, "timeout", "We could not reach your phone, or the PIN was not entered in time."),
    "2001": (FAILED, "wrong_pin", "The M-Pesa PIN was wrong. Try again."),
}
REASONS = {
    "amount_mismatch": "The amount paid does not match the price; contact support with your receipt.",
    "receipt_reused": "This M-Pesa receipt was already used.",
    "no_result": "M-Pesa gave no answer for this payment. If you were charged, contact support.",
}


class InvalidInput(ValueError):
    """A value a client sent that we cannot use (the API renders it as 422)."""


# Safaricom's hashed MSISDN on some shortcodes' C2B callbacks: SHA-256 (hex) of 2547XXXXXXXX.
HASHED_MSISDN = re.compile(r"^[0-9a-fA-F]{64}$")


def phone_hash(phone: str) -> str:
    """The hash a C2B callback carries instead of this (normalized) phone on such shortcodes."""
    return hashlib.sha256(phone.encode()).hexdigest()


def payer_keys(phone: str) -> tuple[str, str]:
    """What a payment of this (normalized) phone may carry as its payer: the number, or its hash."""
    return phone, phone_hash(phone)


def normalize_phone(raw: str) -> str:
    """``07XXXXXXXX``, ``01XXXXXXXX``, ``+2547…``, ``2541…`` → ``2547XXXXXXXX`` / ``2541XXXXXXXX``."""
    digits = re.sub(r"[\s\-()]", "", raw or "")
    if digits.startswith("+"):
        digits = digits[1:]
    if digits.startswith("0") and len(digits) == 10:
        digits = "254" + digits[1:]
    elif len(digits) == 9 and digits[0] in "17":
        digits = "254" + digits
    if not PHONE.match(digits):
        raise InvalidInput("phone_number must be a Kenyan mobile number such as 0712345678 or 254712345678")
    return digits


def mask_phone(phone: str) -> str:
    return phone[:6] + "***" + phone[-3:] if len(phone) >= 9 else "***"


@dataclass(frozen=True)
class Outcome:
    """What one Daraja result (callback or query) does to a pending payment."""

    status: str  # paid | failed | cancelled
    reason: str | None = None  # machine reason for failed/cancelled
    message: str | None = None  # human text


def judge(result_code: str, result_desc: str, amount: Decimal | None, price: int) -> Outcome:
    """Paid only on code 0 with the exact price (a callback's amount; a query carries none)."""
    if result_code == "0":
        if amount is not None and amount != Decimal(price):
            return Outcome(FAILED, "amount_mismatch", REASONS["amount_mismatch"])
        return Outcome(PAID)
    status, reason, message = RESULTS.get(
        result_code, (FAILED, f"mpesa_{result_code}", result_desc or "M-Pesa declined the payment.")
    )
    return Outcome(status, reason, message)


def no_result() -> Outcome:
    return Outcome(FAILED, "no_result", REASONS["no_result"])


@dataclass(frozen=True)
class Settlement:
    """One Daraja result as applied to a payment: what it said and who brought it."""

    result_code: str
    result_desc: str
    settled_by: str  # callback | query | confirmation
    receipt: str | None = None
    amount_paid: Decimal | None = None


def settleable(status: str, reason: str | None) -> bool:
    """Which payments a Daraja result may still settle: pending, or given up on for lack of an
    answer (a late callback still counts)."""
    return status == PENDING or (status == FAILED and reason == "no_result")


def query_at(created_at: float, n: int, after: tuple[float, ...]) -> float | None:
    """When STK query ``n`` of a push made at ``created_at`` is due; ``None`` after the last."""
    return created_at + after[n] if n < len(after) else None
