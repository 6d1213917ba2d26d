"""Hotspot event handlers: the timer kinds (subscription expiry, the provision check). Payments
are settled by the payments domain (``chalicelib/payments/handlers.py``)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core import timers
from chalicelib.hotspot import service
from chalicelib.hotspot.service import purchase

blueprint = Blueprint(__name__)


@timers.handles(service.EXPIRE)
def subscription_due(timer: timers.Timer) -> None:
    """A subscription's access ends: expired, and its router user removed."""
    service.expire(timer.key)


@timers.handles(purchase.PROVISION_CHECK)
def provision_check(timer: timers.Timer) -> None:
    """A voucher's, Paybill claim's or reconnect's command the provisioner never saw is sent
    again (the process died between the write and the send)."""
    purchase.recheck(timer.key, timer.payload.get("previous_mac"))
