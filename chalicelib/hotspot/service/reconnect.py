""" "I already paid": the M-Pesa receipt code from the SMS and the paying phone → that payment's
access, bound to this device (moved from the old one; a one-device package's old session is
removed by the provisioner: ``previous_mac`` in the command).

A wrong receipt and a wrong phone get the same answer (``receipt_not_found``): no oracle for
either; guesses are limited per device and per address (``devices.limit``).
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.core import clock
from chalicelib.core.errors import Conflict, NotFound, Unprocessable
from chalicelib.hotspot import logic
from chalicelib.hotspot.models import subscriptions
from chalicelib.hotspot.service import devices
from chalicelib.hotspot.service.purchase import PRODUCT
from chalicelib.payments.models import payments, receipts

NOT_FOUND = "No payment with this receipt code from this phone number. Check both against the M-Pesa SMS."


@dataclass(frozen=True)
class Reconnected:
    subscription_id: str
    message: str


def reconnect(
    *, receipt: str, phone: str, router_id: str, mac: str, ip: str | None, source_ip: str | None
) -> Reconnected:
    """``NotFound`` (``receipt_not_found``), ``Conflict`` (``access_ended``), ``Unprocessable``
    (``wrong_router``), ``TooManyRequests``."""
    devices.limit("reconnect attempts", "reconnect", mac, source_ip)
    used = receipts.used(receipt)
    payment = payments.get(used.checkout_request_id) if used else None
    if (
        payment is None
        or payment.product != PRODUCT
        or payment.status != logic.PAID
        or not payment.grant_id
        or not logic.paid_by(payment.phone, phone)
    ):
        raise NotFound(NOT_FOUND, code="receipt_not_found")
    sub = subscriptions.get(payment.grant_id)
    if sub is None:
        raise NotFound(NOT_FOUND, code="receipt_not_found")
    if not logic.still_active(sub.status, float(sub.expires_at_ts), clock.now()):
        raise Conflict(devices.ENDED, code="access_ended")
    if sub.router_id != router_id:
        raise Unprocessable(
            "This payment is for another hotspot: connect to that one's WiFi to use it.", code="wrong_router"
        )
    bound = devices.bind(sub, mac, ip, move=True)
    message = {
        "same": "Welcome back. Logging this device in again…",
        "moved": "Welcome back. Moving your access to this device…",
    }.get(bound.move.kind, "Welcome back. Setting up your access on this device…")
    return Reconnected(sub.subscription_id, message)
