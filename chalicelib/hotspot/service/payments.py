"""A payment from the buyer's side: the PIN prompt, Safaricom's callback, the STK query
fallback when no callback comes, and the status the portal polls."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from chalicelib.core import clock, timers
from chalicelib.core.observability import logger
from chalicelib.hotspot import daraja, logic, messages
from chalicelib.hotspot.models import callbacks, catalog, payments, subscriptions
from chalicelib.hotspot.models.items import PaymentItem, to_int
from chalicelib.hotspot.service import access, settlement
from chalicelib.hotspot.settings import hotspot_settings
from chalicelib.integrations.mpesa import CallbackError, DarajaError, StkResult, parse_callback

QUERY = "hotspot.stk_query"


class NotSellable(LookupError):
    """The package does not exist, is inactive, or is not sold on that router."""


# --- initiate -------------------------------------------------------------------------------------


def initiate(*, package_id: str, phone: str, mac: str | None, router_id: str, ip: str | None) -> PaymentItem:
    """Validate, push the PIN prompt, keep the payment pending and arm the STK query fallback.

    Nothing is written unless Daraja accepted the push (``DarajaError`` otherwise)."""
    package = catalog.get_package(package_id)
    if package is None or not package.active or router_id not in (package.router_ids or []):
        raise NotSellable(f"package {package_id} is not for sale on router {router_id}")
    s = hotspot_settings()
    accepted = daraja.client().push(
        phone=phone,
        amount=int(package.price),
        callback_url=f"{s.callback_base_url.rstrip('/')}/mpesa/callback/{daraja.callback_token()}",
        account_reference=s.account_reference,
        description=s.transaction_desc,
    )
    payment = payments.create(
        checkout_request_id=accepted.checkout_request_id,
        merchant_request_id=accepted.merchant_request_id,
        package=package,
        router_id=router_id,
        phone=phone,
        mac=mac,
        ip=ip,
        keep_until=int(clock.now() + s.retention_days * 86400),
    )
    _schedule_query(payment, 0)
    logger.info(
        "payment initiated",
        extra={"payment_id": payment.payment_id, "checkout_request_id": payment.checkout_request_id},
    )
    return payment


def _schedule_query(payment: PaymentItem, n: int) -> bool:
    after = hotspot_settings().query_after_seconds
    if n >= len(after):
        return False
    timers.schedule(
        QUERY,
        f"{payment.checkout_request_id}:{n}",
        float(payment.created_at) + after[n],
        {"checkout_request_id": payment.checkout_request_id, "n": n},
    )
    return True


# --- callback -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackAnswer:
    status: int
    body: dict[str, Any]


ACCEPTED = CallbackAnswer(200, {"ResultCode": 0, "ResultDesc": "Accepted"})


def accept_callback(token: str, raw: bytes | None, source_ip: str | None) -> CallbackAnswer:
    """Check, record, queue; never more on this path (Safaricom waits on it)."""
    body = (raw or b"").decode("utf-8", errors="replace")
    if not hmac.compare_digest(token.encode(), daraja.callback_token().encode()):
        callbacks.reject("bad_path_secret", body, None, source_ip)
        return CallbackAnswer(404, {"error": {"code": "not_found", "message": "not found"}})
    if not _ip_allowed(source_ip):
        callbacks.reject("source_ip", body, None, source_ip)
        return CallbackAnswer(403, {"error": {"code": "forbidden", "message": "source not allowed"}})
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
    if payments.settleable(payment):
        snapshot = payment.serialize()
        snapshot.pop("callback_raw", None)  # the worker needs the payment's terms, not the body
        messages.payment_job({**_job(result, "callback"), "payment": snapshot})
    else:
        logger.info(
            "callback duplicate - payment already settled",
            extra={"checkout_request_id": result.checkout_request_id, "copies": payment.callback_copies},
        )
    return ACCEPTED


def _ip_allowed(source_ip: str | None) -> bool:
    mode = hotspot_settings().callback_ip_check
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


# --- STK query fallback ---------------------------------------------------------------------------


def query(checkout_request_id: str, n: int) -> str:
    """No callback yet ``query_after_seconds[n]`` after the push: ask Daraja."""
    payment = payments.get(checkout_request_id)
    if payment is None or payment.status != logic.PENDING:
        return "settled"
    try:
        answer = daraja.client().query(checkout_request_id)
    except DarajaError as error:
        if error.retryable and _schedule_query(payment, n + 1):
            logger.warning("STK query failed; asking again later", extra={"error": str(error)})
            return "retry"
        if error.retryable:
            raise  # the timer's own retries, then `muda failed`
        answer = None
        logger.warning(
            "STK query refused", extra={"error": str(error), "checkout_request_id": checkout_request_id}
        )
    if answer is None:  # still processing
        if _schedule_query(payment, n + 1):
            return "processing"
        outcome = logic.Outcome(logic.FAILED, "no_result", logic.REASONS["no_result"])
        settlement.fail(payment, outcome, logic.Settlement("no_result", "no answer from M-Pesa", "query"))
        return "no_result"
    return settlement.settle(checkout_request_id, answer.result_code, answer.result_desc, None, None, "query")


# --- status ---------------------------------------------------------------------------------------


def status(payment_id: str) -> dict[str, Any] | None:
    """What the buyer's portal shows; only the holder of the unguessable payment id reads it."""
    payment = payments.by_id(payment_id)
    if payment is None:
        return None
    sub = subscriptions.get(payment.subscription_id, consistent=False) if payment.subscription_id else None
    state = logic.public_state(
        payment.status,
        sub.provision_status if sub else None,
        to_int(payment.provision_version),
        to_int(sub.provision_version) if sub else None,
    )
    out: dict[str, Any] = {
        "payment_id": payment.payment_id,
        "status": state,
        "package": {"id": payment.package_id, "name": payment.package["name"], "price": int(payment.amount)},
        "phone": logic.mask_phone(payment.phone),
        "reason": payment.reason,
        "message": payment.message,
        "receipt": payment.receipt,
        "access": access.access(state, sub, payment.settled_at, clock.now()).public(),
    }
    if sub and payment.status == logic.PAID:
        router = catalog.get_router(sub.router_id)
        out.update(
            username=sub.username,
            password=sub.password,
            login_url=router.login_url if router else None,
            expires_at=logic.iso(float(sub.expires_at_ts)),
        )
    return out
