"""The routers board: each router's health as its provisioner last checked it, the users it
carries, and "check now".

Only the router provisioner reaches the routers (it runs in the VPC beside their VPN), so "check
now" is a message on its queue, ``{"action": "check", "router_id": …}``: the function runs its
health path for that one router (``functions/router_provisioner/handler.check_routers``) and
writes the result on the router's record, which this module then reads back. Locally the event
runtime feeds the same queue to the same function.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from chalicelib.core import clock, db
from chalicelib.core.aws import client, queue_url
from chalicelib.core.config import get_settings
from chalicelib.hotspot import service
from chalicelib.hotspot.models import subscriptions
from chalicelib.hotspot.models.items import RouterItem, router_key

CHECK_WAIT_SECONDS = 8.0  # a refused connection answers at once; a silent router takes 2 x timeout
CHECK_POLL_SECONDS = 0.25
_FOREVER = 100 * 365 * 86400


def _counts() -> dict[str, Counter[str]]:
    """Active subscriptions by router and provisioning status (one query of the sparse index)."""
    counts: dict[str, Counter[str]] = {}
    for sub in subscriptions.due(clock.now() + _FOREVER):
        counts.setdefault(sub.router_id, Counter())[sub.provision_status or "pending"] += 1
    return counts


def _row(router: RouterItem, counts: Counter[str]) -> dict[str, Any]:
    return {
        "router_id": router.router_id,
        "name": router.name,
        "host": router.host,
        "port": int(router.port),
        "status": router.status,
        "last_checked_at": router.last_checked_at,
        "last_seen_at": router.last_seen_at,
        "status_changed_at": router.status_changed_at,
        "status_error": router.status_error,
        "users_provisioned": counts.get("provisioned", 0),
        "users_pending": counts.get("pending", 0),
        "users_failed": counts.get("provision_failed", 0),
    }


def board() -> list[dict[str, Any]]:
    counts = _counts()
    return [_row(r, counts.get(r.router_id, Counter())) for r in service.routers()]


def row(router_id: str) -> dict[str, Any] | None:
    router = service.router(router_id)
    if router is None:
        return None
    return _row(router, _counts().get(router_id, Counter()))


def check(router_id: str, wait: float | None = None) -> tuple[dict[str, Any], bool] | None:
    """Ask the provisioner to probe one router now; its board row once the probe is recorded
    (``True``), or as last known when it did not answer within ``wait`` (``False``).
    ``None``: no such router."""
    router = service.router(router_id)
    if router is None:
        return None
    asked = int(clock.now())  # the provisioner records whole seconds
    client("sqs").send_message(
        QueueUrl=queue_url(get_settings().name("provisioning")),
        MessageBody=json.dumps({"action": "check", "router_id": router_id, "requested_at": asked}),
    )
    deadline = time.monotonic() + (CHECK_WAIT_SECONDS if wait is None else wait)
    while True:
        router = db.get_or_none(RouterItem, *router_key(router_id), consistent=True)
        if router is None:
            return None
        if router.last_checked_at is not None and float(router.last_checked_at) >= asked:
            return _row(router, _counts().get(router_id, Counter())), True
        if time.monotonic() >= deadline:
            return _row(router, _counts().get(router_id, Counter())), False
        time.sleep(CHECK_POLL_SECONDS)
