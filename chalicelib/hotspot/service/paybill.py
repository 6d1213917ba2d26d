"""Paybill at the portal: the account number of each package on a router, and "I paid by
Paybill": the payer's settled C2B payment found by phone and its access bound to this device.

A C2B payment to an account number is validated and settled by the payments domain
(``HotspotOffer.account`` recognises the number): its grant is the paying phone's subscription on
that router, like an STK purchase's, but without a device. The claim finds it by phone (the
number, or Safaricom's SHA-256 hash of it) among the phone's payments of the last
``claim_window_seconds`` and binds it to the device (``devices.bind``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.core import clock
from chalicelib.core.errors import NotFound
from chalicelib.hotspot import logic
from chalicelib.hotspot.models import accounts, subscriptions
from chalicelib.hotspot.models.items import PackageItem
from chalicelib.hotspot.service import devices
from chalicelib.hotspot.service.purchase import PRODUCT
from chalicelib.hotspot.settings import hotspot_settings
from chalicelib.payments.models.items import PaymentItem, phone_index
from chalicelib.payments.settings import payments_settings

NOT_FOUND = (
    "No Paybill payment from this number for this hotspot yet. M-Pesa can take a minute to "
    "confirm it: wait for the SMS, then try again."
)


def business() -> dict[str, str] | None:
    """What the portal shows for paying by Paybill (``None``: not offered)."""
    s = hotspot_settings()
    if s.paybill_kind == "off":
        return None
    return {
        "kind": s.paybill_kind,
        "business_number": s.paybill_number or payments_settings().daraja_shortcode,
    }


def account_numbers(router_id: str, packages: list[PackageItem]) -> dict[str, str]:
    """Each package's account number on this router; a pair that has none yet gets one now
    (claimed once, then stable)."""
    if business() is None or not packages:
        return {}
    found = accounts.numbers(router_id, [p.package_id for p in packages])
    for package in packages:
        if package.package_id not in found:
            found[package.package_id] = accounts.claim(router_id, package.package_id)
    return found


@dataclass(frozen=True)
class Claimed:
    subscription_id: str
    receipt: str | None
    message: str


def claim(
    *, router_id: str, package_id: str | None, phone: str, mac: str, ip: str | None, source_ip: str | None
) -> Claimed:
    """The phone's newest Paybill payment for this router (and package, when named) of the claim
    window, its access bound to this device. ``NotFound`` (``payment_not_found``), ``Conflict``
    (``already_claimed``, ``access_ended``), ``TooManyRequests``."""
    devices.limit("Paybill claims", "claim", mac, source_ip)
    payment = find_payment(phone, router_id, package_id)
    sub = subscriptions.get(payment.grant_id or "") if payment else None
    if payment is None or sub is None:
        raise NotFound(NOT_FOUND, code="payment_not_found")
    bound = devices.bind(sub, mac, ip, move=False)
    message = (
        "Payment found. Log in with the username and password shown."
        if bound.move.kind == "shared"
        else "Payment found. Setting up your access on this device…"
    )
    return Claimed(sub.subscription_id, payment.receipt, message)


def find_payment(phone: str, router_id: str, package_id: str | None) -> PaymentItem | None:
    """The newest paid hotspot C2B payment of this phone (or its hash) for this router within
    the claim window (one Query per form of the phone on the payments' phone index)."""
    since = clock.time_key(clock.now() - hotspot_settings().claim_window_seconds)
    best: PaymentItem | None = None
    for payer in logic.payer_keys(phone):
        query: Any = PaymentItem.gsi2.query(
            phone_index(payer), PaymentItem.gsi2sk >= since, scan_index_forward=False, limit=50
        )
        for payment in query:
            if (
                payment.product == PRODUCT
                and payment.method == "c2b"
                and payment.status == logic.PAID
                and payment.scope == router_id
                and payment.grant_id
                and (package_id is None or payment.offer_id == package_id)
            ):
                if best is None or float(payment.created_at) > float(best.created_at):
                    best = payment
                break  # newest first: the first match is this form's newest
    return best
