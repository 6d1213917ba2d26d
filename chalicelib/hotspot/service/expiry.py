"""A subscription's end: expired (with ``SubscriptionExpired``), then the router told to remove
the user, once; and the reconciliation that catches what a timer or a crash missed."""

from __future__ import annotations

from chalicelib.core import clock
from chalicelib.core.observability import logger
from chalicelib.hotspot import logic, messages
from chalicelib.hotspot.models import subscriptions
from chalicelib.hotspot.service.purchase import EXPIRE
from chalicelib.hotspot.settings import hotspot_settings

__all__ = ["EXPIRE", "expire", "reconcile_expiries"]


def expire(subscription_id: str) -> str:
    """At ``expires_at``: expired and ``SubscriptionExpired`` in one transaction, then the
    deprovision command, claimed once (a crash in between is taken over by the next run)."""
    sub = subscriptions.get(subscription_id)
    if sub is None:
        return "unknown"
    if sub.status == logic.ACTIVE:
        if float(sub.expires_at_ts) > clock.now():
            return "renewed"
        event = {
            "subscription_id": sub.subscription_id,
            "router_id": sub.router_id,
            "username": sub.username,
            "package_id": sub.package_id,
            "expired_at": logic.iso(clock.now()),
        }
        if not subscriptions.expire(sub, event):
            return "raced"  # renewed or expired by someone else just now
    if sub.deprovision_sent_at is not None:
        return "duplicate"
    if not subscriptions.claim_deprovision(sub, hotspot_settings().followup_grace_seconds):
        return "duplicate"
    messages.router_command(
        logic.deprovision_command(
            subscription_id=sub.subscription_id,
            router_id=sub.router_id,
            version=int(sub.provision_version),
            username=sub.username,
            mac=sub.mac,
        )
    )
    subscriptions.mark_deprovision_sent(sub)
    logger.info("subscription expired", extra={"subscription_id": sub.subscription_id})
    return "expired"


def reconcile_expiries(dry_run: bool = False) -> list[tuple[str, str]]:
    """Every active subscription past its expiry, and every expired one never deprovisioned."""
    now = clock.now()
    done: list[tuple[str, str]] = []
    for sub in subscriptions.due(now):
        done.append((sub.subscription_id, "would expire" if dry_run else expire(sub.subscription_id)))
    for sub in subscriptions.expired_not_deprovisioned():
        done.append((sub.subscription_id, "would deprovision" if dry_run else expire(sub.subscription_id)))
    return done
