"""An STK payment from the buyer's side, for any product: the PIN prompt, Safaricom's callback
(checked, kept, settled at once), and the status a product shows.

The callback path settles the payment itself (one transaction, then the claimed follow-ups)
instead of queueing a job for a worker: on AWS that is tens of milliseconds of DynamoDB and no
router work, and it saves the queue's send. Anything that goes wrong after the callback was kept
queues the job for the payments worker (3 tries, then the DLQ), and a push that never gets a
result is queried by ``service.recovery`` - the answer to Safaricom is the same in every case.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from chalicelib.core import clock
from chalicelib.core.observability import logger
from chalicelib.integrations.mpesa import CallbackError, StkResult, parse_callback
from chalicelib.payments import daraja, logic, messages
from chalicelib.payments.models import callbacks, payments
from chalicelib.payments.models.items import PaymentItem
from chalicelib.payments.offers import Quote
from chalicelib.payments.service import settlement
from chalicelib.payments.settings import payments_settings

# --- initiate -------------------------------------------------------------------------------------


def start(product: str, quote: Quote, phone: str) -> PaymentItem:
    """Push the PIN prompt for a quoted offer and keep the payment pending (with its first STK
    query time). Nothing is written unless Daraja accepted the push (``DarajaError`` otherwise)."""
    s = payments_settings()
    accepted = daraja.client().push(
        phone=phone,
        amount=quote.price,
        callback_url=f"{s.callback_url}/{daraja.callback_token()}",
        account_reference=quote.account_reference,
        description=quote.description,
    )
    payment = payments.create(
        checkout_request_id=accepted.checkout_request_id,
        merchant_request_id=accepted.merchant_request_id,
        product=product,
        quote=quote,
        phone=phone,
        keep_until=int(clock.now() + s.retention_days * 86400),
    )
    logger.info(
        "payment initiated",
        extra={
            "payment_id": payment.payment_id,
            "checkout_request_id": payment.checkout_request_id,
            "product": product,
        },
    )
    return payment


# --- callback -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackAnswer:
    status: int
    body: dict[str, Any]


ACCEPTED = CallbackAnswer(200, {"ResultCode": 0, "ResultDesc": "Accepted"})


def accept_callback(token: str, raw: bytes | None, source_ip: str | None) -> CallbackAnswer:
    """Check and keep the callback, then settle it (or queue it when that fails)."""
    body = (raw or b"").decode("utf-8", errors="replace")
    refused = check_source(token, body, source_ip, "stk")
    if refused:
        return refused
    try:
        result = parse_callback(raw or b"")
    except CallbackError as error:
        callbacks.reject(f"malformed: {error}", body, None, source_ip)
        return CallbackAnswer(400, {"error": {"code": "malformed_callback", "message": str(error)}})
    payment = payments.record_callback(result.checkout_request_id, body)
    if payment is None:
        callbacks.reject("unknown_checkout", body, result.checkout_request_id, source_ip)
        return CallbackAnswer(
            404, {"error": {"code": "unknown_checkout", "message": "no payment with this CheckoutRequestID"}}
        )
    if not payments.settleable(payment):
        logger.info(
            "callback duplicate - payment already settled",
            extra={"checkout_request_id": result.checkout_request_id, "copies": payment.callback_copies},
        )
        return ACCEPTED
    job = _job(result, "callback")
    try:
        settlement.settle(
            result.checkout_request_id,
            result.result_code,
            result.result_desc,
            result.amount,
            result.receipt,
            "callback",
            payment,
        )
    except Exception:  # kept above: the worker retries it (and its follow-ups' takeover)
        logger.exception("settling at the callback failed; queued for the worker", extra=job)
        snapshot = payment.serialize()
        snapshot.pop("callback_raw", None)
        messages.payment_job({**job, "payment": snapshot})
    return ACCEPTED


def check_source(token: str, body: str, source_ip: str | None, endpoint: str) -> CallbackAnswer | None:
    """The path secret and Safaricom's published IPs, shared by every M-Pesa endpoint; a refusal
    is recorded."""
    if not hmac.compare_digest(token.encode(), daraja.callback_token().encode()):
        callbacks.reject("bad_path_secret", body, None, source_ip, endpoint)
        return CallbackAnswer(404, {"error": {"code": "not_found", "message": "not found"}})
    if not _ip_allowed(source_ip):
        callbacks.reject("source_ip", body, None, source_ip, endpoint)
        return CallbackAnswer(403, {"error": {"code": "forbidden", "message": "source not allowed"}})
    return None


def _ip_allowed(source_ip: str | None) -> bool:
    mode = payments_settings().callback_ip_check
    if mode == "off":
        return True
    from mpesakit.security.ip_whitelist import is_mpesa_ip_allowed

    if source_ip and is_mpesa_ip_allowed(source_ip):
        return True
    if mode == "log":
        logger.warning("callback from outside Safaricom's published IPs", extra={"source_ip": source_ip})
        return True
    return False


def _job(result: StkResult, source: str) -> dict[str, Any]:
    return {
        "checkout_request_id": result.checkout_request_id,
        "result_code": result.result_code,
        "result_desc": result.result_desc,
        "amount": str(result.amount) if result.amount is not None else None,
        "receipt": result.receipt,
        "source": source,
    }


# --- what a buyer sees ----------------------------------------------------------------------------


def view(payment: PaymentItem) -> dict[str, Any]:
    """A payment as its buyer reads it: pending, paid, cancelled or failed with Daraja's reason."""
    return {
        "payment_id": payment.payment_id,
        "status": payment.status,
        "offer_id": payment.offer_id,
        "offer_name": payment.offer.get("name"),
        "amount": int(payment.amount),
        "phone": logic.mask_phone(payment.phone),
        "reason": payment.reason,
        "message": payment.message,
        "result_code": payment.result_code,
        "result_desc": payment.result_desc,
        "receipt": payment.receipt,
        "created_at": float(payment.created_at),
        "settled_at": float(payment.settled_at) if payment.settled_at is not None else None,
    }
