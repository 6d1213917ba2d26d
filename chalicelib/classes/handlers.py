"""Classes entry points: the moment timers, and the per-minute reconcile as their backstop."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.classes import service
from chalicelib.classes.settings import settings
from chalicelib.core import timers
from chalicelib.core.observability import flush_metrics

blueprint = Blueprint(__name__)


@timers.handles(service.MOMENT_TIMER)
def moment_due(timer: timers.Timer) -> None:
    """READY / ONGOING / ABSENT / COMPLETED moments of a session (one timer per moment)."""
    service.on_moment(timer)


@blueprint.schedule("rate(1 minute)")
def classes_reconcile(event: Any) -> dict[str, int]:
    """Backstop: sessions whose moment passed a grace period ago without moving (a crash between
    writing a session and arming its timers) are advanced; normally it finds nothing."""
    try:
        return {"advanced": len(service.reconcile(settings().reconcile_grace_seconds))}
    finally:
        flush_metrics()
