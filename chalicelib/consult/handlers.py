"""Consult timer handlers: interval ticks, idle checks, and the three timeouts. Thin: each one
hands its timer to ``service``, whose writes are conditional, so a re-run or duplicate is a no-op."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.consult import service
from chalicelib.consult.models.billing import Meter
from chalicelib.core import timers

blueprint = Blueprint(__name__)


@timers.handles(service.TICK)
def interval_due(timer: timers.Timer) -> None:
    """Bill interval i of a metered session at ``started + i·interval``."""
    service.tick(Meter.from_payload(timer.payload), int(timer.payload["interval"]))


@timers.handles(service.IDLE)
def idle_due(timer: timers.Timer) -> None:
    """End a text session nobody has been active in for the idle time (or look again later)."""
    service.idle_check(timer.payload["session_id"])


@timers.handles(service.PENDING_TIMEOUT)
def request_unanswered(timer: timers.Timer) -> None:
    """A text request no doctor answered in time expires (no credit used)."""
    service.expire_pending(timer.payload["session_id"])


@timers.handles(service.CONNECT_TIMEOUT)
def call_not_connected(timer: timers.Timer) -> None:
    """A call still connecting after the timeout fails (no credit used; patient notified)."""
    service.fail_call(timer.payload["session_id"])


@timers.handles(service.APPOINTMENT_EXPIRY)
def appointment_stale(timer: timers.Timer) -> None:
    """A pending appointment whose time passed, or that waited 24 h, is cancelled by the system."""
    service.expire_appointment(timer.payload["appointment_id"])


@timers.handles(service.PRESENCE_LAPSE)
def presence_lapsed(timer: timers.Timer) -> None:
    """A doctor's ``available`` ran out without a heartbeat: offline (unless renewed meanwhile)."""
    service.lapse_presence(timer.payload["doctor_id"])
