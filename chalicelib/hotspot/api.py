"""Hotspot API routes: routers and packages (admin), the captive portal and its payments (public;
Safaricom's callback is the payments domain's)."""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.core.errors import NotFound, Unprocessable
from chalicelib.core.http import Api, Call
from chalicelib.hotspot import logic, service
from chalicelib.hotspot.models.items import PackageItem, RouterItem
from chalicelib.hotspot.schemas import (
    AccessView,
    Claimed,
    InitiatePayment,
    PackageIn,
    PackageList,
    PackageOut,
    PackagePatch,
    PackageQuery,
    Paybill,
    PaybillClaim,
    PaymentAccepted,
    PaymentStatus,
    PortalPackage,
    PortalQuery,
    PortalRouter,
    Reconnected,
    ReconnectIn,
    RouterIn,
    RouterList,
    RouterOut,
    RouterPatch,
)
from chalicelib.hotspot.service import paybill, reconnect
from chalicelib.payments.answers import daraja_answers

api = Api(__name__, tag="hotspot")
ADMIN = ("admin",)
PORTAL = Path(__file__).parent / "portal"


def _router_out(item: RouterItem) -> RouterOut:
    return RouterOut.model_validate(
        {k: getattr(item, k) for k in RouterOut.model_fields}, from_attributes=False
    )


def _package_out(item: PackageItem) -> PackageOut:
    data = {k: getattr(item, k) for k in PackageOut.model_fields}
    return PackageOut.model_validate(data)


# --- routers (admin) -----------------------------------------------------------------------------


def _check_radius(fields: dict[str, Any], router: RouterItem | None, secret: str | None) -> None:
    """A RADIUS-mode router needs its secret, and a NAS identity no other router has (FreeRADIUS's
    requests are matched to a router by it)."""
    mode = fields.get("mode") or (router.mode if router else "api")
    if mode != "radius":
        return
    if secret is None and not (router and router.radius_secret):
        raise Unprocessable("a RADIUS-mode router needs radius_secret", code="validation_error")
    nas = {
        k: fields.get(k, getattr(router, k, None) if router else None) for k in ("nas_identifier", "nas_ip")
    }
    if not any(nas.values()):
        raise Unprocessable("a RADIUS-mode router needs nas_identifier or nas_ip", code="validation_error")
    for other in service.routers():
        if router is not None and other.router_id == router.router_id:
            continue
        if any(v and getattr(other, k) == v for k, v in nas.items()):
            raise Unprocessable(f"router {other.router_id} already has that NAS identity", code="nas_taken")


@api.route("/admin/routers", "POST", body=RouterIn, response=RouterOut, status=201, roles=ADMIN)
def create_router(call: Call) -> RouterOut:
    """Add a router; its API password goes to Secrets Manager and is never returned."""
    body: RouterIn = call.body
    fields = body.model_dump(exclude={"password", "radius_secret"}, exclude_none=True, mode="json")
    _check_radius(fields, None, body.radius_secret)
    return _router_out(service.add_router(fields, body.password, body.radius_secret))


@api.route("/admin/routers", response=RouterList, roles=ADMIN)
def list_routers(call: Call) -> RouterList:
    """Every router with its health as last checked."""
    return RouterList(routers=[_router_out(r) for r in service.routers()])


@api.route("/admin/routers/{router_id}", response=RouterOut, roles=ADMIN)
def get_router(call: Call, router_id: str) -> RouterOut:
    """One router."""
    router = service.router(router_id)
    if router is None:
        raise NotFound(f"no router {router_id}")
    return _router_out(router)


@api.route("/admin/routers/{router_id}", "PATCH", body=RouterPatch, response=RouterOut, roles=ADMIN)
def update_router(call: Call, router_id: str) -> RouterOut:
    """Change a router's fields; a new password replaces the secret's value."""
    body: RouterPatch = call.body
    fields = body.model_dump(exclude={"password", "radius_secret"}, exclude_unset=True, mode="json")
    if any(v is None for v in fields.values()):
        raise Unprocessable("fields cannot be set to null", code="validation_error")
    found = service.router(router_id)
    if found is None:
        raise NotFound(f"no router {router_id}")
    _check_radius(fields, found, body.radius_secret)
    router = service.update_router(router_id, fields, body.password, body.radius_secret)
    if router is None:
        raise NotFound(f"no router {router_id}")
    return _router_out(router)


# --- packages (admin) ----------------------------------------------------------------------------


def _check_routers(router_ids: list[str]) -> None:
    missing = service.unknown_routers(router_ids)
    if missing:
        raise Unprocessable(f"unknown router(s): {', '.join(missing)}", code="unknown_router")


@api.route("/admin/packages", "POST", body=PackageIn, response=PackageOut, status=201, roles=ADMIN)
def create_package(call: Call) -> PackageOut:
    """Add a package (price, validity, limits, rate limit, shared users, routers it is sold on)."""
    body: PackageIn = call.body
    _check_routers(body.router_ids)
    return _package_out(service.add_package(body.model_dump()))


@api.route("/admin/packages", query=PackageQuery, response=PackageList, roles=ADMIN)
def list_packages(call: Call) -> PackageList:
    """Every package (``?router=`` only those sold on a router)."""
    return PackageList(packages=[_package_out(p) for p in service.packages(call.args.router)])


@api.route("/admin/packages/{package_id}", response=PackageOut, roles=ADMIN)
def get_package(call: Call, package_id: str) -> PackageOut:
    """One package."""
    package = service.package(package_id)
    if package is None:
        raise NotFound(f"no package {package_id}")
    return _package_out(package)


@api.route("/admin/packages/{package_id}", "PATCH", body=PackagePatch, response=PackageOut, roles=ADMIN)
def update_package(call: Call, package_id: str) -> PackageOut:
    """Change a package; payments already started keep the price they were started at."""
    body: PackagePatch = call.body
    fields = body.model_dump(exclude_unset=True)
    required = {"name", "price", "validity_seconds", "shared_users", "router_ids", "active"}
    if any(fields.get(k, "") is None for k in required):
        raise Unprocessable("name, price, validity, shared users, routers and active cannot be null")
    if fields.get("router_ids"):
        _check_routers(fields["router_ids"])
    package = service.update_package(package_id, fields)
    if package is None:
        raise NotFound(f"no package {package_id}")
    return _package_out(package)


# --- the captive portal (public) -----------------------------------------------------------------


@cache
def _asset(name: str) -> str:
    return (PORTAL / name).read_text(encoding="utf-8")


@api.route("/portal", query=PortalQuery, roles=None, content_type="text/html; charset=utf-8")
def portal(call: Call) -> str:
    """The captive portal page MikroTik's login.html redirects to (``?router=&mac=&ip=``)."""
    context = call.args.model_dump()
    page = _asset("index.html")
    page = page.replace("/*STYLE*/", _asset("portal.css")).replace("/*SCRIPT*/", _asset("portal.js"))
    config = html.escape(json.dumps(context), quote=True)
    return page.replace("{{CONFIG}}", config)


@api.route("/portal/routers/{router_id}/packages", response=PortalRouter, roles=None)
def portal_packages(call: Call, router_id: str) -> PortalRouter:
    """The active packages sold on a router, cheapest first, with their Paybill account numbers."""
    router = service.router(router_id)
    if router is None:
        raise NotFound("unknown router")
    sold = service.packages(router_id, active_only=True)
    numbers = paybill.account_numbers(router_id, sold)
    business = paybill.business()
    packages = [
        PortalPackage(
            package_id=p.package_id,
            name=p.name,
            price=int(p.price),
            validity_seconds=int(p.validity_seconds),
            validity=logic.routeros_duration(int(p.validity_seconds)),
            limit_uptime_seconds=p.limit_uptime_seconds,
            limit_bytes_total=p.limit_bytes_total,
            rate_limit=p.rate_limit,
            account_number=numbers.get(p.package_id),
        )
        for p in sold
    ]
    return PortalRouter(
        router_id=router.router_id,
        name=router.name,
        packages=packages,
        paybill=Paybill.model_validate(business) if business else None,
    )


def _status_url(subscription_id: str) -> str:
    return f"/portal/access/{subscription_id}"


@api.route("/portal/access/{subscription_id}", response=AccessView, roles=None)
def portal_access(call: Call, subscription_id: str) -> AccessView:
    """The access a subscription gives, however it was bought (the id is 80 random bits: its
    holder sees the credentials, as with a payment id)."""
    if not subscription_id.startswith("sub_") or len(subscription_id) > 64:
        raise NotFound("no such access")
    found = service.access_view(subscription_id)
    if found is None:
        raise NotFound("no such access")
    return AccessView.model_validate(found)


@api.route(
    "/portal/paybill/claim", "POST", body=PaybillClaim, response=Claimed, roles=None, errors=(404, 409, 429)
)
def paybill_claim(call: Call) -> Claimed:
    """ "I paid by Paybill": the phone's Paybill payment for this router found and its access
    bound to this device (a one-device access another device holds → 409 ``already_claimed``)."""
    body: PaybillClaim = call.body
    claimed = paybill.claim(
        router_id=body.router_id,
        package_id=body.package_id,
        phone=body.phone_number,
        mac=body.mac_address,
        ip=body.ip,
        source_ip=call.source_ip,
    )
    return Claimed(
        subscription_id=claimed.subscription_id,
        status_url=_status_url(claimed.subscription_id),
        receipt=claimed.receipt,
        message=claimed.message,
    )


@api.route(
    "/portal/reconnect", "POST", body=ReconnectIn, response=Reconnected, roles=None, errors=(404, 409, 429)
)
def portal_reconnect(call: Call) -> Reconnected:
    """ "I already paid": receipt code + paying phone → that access, on this device (moved from
    the old one)."""
    body: ReconnectIn = call.body
    done = reconnect.reconnect(
        receipt=body.receipt,
        phone=body.phone_number,
        router_id=body.router_id,
        mac=body.mac_address,
        ip=body.ip,
        source_ip=call.source_ip,
    )
    return Reconnected(
        subscription_id=done.subscription_id,
        status_url=_status_url(done.subscription_id),
        message=done.message,
    )


# --- payments (public) ---------------------------------------------------------------------------


@api.route(
    "/payments/initiate",
    "POST",
    body=InitiatePayment,
    response=PaymentAccepted,
    status=202,
    roles=None,
    errors=(502,),
)
def initiate_payment(call: Call) -> PaymentAccepted:
    """Send the M-Pesa PIN prompt for a package; poll the status URL for the outcome."""
    body: InitiatePayment = call.body
    try:
        with daraja_answers():
            payment = service.initiate(
                package_id=body.package_id,
                phone=body.phone_number,
                mac=body.mac_address,
                router_id=body.router_id,
                ip=body.ip,
            )
    except service.NotSellable as error:
        raise Unprocessable(str(error), code="package_not_available") from None
    return PaymentAccepted(
        payment_id=payment.payment_id,
        status=payment.status,
        status_url=f"/payments/{payment.payment_id}",
        message="Check your phone and enter your M-Pesa PIN.",
    )


@api.route("/payments/{payment_id}", response=PaymentStatus, roles=None)
def payment_status(call: Call, payment_id: str) -> PaymentStatus:
    """pending → paid → provisioned (with credentials), or failed/cancelled with a reason."""
    if not payment_id.startswith("pay_") or len(payment_id) > 64:
        raise NotFound("no such payment")
    found = service.status(payment_id)
    if found is None:
        raise NotFound("no such payment")
    return PaymentStatus.model_validate(found)
