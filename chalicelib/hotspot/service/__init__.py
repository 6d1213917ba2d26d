"""Hotspot use cases, one module per flow: ``catalog`` (admin CRUD, what the portal sells),
``payments`` (the PIN prompt for a package, the portal's status and access view), ``paybill``
(account numbers, "I paid by Paybill"), ``reconnect`` ("I already paid"), ``devices`` (binding an
access to a device, the portal's attempt limits), ``purchase`` (the hotspot's
offer to the payments domain: the access a paid payment buys, its follow-ups), ``expiry``. The
routes, handlers and CLI call the names below."""

from chalicelib.hotspot.service.catalog import (
    add_package,
    add_router,
    package,
    packages,
    router,
    routers,
    unknown_routers,
    update_package,
    update_router,
)
from chalicelib.hotspot.service.expiry import EXPIRE, expire, reconcile_expiries
from chalicelib.hotspot.service.payments import NotSellable, access_view, initiate, status

__all__ = [
    "EXPIRE",
    "NotSellable",
    "access_view",
    "add_package",
    "add_router",
    "expire",
    "initiate",
    "package",
    "packages",
    "reconcile_expiries",
    "router",
    "routers",
    "status",
    "unknown_routers",
    "update_package",
    "update_router",
]
