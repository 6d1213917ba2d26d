"""The console's look-ups: thin reads over each product's own, in one shape for people.

A hotspot payment is found by phone, M-Pesa receipt or CheckoutRequestID, and told as a timeline
from what its records already hold: the payment (initiated, callback copies, settled), the
payment worker's and the provisioner's failed tries (``core.queues.FailedAttempt``, matched on
the job's summary), the subscription (provisioned, its error, expiry). Consultation sessions,
classes and waiting-room events are read through their own services.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core import clock, db
from chalicelib.core.config import get_settings
from chalicelib.core.queues import FailedAttempt, failed_key
from chalicelib.hotspot import logic
from chalicelib.hotspot.models import subscriptions
from chalicelib.hotspot.service import access
from chalicelib.payments.models import items as pay_items
from chalicelib.payments.models import payments

MAX_PAYMENTS = 20


def find_payments(
    phone: str | None = None, receipt: str | None = None, checkout_request_id: str | None = None
) -> list[dict[str, Any]]:
    """Payments, newest first, each with its timeline (raises ``InvalidInput`` for a bad phone)."""
    found: list[Any] = []
    if checkout_request_id:
        payment = payments.get(checkout_request_id)
        found += [payment] if payment else []
    elif receipt:
        used = db.get_or_none(pay_items.ReceiptItem, *pay_items.receipt_key(receipt.strip().upper()))
        payment = payments.get(used.checkout_request_id) if used else None
        found += [payment] if payment else []
    elif phone:  # the number, or the SHA-256 some shortcodes' C2B callbacks carry instead
        for payer in logic.payer_keys(logic.normalize_phone(phone)):
            index = pay_items.phone_index(payer)
            found += pay_items.PaymentItem.gsi2.query(index, scan_index_forward=False, limit=MAX_PAYMENTS)
        found.sort(key=lambda p: float(p.created_at), reverse=True)
    return [payment_view(p) for p in found[:MAX_PAYMENTS]]


def _tries(queue: str, needle: str) -> list[FailedAttempt]:
    name = get_settings().name(queue)
    return list(
        FailedAttempt.query(failed_key(name), filter_condition=FailedAttempt.summary.contains(needle))
    )


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def payment_view(payment: pay_items.PaymentItem) -> dict[str, Any]:
    hotspot = payment.product == "hotspot"  # its grant is a subscription on a router
    subscription_id = payment.grant_id if hotspot else None
    version = payment.grant_version
    sub = subscriptions.get(subscription_id) if subscription_id else None
    state = (
        logic.public_state(
            payment.status,
            sub.provision_status if sub else None,
            None if version is None else int(version),
            None if sub is None else int(sub.provision_version),
        )
        if hotspot
        else payment.status
    )
    now = clock.now()
    events: list[tuple[float | None, str, str]] = [
        (
            float(payment.created_at),
            "initiated",
            f"KES {int(payment.amount)} for {payment.product} {payment.offer_id}",
        )
    ]
    if payment.callback_at is not None:
        copies = int(payment.callback_copies or 1)
        events.append(
            (_number(payment.callback_at), "callback", f"{copies} cop{'y' if copies == 1 else 'ies'}")
        )
    for attempt in _tries("payments", payment.checkout_request_id):
        events.append(
            (float(attempt.failed_at), "worker_try", f"try {int(attempt.attempts)}: {attempt.error}")
        )
    if payment.settled_at is not None:
        how = f"by {payment.settled_by}" if payment.settled_by else ""
        outcome = "settled" if payment.status == logic.PAID else "failed"
        events.append(
            (
                _number(payment.settled_at),
                outcome,
                " ".join(filter(None, [payment.status, payment.reason, how])),
            )
        )
    if sub is not None:
        for attempt in _tries("provisioning", sub.username):
            events.append(
                (
                    float(attempt.failed_at),
                    "provisioning_try",
                    f"try {int(attempt.attempts)}: {attempt.error}",
                )
            )
        if sub.provision_status == "provisioned" and sub.provisioned_at is not None:
            events.append(
                (
                    _number(sub.provisioned_at),
                    "provisioned",
                    f"after {int(sub.provision_attempts or 1)} try(ies)",
                )
            )
        elif sub.provision_status == "provision_failed":
            events.append((None, "provision_failed", sub.provision_error or ""))
        expiry = float(sub.expires_at_ts)
        events.append((expiry, "expired" if expiry <= now else "expires", sub.status or ""))
    timeline = [
        {"at": at, "what": what, "detail": detail}
        for at, what, detail in sorted(events, key=lambda e: (e[0] is None, e[0] or 0.0))
    ]
    buyer = access.access(state, sub, _number(payment.settled_at), now)
    return {
        "payment_id": payment.payment_id,
        "checkout_request_id": payment.checkout_request_id,
        "phone": payment.phone,
        "status": state,
        "access": buyer.state if hotspot else None,  # only a hotspot purchase waits on a router
        "provision_error": buyer.error if hotspot else None,
        "amount": int(payment.amount),
        "receipt": payment.receipt,
        "product": payment.product,
        "router_id": payment.scope,
        "subscription_id": subscription_id,
        "timeline": timeline,
    }


def plain(value: Any) -> Any:
    """A product's records as JSON (PynamoDB items and maps, Decimals, pydantic models)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "to_simple_dict"):
        return plain(value.to_simple_dict())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return value
