"""Hotspot event handlers: the timer kinds (subscription expiry). Payments are settled by the
payments domain (``chalicelib/payments/handlers.py``)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core import timers
from chalicelib.hotspot import service

blueprint = Blueprint(__name__)


@timers.handles(service.EXPIRE)
def subscription_due(timer: timers.Timer) -> None:
    """A subscription's access ends: expired, and its router user removed."""
    service.expire(timer.key)
