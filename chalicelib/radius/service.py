"""What FreeRADIUS asks Muda: may this user log in here (Authorize), and what did a session use
(Accounting). Both answer from the hotspot's subscriptions, as the payment left them.

Reads per Authorize: one ``Query`` of the subscription's partition when this process has seen
the user here before (the id is cached; a renewal keeps it), else one ``BatchGetItem`` before
it. The NAS → router map is cached (``nas_cache_seconds``). Writes per accounting packet: one
``TransactWriteItems``; the router echoes ``Class`` so the packet names its subscription.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from chalicelib.core import clock
from chalicelib.core.observability import logger
from chalicelib.hotspot import messages
from chalicelib.hotspot.models import catalog
from chalicelib.hotspot.models.items import RouterItem
from chalicelib.radius import logic
from chalicelib.radius.models import sessions
from chalicelib.radius.settings import radius_settings

_lock = threading.Lock()
_routers: tuple[float, dict[str, RouterItem], dict[str, RouterItem], list[str]] | None = None
_subscriptions: dict[tuple[str, str], str] = {}
_CACHED_USERS = 50_000  # a Lambda's memory, not a table: forget them all past this
_REFRESH_GAP = 5.0  # an unknown NAS re-reads the routers at most this often (no Query per spam packet)


class UnknownNas(Exception):
    """A packet from a NAS no router is registered as."""


def clear_caches() -> None:
    """Forget the NAS map and the users' subscription ids (tests; after a router changes)."""
    global _routers
    with _lock:
        _routers = None
        _subscriptions.clear()


def _router_map(refresh: bool = False) -> tuple[dict[str, RouterItem], dict[str, RouterItem], list[str]]:
    """RADIUS-mode routers by NAS-Identifier and by NAS-IP-Address, and all their ids."""
    global _routers
    keep = radius_settings().nas_cache_seconds
    with _lock:
        if _routers is not None and time.monotonic() - _routers[0] < (
            min(keep, _REFRESH_GAP) if refresh else keep
        ):
            return _routers[1], _routers[2], _routers[3]
    by_id: dict[str, RouterItem] = {}
    by_ip: dict[str, RouterItem] = {}
    ids: list[str] = []
    for router in catalog.routers():
        if router.mode != "radius":
            continue
        ids.append(router.router_id)
        if router.nas_identifier:
            by_id[router.nas_identifier] = router
        if router.nas_ip:
            by_ip[router.nas_ip] = router
    with _lock:
        _routers = (time.monotonic(), by_id, by_ip, ids)
    return by_id, by_ip, ids


def router_of(attrs: dict[str, str]) -> RouterItem:
    """The router a packet comes from: NAS-Identifier first (MikroTik sends its identity), then
    NAS-IP-Address. An unknown NAS refreshes the map once before it is refused."""
    nas_id, nas_ip = attrs.get("NAS-Identifier"), attrs.get("NAS-IP-Address")
    for refresh in (False, True):
        by_id, by_ip, _ = _router_map(refresh)
        router = (by_id.get(nas_id) if nas_id else None) or (
            by_ip.get(nas_ip) if nas_ip and not nas_id else None
        )
        if router is not None:
            return router
    raise UnknownNas(f"NAS-Identifier={nas_id!r} NAS-IP-Address={nas_ip!r}")


def _subscription(part: sessions.Partition) -> logic.Subscription:
    sub = part.subscription
    assert sub is not None
    return logic.Subscription(
        subscription_id=sub.subscription_id,
        router_id=sub.router_id,
        username=sub.username,
        password=sub.password,
        status=sub.status,
        expires_at=float(sub.expires_at_ts),
        rate_limit=sub.rate_limit,
        limit_bytes_total=None if sub.limit_bytes_total is None else int(sub.limit_bytes_total),
        limit_uptime_seconds=None if sub.limit_uptime_seconds is None else int(sub.limit_uptime_seconds),
        shared_users=int(sub.shared_users or 1),
        mac=sub.mac,
    )


def _mine(part: sessions.Partition, username: str, router_id: str) -> bool:
    sub = part.subscription
    return sub is not None and sub.username == username and sub.router_id == router_id


def authorize(attrs: dict[str, str]) -> logic.Answer:
    """Access-Accept with what is left of the user's subscription on this router, or a reason."""
    settings = radius_settings()
    try:
        router = router_of(attrs)
    except UnknownNas as error:
        logger.warning("radius: access request from an unknown NAS", extra={"nas": str(error)})
        return logic.reject("unknown_nas")
    username = attrs.get("User-Name") or ""
    phone = logic.phone_of(username)
    if phone is None:
        return logic.reject("unknown_user")
    key = (phone, router.router_id)
    part: sessions.Partition | None = None
    cached = _subscriptions.get(key)
    if cached:
        part = sessions.partition(cached)
        sub_item = part.subscription
        live = (
            sub_item is not None
            and sub_item.status == "active"
            and float(sub_item.expires_at_ts) > clock.now()
        )
        if not (live and _mine(part, username, router.router_id)):
            part = None  # over or replaced (a purchase after expiry starts a new one): ask the pointer
    if part is None:
        _, _, others = _router_map()
        found = sessions.lookup(phone, router.router_id, [r for r in others if r != router.router_id])
        if found.current:
            part = sessions.partition(found.current)
        elif found.last:
            part = sessions.partition(found.last)
        elif not found.user:
            return logic.reject("unknown_user")
        else:
            return logic.reject("wrong_router" if found.elsewhere else "unpaid")
    if not _mine(part, username, router.router_id):
        return logic.reject("unknown_user")
    sub = _subscription(part)
    answer = logic.decide(
        sub,
        part.usage,
        clock.now(),
        mac=logic.mac_of(attrs.get("Calling-Station-Id")),
        interim_seconds=settings.interim_interval_seconds,
        idle_seconds=settings.idle_timeout_seconds,
    )
    if sub.status == "active":
        if len(_subscriptions) >= _CACHED_USERS:
            _subscriptions.clear()
        _subscriptions[key] = sub.subscription_id
    return answer


@dataclass(frozen=True)
class Accounted:
    outcome: str  # recorded | duplicate | ignored | unknown
    subscription_id: str | None = None
    disconnect: bool = False


def account(attrs: dict[str, str]) -> Accounted:
    """Record one accounting packet once; when it shows the data used up, disconnect the user."""
    report = logic.report(attrs)
    if report is None:
        return Accounted("ignored")
    router = router_of(attrs)
    username = report.username or ""
    phone = logic.phone_of(username)
    if phone is None:
        return Accounted("unknown")
    named = logic.parse_class(attrs.get("Class"))
    budget: int | None = None
    if named:
        subscription_id, budget = named
    else:  # a router that does not echo Class: find it by the pointer (one more read)
        found = sessions.lookup(phone, router.router_id, [])
        if not (found.current or found.last):
            return Accounted("unknown")
        subscription_id = found.current or found.last  # type: ignore[assignment]
    outcome = sessions.record(report, subscription_id, router.router_id, username, phone)
    if outcome == "not_owned":
        return Accounted("unknown", subscription_id)
    # Add up every session only when this one reached what was left at its login (or the
    # router did not echo Class, so that is unknown); an unlimited login never needs it.
    due = named is None or (budget is not None and report.octets >= budget)
    cut = outcome == "recorded" and report.kind != "stop" and due and _cut_off_if_used_up(subscription_id)
    return Accounted(outcome, subscription_id, cut)


def _cut_off_if_used_up(subscription_id: str) -> bool:
    """If the subscription's data is used up, have the router provisioner send a
    Disconnect-Request (once per data limit)."""
    part = sessions.partition(subscription_id)
    sub = part.subscription
    if sub is None or sub.status != "active" or sub.limit_bytes_total is None:
        return False
    limit = int(sub.limit_bytes_total)
    if not logic.used_up(limit, part.usage) or limit in part.cutoffs:
        return False
    if not sessions.claim_cutoff(subscription_id, limit):
        return False
    command = logic.disconnect_command(
        {
            "subscription_id": sub.subscription_id,
            "router_id": sub.router_id,
            "provision_version": sub.provision_version,
            "username": sub.username,
            "mac": sub.mac,
        },
        "data_used_up",
    )
    messages.router_command(command)
    logger.info("radius: data used up, disconnect sent", extra={"subscription_id": subscription_id})
    return True


def sessions_of(subscription_id: str) -> dict[str, Any] | None:
    """The admin's view: a subscription's sessions and what they add up to."""
    part = sessions.partition(subscription_id)
    if part.subscription is None:
        return None
    sub = part.subscription
    return {
        "subscription_id": subscription_id,
        "router_id": sub.router_id,
        "username": sub.username,
        "limit_bytes_total": None if sub.limit_bytes_total is None else int(sub.limit_bytes_total),
        "used_octets": part.usage.octets,
        "used_seconds": part.usage.seconds,
        "sessions": [
            {
                "unique_id": s.sk.split("#", 1)[1],
                "acct_session_id": s.acct_session_id,
                "state": s.state,
                "mac": s.mac,
                "ip": s.ip,
                "input_octets": int(s.input_octets),
                "output_octets": int(s.output_octets),
                "total_octets": int(s.total_octets),
                "session_time": int(s.session_time),
                "terminate_cause": s.terminate_cause,
                "started_at": s.started_at,
                "updated_at": s.updated_at,
                "stopped_at": s.stopped_at,
            }
            for s in sorted(part.sessions, key=lambda s: float(s.started_at or 0))
        ],
    }
