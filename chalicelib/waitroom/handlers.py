"""Waitroom entry points beyond HTTP: the checkout-expiry and deferred-admission timers, and the
per-minute backstop. Thin: each calls one use case of ``service``."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.core import timers
from chalicelib.core.errors import NotFound
from chalicelib.core.observability import flush_metrics, logger
from chalicelib.waitroom import service

blueprint = Blueprint(__name__)


@timers.handles(service.CHECKOUT_TIMER)
def checkout_expired(timer: timers.Timer) -> None:
    """A checkout window ended: expire the session if still admitted, free its slot, admit the next."""
    try:
        service.expire_checkout(timer.key)
    except NotFound:  # cleaned up by TTL meanwhile: nothing holds a slot
        logger.info("checkout timer for a session that is gone", extra={"session_id": timer.key})


@timers.handles(service.ADMIT_TIMER)
def admission_due(timer: timers.Timer) -> None:
    """A deferred attempt (a young gap in the line has aged past its grace)."""
    service.admit(timer.key)


@blueprint.schedule("rate(1 minute)")
def waitroom_backstop(event: Any) -> dict[str, int]:
    """Backstop only: admission is triggered by joins, completions, expiries and revocations."""
    try:
        return service.backstop()
    finally:
        flush_metrics()
