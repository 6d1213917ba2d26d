"""Paybill/Till at the portal: the account number of each package on a router, and "I paid":
the payer's C2B payment found by phone and its access bound to this device.

A C2B payment to an account number is validated and settled by the payments domain
(``HotspotOffer.account`` recognises the number): its grant is the paying phone's subscription on
that router, like an STK purchase's, but without a device. The claim finds it by phone (the
number, or Safaricom's SHA-256 hash of it) among the phone's payments of the last
``claim_window_seconds`` and binds it to the device (``devices.bind``).

A Till (Buy Goods) payment names no package: validation takes it when its amount is some active
package's price, the confirmation keeps it ``held`` (``offers.ClaimLater``), and the claim picks
the package of that price on the router the buyer is at, then settles it for that package and
device in one transaction (``settlement.settle_held``): two claims of one payment → one grant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.core import clock
from chalicelib.core.errors import NotFound, Unprocessable
from chalicelib.hotspot import logic
from chalicelib.hotspot.models import accounts, subscriptions
from chalicelib.hotspot.models.items import PackageItem
from chalicelib.hotspot.service import catalog, devices
from chalicelib.hotspot.service.purchase import PRODUCT, quote
from chalicelib.hotspot.settings import hotspot_settings
from chalicelib.payments.models import payments
from chalicelib.payments.models.items import PaymentItem, phone_index
from chalicelib.payments.service import settlement
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
    if business() is None or hotspot_settings().paybill_kind != "paybill" or not packages:
        return {}  # a till has no account numbers: the amount picks the package
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


SETTING_UP = "Payment found. Setting up your access on this device…"


def claim(
    *, router_id: str, package_id: str | None, phone: str, mac: str, ip: str | None, source_ip: str | None
) -> Claimed:
    """The phone's newest Paybill payment for this router (and package, when named) of the claim
    window, its access bound to this device; with a Till, the phone's newest held Till payment
    whose amount is one package's price here, settled for that package and this device.
    ``NotFound`` (``payment_not_found``), ``Conflict`` (``already_claimed``, ``access_ended``),
    ``Unprocessable`` (``package_ambiguous``), ``TooManyRequests``."""
    devices.limit("Paybill claims", "claim", mac, source_ip)
    recent = _recent(phone)
    payment = next((p for p in recent if _paid_here(p, router_id, package_id)), None)
    if hotspot_settings().paybill_kind == "till":  # a Till payment newer than any settled one first
        newer = [p for p in recent if payment is None or float(p.created_at) > float(payment.created_at)]
        till, settled = _claim_till(newer, router_id, package_id, mac, ip)
        if till is not None and settled:
            return Claimed(till.grant_id or "", till.receipt, SETTING_UP)
        payment = till or payment
    sub = subscriptions.get(payment.grant_id or "") if payment else None
    if payment is None or sub is None:
        raise NotFound(NOT_FOUND, code="payment_not_found")
    bound = devices.bind(sub, mac, ip, move=False)
    message = (
        "Payment found. Log in with the username and password shown."
        if bound.move.kind == "shared"
        else SETTING_UP
    )
    return Claimed(sub.subscription_id, payment.receipt, message)


def _recent(phone: str) -> list[PaymentItem]:
    """The phone's hotspot C2B payments of the claim window, newest first: one Query per form of
    the phone (the number, Safaricom's hash of it) on the payments' phone index."""
    since = clock.time_key(clock.now() - hotspot_settings().claim_window_seconds)
    found: list[PaymentItem] = []
    for payer in logic.payer_keys(phone):
        query: Any = PaymentItem.gsi2.query(
            phone_index(payer), PaymentItem.gsi2sk >= since, scan_index_forward=False, limit=50
        )
        found += [p for p in query if p.product == PRODUCT and p.method == "c2b"]
    return sorted(found, key=lambda p: float(p.created_at), reverse=True)


def _paid_here(payment: PaymentItem, router_id: str, package_id: str | None) -> bool:
    return (
        payment.status == logic.PAID
        and payment.scope == router_id
        and bool(payment.grant_id)
        and (package_id is None or payment.offer_id == package_id)
    )


def _claim_till(
    recent: list[PaymentItem], router_id: str, package_id: str | None, mac: str, ip: str | None
) -> tuple[PaymentItem | None, bool]:
    """The newest held Till payment whose amount is the price of exactly one package sold here
    (the named one, if named), settled now for it, for this device (``True``); or the same
    payment settled meanwhile by another claim (``False``: the caller binds it); or none."""
    sold = catalog.packages(router_id, active_only=True)
    for payment in (p for p in recent if p.status == logic.HELD):
        priced = [p for p in sold if int(p.price) == int(payment.amount)]
        matching = [p for p in priced if package_id is None or p.package_id == package_id]
        if len(matching) > 1:
            raise Unprocessable(
                f"More than one package costs KES {int(payment.amount)}: choose the one you paid for.",
                code="package_ambiguous",
            )
        if not matching:
            continue
        sale = quote(matching[0].package_id, router_id, payment.phone, mac, ip)
        outcome = settlement.settle_held(payment.checkout_request_id, sale)
        now = payments.get(payment.checkout_request_id)
        if outcome == logic.PAID and now is not None:
            return now, True
        if now is not None and _paid_here(now, router_id, None):
            return now, False
    return None, False
