"""Hotspot use cases, one module per flow: ``catalog`` (admin CRUD, what the portal sells),
``payments`` (PIN prompt, callback, STK query fallback, status), ``settlement`` (the payment
worker), ``expiry``. The routes, handlers and CLI call the names below."""

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
from chalicelib.hotspot.service.payments import (
    QUERY,
    CallbackAnswer,
    NotSellable,
    accept_callback,
    initiate,
    query,
    status,
)
from chalicelib.hotspot.service.settlement import process_job, settle

__all__ = [
    "EXPIRE",
    "QUERY",
    "CallbackAnswer",
    "NotSellable",
    "accept_callback",
    "add_package",
    "add_router",
    "expire",
    "initiate",
    "package",
    "packages",
    "process_job",
    "query",
    "reconcile_expiries",
    "router",
    "routers",
    "settle",
    "status",
    "unknown_routers",
    "update_package",
    "update_router",
]
