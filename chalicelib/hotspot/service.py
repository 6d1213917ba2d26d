"""Hotspot use cases: what the routes, the payment worker and the timers do, step by step.

Each step is a conditional write in ``models``; everything after a state change (provisioning
command, expiry timer, events) is a *follow-up* claimed by the writer in the same write, so a
duplicate delivery finds nothing to do, and a delivery after a crash takes over what was left.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.core import clock, events, timers
from chalicelib.core.observability import MetricUnit, logger, metrics
from chalicelib.hotspot import logic, models
from chalicelib.hotspot.settings import hotspot_settings
from chalicelib.integrations.mpesa import CallbackError, DarajaError, StkResult, parse_callback

DOMAIN = "hotspot"
QUERY = "hotspot.stk_query"
EXPIRE = "hotspot.expire"


class NotSellable(LookupError):
    """The package does not exist, is inactive, or is not sold on that router."""


# --- initiate -------------------------------------------------------------------------------------


def initiate(
    *, package_id: str, phone: str, mac: str | None, router_id: str, ip: str | None
) -> models.PaymentItem:
    """Validate, push the PIN prompt, keep the payment pending and arm the STK query fallback.

    Nothing is written unless Daraja accepted the push (``DarajaError`` otherwise)."""
    package = models.get_package(package_id)
    if package is None or not package.active or router_id not in (package.router_ids or []):
        raise NotSellable(f"package {package_id} is not for sale on router {router_id}")
    s = hotspot_settings()
    accepted = models.daraja().push(
        phone=phone,
        amount=int(package.price),
        callback_url=f"{s.callback_base_url.rstrip('/')}/mpesa/callback/{models.callback_token()}",
        account_reference=s.account_reference,
        description=s.transaction_desc,
    )
    payment = models.create_payment(
        checkout_request_id=accepted.checkout_request_id,
        merchant_request_id=accepted.merchant_request_id,
        package=package,
        router_id=router_id,
        phone=phone,
        mac=mac,
        ip=ip,
    )
    _schedule_query(payment, 0)
    logger.info(
        "payment initiated",
        extra={"payment_id": payment.payment_id, "checkout_request_id": payment.checkout_request_id},
    )
    return payment


def _schedule_query(payment: models.PaymentItem, n: int) -> bool:
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
    if not hmac.compare_digest(token.encode(), models.callback_token().encode()):
        models.reject_callback("bad_path_secret", body, None, source_ip)
        return CallbackAnswer(404, {"error": {"code": "not_found", "message": "not found"}})
    if not _ip_allowed(source_ip):
        models.reject_callback("source_ip", body, None, source_ip)
        return CallbackAnswer(403, {"error": {"code": "forbidden", "message": "source not allowed"}})
    try:
        result = parse_callback(raw or b"")
    except CallbackError as error:
        models.reject_callback(f"malformed: {error}", body, None, source_ip)
        return CallbackAnswer(400, {"error": {"code": "malformed_callback", "message": str(error)}})
    payment = models.record_callback(result.checkout_request_id, body)
    if payment is None:
        models.reject_callback("unknown_checkout", body, result.checkout_request_id, source_ip)
        return CallbackAnswer(
            404, {"error": {"code": "unknown_checkout", "message": "no payment with this CheckoutRequestID"}}
        )
    if models.settleable(payment):
        snapshot = payment.serialize()
        snapshot.pop("callback_raw", None)  # the worker needs the payment's terms, not the body
        models.send_payment_job({**_job(result, "callback"), "payment": snapshot})
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


# --- the payment worker ---------------------------------------------------------------------------


def process_job(job: dict[str, Any]) -> str:
    """One job of the payments queue. It carries the payment as the callback saw it, which
    saves the worker a read; the writes' conditions still decide on the current state."""
    amount = job.get("amount")
    snapshot = models.PaymentItem.from_raw_data(job["payment"]) if job.get("payment") else None
    return settle(
        job["checkout_request_id"],
        str(job["result_code"]),
        job.get("result_desc") or "",
        Decimal(amount) if amount is not None else None,
        job.get("receipt"),
        job.get("source", "callback"),
        snapshot,
    )


def settle(
    checkout_request_id: str,
    result_code: str,
    result_desc: str,
    amount: Decimal | None,
    receipt: str | None,
    settled_by: str,
    snapshot: models.PaymentItem | None = None,
) -> str:
    """Apply one Daraja result to its payment, once. Returns what happened (for logs and tests)."""
    log = {"checkout_request_id": checkout_request_id, "result_code": result_code, "settled_by": settled_by}
    for attempt in range(3):
        payment = snapshot if attempt == 0 and snapshot else models.get_payment(checkout_request_id)
        if payment is None:
            logger.warning("result for unknown payment ignored", extra=log)
            return "unknown"
        log["payment_id"] = payment.payment_id
        if not models.settleable(payment):
            return _resume_followups(payment)
        outcome = logic.judge(result_code, result_desc, amount, int(payment.package["price"]))
        if outcome.status != logic.PAID:
            if not models.settle_failed(
                payment, outcome, result_code, result_desc, settled_by, receipt, amount
            ):
                continue  # settled meanwhile: look again
            logger.info("payment failed", extra={**log, "reason": outcome.reason})
            _followups(payment)
            return outcome.status
        try:
            purchase = models.settle_paid(
                payment,
                result_code=result_code,
                result_desc=result_desc,
                receipt=receipt,
                amount_paid=amount,
                settled_by=settled_by,
            )
        except models.AlreadySettled:
            continue
        except models.ReceiptReused:
            reused = logic.Outcome(logic.FAILED, "receipt_reused", logic.REASONS["receipt_reused"])
            if models.settle_failed(payment, reused, result_code, result_desc, settled_by, receipt, amount):
                logger.warning("payment refused - receipt already used", extra={**log, "receipt": receipt})
                _followups(payment)
                return "receipt_reused"
            continue
        except models.Conflict:
            logger.info("purchase raced another write for the same buyer; retrying", extra=log)
            continue
        logger.info(
            "payment processed", extra={**log, "subscription_id": purchase.subscription.subscription_id}
        )
        _followups(payment, purchase.subscription)
        return logic.PAID
    raise models.Conflict(f"payment {checkout_request_id} could not be settled after 3 tries")


def _resume_followups(payment: models.PaymentItem) -> str:
    """A settled payment: a duplicate (nothing to do), or one whose follow-ups a dead worker left."""
    if payment.followups_at is not None:
        return "duplicate"
    if not models.claim_followups(payment, hotspot_settings().followup_grace_seconds):
        return "duplicate"
    logger.warning("taking over unfinished follow-ups", extra={"payment_id": payment.payment_id})
    _followups(payment)
    return "resumed"


def _followups(payment: models.PaymentItem, sub: models.SubscriptionItem | None = None) -> None:
    """Provisioning command, expiry timer and event of a settled payment; then marked done."""
    if payment.status == logic.PAID:
        sub = sub or models.get_subscription(payment.subscription_id or "")
        if sub is None:
            raise LookupError(f"paid payment {payment.payment_id} has no subscription")
        now = clock.now()
        models.send_router_command(
            logic.provision_command(
                subscription_id=sub.subscription_id,
                router_id=sub.router_id,
                version=int(payment.provision_version or sub.provision_version),
                username=sub.username,
                password=sub.password,
                package_id=sub.package_id,
                rate_limit=sub.rate_limit,
                shared_users=int(sub.shared_users),
                term=sub.term,
                now=now,
                mac=sub.mac,
                ip=sub.ip,
            )
        )
        timers.schedule(EXPIRE, sub.subscription_id, float(sub.expires_at_ts), {})
        events.publish(
            DOMAIN,
            "PaymentProcessed",
            {
                "payment_id": payment.payment_id,
                "checkout_request_id": payment.checkout_request_id,
                "subscription_id": sub.subscription_id,
                "router_id": payment.router_id,
                "package_id": payment.package_id,
                "amount": int(payment.amount),
                "receipt": payment.receipt,
                "phone": logic.mask_phone(payment.phone),
                "renewal": bool(payment.renewal),
                "expires_at": logic.iso(float(sub.expires_at_ts)),
                "settled_by": payment.settled_by,
            },
        )
        metrics.add_metric(name="PaymentsProcessed", unit=MetricUnit.Count, value=1)
    else:
        events.publish(
            DOMAIN,
            "PaymentFailed",
            {
                "payment_id": payment.payment_id,
                "checkout_request_id": payment.checkout_request_id,
                "router_id": payment.router_id,
                "package_id": payment.package_id,
                "amount": int(payment.amount),
                "status": payment.status,
                "reason": payment.reason,
                "result_code": payment.result_code,
                "result_desc": payment.result_desc,
                "phone": logic.mask_phone(payment.phone),
                "message": payment.message,
            },
        )
        metrics.add_metric(name="PaymentsFailed", unit=MetricUnit.Count, value=1)
    models.finish_followups(payment)


# --- STK query fallback ---------------------------------------------------------------------------


def query(checkout_request_id: str, n: int) -> str:
    """No callback yet ``query_after_seconds[n]`` after the push: ask Daraja."""
    payment = models.get_payment(checkout_request_id)
    if payment is None or payment.status != logic.PENDING:
        return "settled"
    try:
        answer = models.daraja().query(checkout_request_id)
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
        if models.settle_failed(payment, outcome, "no_result", "no answer from M-Pesa", "query"):
            _followups(payment)
        return "no_result"
    return settle(checkout_request_id, answer.result_code, answer.result_desc, None, None, "query")


# --- expiry ---------------------------------------------------------------------------------------


def expire(subscription_id: str) -> str:
    """At ``expires_at``: expired, the router told to remove the user, ``SubscriptionExpired``."""
    sub = models.get_subscription(subscription_id)
    if sub is None:
        return "unknown"
    if sub.status == logic.ACTIVE:
        if float(sub.expires_at_ts) > clock.now():
            return "renewed"
        if not models.expire_subscription(sub):
            return "raced"  # renewed or expired by someone else just now
    if sub.deprovision_sent_at is not None:
        return "duplicate"
    if not models.claim_deprovision(sub, hotspot_settings().followup_grace_seconds):
        return "duplicate"
    models.send_router_command(
        logic.deprovision_command(
            subscription_id=sub.subscription_id,
            router_id=sub.router_id,
            version=int(sub.provision_version),
            username=sub.username,
            mac=sub.mac,
        )
    )
    events.publish(
        DOMAIN,
        "SubscriptionExpired",
        {
            "subscription_id": sub.subscription_id,
            "router_id": sub.router_id,
            "username": sub.username,
            "package_id": sub.package_id,
            "expired_at": logic.iso(clock.now()),
        },
    )
    models.mark_deprovision_sent(sub)
    logger.info("subscription expired", extra={"subscription_id": sub.subscription_id})
    return "expired"


def reconcile_expiries(dry_run: bool = False) -> list[tuple[str, str]]:
    """Every active subscription past its expiry, and every expired one never deprovisioned."""
    now = clock.now()
    done: list[tuple[str, str]] = []
    for sub in models.due_subscriptions(now):
        done.append((sub.subscription_id, "would expire" if dry_run else expire(sub.subscription_id)))
    for sub in models.expired_not_deprovisioned():
        done.append((sub.subscription_id, "would deprovision" if dry_run else expire(sub.subscription_id)))
    return done


# --- status ---------------------------------------------------------------------------------------


def status(payment_id: str) -> dict[str, Any] | None:
    """What the buyer's portal shows; only the holder of the unguessable payment id reads it."""
    payment = models.payment_by_id(payment_id)
    if payment is None:
        return None
    sub = (
        models.get_subscription(payment.subscription_id, consistent=False)
        if payment.subscription_id
        else None
    )
    state = logic.public_state(
        payment.status,
        sub.provision_status if sub else None,
        _int(payment.provision_version),
        _int(sub.provision_version) if sub else None,
    )
    out: dict[str, Any] = {
        "payment_id": payment.payment_id,
        "status": state,
        "package": {"id": payment.package_id, "name": payment.package["name"], "price": int(payment.amount)},
        "phone": logic.mask_phone(payment.phone),
        "reason": payment.reason,
        "message": payment.message,
        "receipt": payment.receipt,
    }
    if sub and payment.status == logic.PAID:
        router = models.get_router(sub.router_id)
        out.update(
            username=sub.username,
            password=sub.password,
            login_url=router.login_url if router else None,
            expires_at=logic.iso(float(sub.expires_at_ts)),
        )
    return out


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
