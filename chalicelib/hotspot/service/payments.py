"""A hotspot purchase from the buyer's side: the PIN prompt for a package on a router (through
the payments domain) and the status the portal polls."""

from __future__ import annotations

from typing import Any

from chalicelib.core import clock
from chalicelib.hotspot import logic
from chalicelib.hotspot.models import catalog, subscriptions
from chalicelib.hotspot.models.items import SubscriptionItem, to_int
from chalicelib.hotspot.service import access
from chalicelib.hotspot.service.purchase import PRODUCT, quote
from chalicelib.payments.models import payments
from chalicelib.payments.models.items import PaymentItem
from chalicelib.payments.offers import NotForSale
from chalicelib.payments.service import stk

NotSellable = NotForSale  # the package does not exist, is inactive, or is not sold on that router


def initiate(*, package_id: str, phone: str, mac: str | None, router_id: str, ip: str | None) -> PaymentItem:
    """Validate, push the PIN prompt and keep the payment pending (its STK query comes with it).

    Nothing is written unless Daraja accepted the push (``DarajaError`` otherwise)."""
    return stk.start(PRODUCT, quote(package_id, router_id, phone, mac, ip), phone)


def status(payment_id: str) -> dict[str, Any] | None:
    """What the buyer's portal shows; only the holder of the unguessable payment id reads it."""
    payment = payments.by_id(payment_id)
    if payment is None or payment.product != PRODUCT:
        return None
    sub = subscriptions.get(payment.grant_id, consistent=False) if payment.grant_id else None
    state = logic.public_state(
        payment.status,
        sub.provision_status if sub else None,
        to_int(payment.grant_version),
        to_int(sub.provision_version) if sub else None,
    )
    out: dict[str, Any] = {
        "payment_id": payment.payment_id,
        "status": state,
        "package": {"id": payment.offer_id, "name": payment.offer["name"], "price": int(payment.amount)},
        "phone": logic.mask_phone(payment.phone),
        "reason": payment.reason,
        "message": payment.message,
        "receipt": payment.receipt,
    }
    out.update(_access(state, sub, payment.settled_at, credentials=payment.status == logic.PAID))
    return out


def access_view(subscription_id: str) -> dict[str, Any] | None:
    """The access a subscription gives, whatever bought it (STK push, Paybill, a voucher, a
    reconnect): what ``/portal/access/{id}`` shows its holder (the id is unguessable)."""
    sub = subscriptions.get(subscription_id)
    if sub is None:
        return None
    state = logic.subscription_state(sub.status, sub.provision_status, to_int(sub.provision_version))
    package = catalog.get_package(sub.package_id)
    since = sub.updated_at if sub.updated_at is not None else sub.created_at  # this version's start
    return {
        "subscription_id": sub.subscription_id,
        "status": state,
        "package": {"id": sub.package_id, "name": package.name if package else sub.package_id},
        "mac_address": sub.mac,
        **_access(state, sub, float(since), credentials=True),
    }


def _access(
    state: str, sub: SubscriptionItem | None, since: float | None, credentials: bool
) -> dict[str, Any]:
    """The buyer's access (``service.access``) and, once paid, the credentials to log in with
    and where: shared by a payment's status and a subscription's access view."""
    out: dict[str, Any] = {"access": access.access(state, sub, since, clock.now()).public()}
    if sub is not None and credentials:
        router = catalog.get_router(sub.router_id)
        out.update(
            username=sub.username,
            password=sub.password,
            login_url=router.login_url if router else None,
            expires_at=logic.iso(float(sub.expires_at_ts)),
        )
    return out
