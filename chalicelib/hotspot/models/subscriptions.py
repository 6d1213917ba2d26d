"""Subscriptions: the access a payment buys, the buyer's hotspot user and current-subscription
pointer, renewal, expiry and the claim on the deprovision command."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from chalicelib.core import clock, db, ids
from chalicelib.hotspot import logic
from chalicelib.hotspot.models.items import (
    ACTIVE_SUBS,
    DOMAIN,
    CurrentItem,
    PackageItem,
    SubscriptionItem,
    UserItem,
    current_key,
    expiry_index,
    expiry_until,
    package_key,
    subscription_key,
    user_key,
)


def buyer(
    phone: str, router_id: str, package_id: str | None = None
) -> tuple[PackageItem | None, UserItem | None, CurrentItem | None]:
    """A package (when named), the hotspot user of a phone and its current subscription on a
    router, in one read."""
    keys = {"USER": user_key(phone), "CURRENT": current_key(phone, router_id)}
    if package_id:
        keys["PACKAGE"] = package_key(package_id)
    table = UserItem.Meta.table_name
    response = UserItem._get_connection().connection.client.batch_get_item(
        RequestItems={
            table: {
                "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in keys.values()],
                "ConsistentRead": True,
            }
        }
    )
    if response.get("UnprocessedKeys"):  # throttled: read them one by one
        return (
            db.get_or_none(PackageItem, *keys["PACKAGE"], consistent=True) if package_id else None,
            db.get_or_none(UserItem, *keys["USER"], consistent=True),
            db.get_or_none(CurrentItem, *keys["CURRENT"], consistent=True),
        )
    found = {item["sk"]["S"]: item for item in response.get("Responses", {}).get(table, [])}
    package = PackageItem.from_raw_data(found["PACKAGE"]) if "PACKAGE" in found else None
    user = UserItem.from_raw_data(found["USER"]) if "USER" in found else None
    current = CurrentItem.from_raw_data(found["CURRENT"]) if "CURRENT" in found else None
    return package, user, current


def user(phone: str) -> UserItem | None:
    return db.get_or_none(UserItem, *user_key(phone), consistent=True)


def get(subscription_id: str, consistent: bool = True) -> SubscriptionItem | None:
    return db.get_or_none(SubscriptionItem, *subscription_key(subscription_id), consistent=consistent)


def new_user(sale: logic.Sale, now: float) -> UserItem:
    """A buyer's hotspot user on its first purchase (stable username, random password; a
    voucher's are its code)."""
    username, password = sale.credentials or logic.new_credentials(sale.buyer)
    return UserItem(
        *user_key(sale.buyer),
        phone=sale.buyer,
        username=username,
        password=password,
        mac=sale.mac,
        created_at=now,
    )


def add_user(tx: db.Tx, user: UserItem) -> None:
    tx.put(user, UserItem.pk.does_not_exist(), label="user")


def new(sale: logic.Sale, user: UserItem, purchase: logic.Purchase, now: float) -> SubscriptionItem:
    """The subscription a first purchase (or one after expiry) starts."""
    subscription_id = ids.new_id("sub_")
    return SubscriptionItem(
        *subscription_key(subscription_id),
        subscription_id=subscription_id,
        phone=sale.buyer,
        router_id=sale.router_id,
        username=user.username,
        password=user.password,
        starts_at=purchase.term.starts_at,
        status=logic.ACTIVE,
        created_at=now,
        gsi2pk=ACTIVE_SUBS,
        gsi2sk=expiry_index(purchase.term.expires_at, subscription_id),
        **_bought(sale, purchase),
    )


def start(tx: db.Tx, sub: SubscriptionItem, replaces: str | None) -> None:
    """Write a new subscription (label ``subscription``) and point the phone's current
    subscription on the router at it (label ``current``), unless another purchase moved the
    pointer since it was read (``replaces``: the id it held then)."""
    tx.put(sub, SubscriptionItem.pk.does_not_exist(), label="subscription")
    pointer = CurrentItem(*current_key(sub.phone, sub.router_id), subscription_id=sub.subscription_id)
    tx.put(
        pointer,
        CurrentItem.pk.does_not_exist() | (CurrentItem.subscription_id == (replaces or "-")),
        label="current",
    )


def _bought(sale: logic.Sale, purchase: logic.Purchase) -> dict[str, Any]:
    """What a purchase sets on the subscription it starts or extends: the term, the package's
    terms, the buyer's device, and the provisioning version to command."""
    term, pkg = purchase.term, sale.package
    return {
        "expires_at_ts": term.expires_at,
        "limit_uptime_seconds": term.limit_uptime_seconds,
        "limit_bytes_total": term.limit_bytes_total,
        "package_id": sale.package_id,
        "rate_limit": pkg["rate_limit"],
        "shared_users": pkg["shared_users"],
        "mac": sale.mac,
        "ip": sale.ip,
        "provision_version": purchase.version,
        "provision_status": "pending",
        "provision_error": None,  # a new version starts with no failed try (the portal's "slow")
        "provision_attempts": None,
        "last_payment_id": sale.source,
    }


def renew(
    tx: db.Tx, sub: SubscriptionItem, sale: logic.Sale, purchase: logic.Purchase, now: float
) -> dict[str, Any]:
    """Extend the active subscription as read (label ``subscription``): refused if it expired,
    was renewed or moved on since. A sale with no device (Paybill/Till) keeps the device the
    access is on. Returns the fields written, to ``apply`` after the commit."""
    bought = _bought(sale, purchase)
    if sale.mac is None:
        bought.pop("mac"), bought.pop("ip")
    fields = {
        **bought,
        "updated_at": now,
        "gsi2sk": expiry_index(purchase.term.expires_at, sub.subscription_id),
    }
    condition = (
        (SubscriptionItem.status == logic.ACTIVE)
        & (SubscriptionItem.expires_at_ts == sub.expires_at_ts)
        & (SubscriptionItem.provision_version == purchase.version - 1)
    )
    tx.update(sub, db.updates(SubscriptionItem, fields), condition, label="subscription")
    return fields


def rebind(
    sub: SubscriptionItem, mac: str, ip: str | None, now: float, also: Callable[[db.Tx], None] | None = None
) -> bool:
    """The access bound to another device (``mac``): its next provisioning version, pending,
    conditioned on what was read (still active at that expiry, same version and device), so of
    two concurrent binds one wins. ``also`` adds what must be written with it (the provision
    check's timer) to the same transaction. ``False`` if refused; on success ``sub`` holds the
    new values."""
    version = int(sub.provision_version or 0)
    fields = {
        "mac": mac,
        "ip": ip,
        "provision_version": version + 1,
        "provision_status": "pending",
        "provision_error": None,
        "provision_attempts": None,
        "updated_at": now,
    }
    device = SubscriptionItem.mac.does_not_exist() if sub.mac is None else SubscriptionItem.mac == sub.mac
    condition = (
        (SubscriptionItem.status == logic.ACTIVE)
        & (SubscriptionItem.expires_at_ts == sub.expires_at_ts)
        & (SubscriptionItem.provision_version == version)
        & device
    )

    def write() -> None:
        with db.transact() as tx:
            tx.update(sub, db.updates(SubscriptionItem, fields), condition, label="subscription")
            if also is not None:
                also(tx)

    if not db.applied(write, refused_by="subscription"):
        return False
    db.apply(sub, fields)
    return True


def expire(sub: SubscriptionItem, event: dict[str, Any]) -> bool:
    """active → expired at its expiry (unless renewed meanwhile), the phone's pointer freed and
    ``SubscriptionExpired`` (``event``), in one transaction; ``False`` if refused."""
    now = clock.now()
    actions = [
        SubscriptionItem.status.set(logic.EXPIRED),
        SubscriptionItem.expired_at.set(now),
        SubscriptionItem.updated_at.set(now),
        SubscriptionItem.gsi2pk.remove(),
        SubscriptionItem.gsi2sk.remove(),
    ]
    condition = (
        (SubscriptionItem.status == logic.ACTIVE)
        & (SubscriptionItem.expires_at_ts == sub.expires_at_ts)
        & (SubscriptionItem.expires_at_ts <= now)
    )
    pointer = CurrentItem(*current_key(sub.phone, sub.router_id))
    free_pointer = True

    def write() -> None:
        with db.transact() as tx:
            tx.update(sub, actions, condition, label="subscription")
            if free_pointer:
                tx.delete(
                    pointer,
                    CurrentItem.pk.does_not_exist() | (CurrentItem.subscription_id == sub.subscription_id),
                    label="current",
                )
            tx.emit(sub.aggregate, DOMAIN, "SubscriptionExpired", event)

    try:
        if not db.applied(write, refused_by="subscription"):
            return False
    except db.Refused as refused:
        if not refused.by("current"):
            raise
        # A purchase at the expiry instant started a new subscription and took the pointer:
        # this one still expires (else it would stay active, never deprovisioned).
        free_pointer = False
        if not db.applied(write, refused_by="subscription"):
            return False
    sub.status = logic.EXPIRED
    return True


def claim_deprovision(sub: SubscriptionItem, grace: float) -> bool:
    """Claim sending an expired subscription's deprovision command (once; a claim older than
    ``grace`` that never finished is taken over)."""
    return db.claim_lease(
        sub, SubscriptionItem.deprovision_claimed_at, grace, unless_done=SubscriptionItem.deprovision_sent_at
    )


def mark_deprovision_sent(sub: SubscriptionItem) -> None:
    sub.update(actions=[SubscriptionItem.deprovision_sent_at.set(clock.now())])


def due(until: float) -> Iterator[SubscriptionItem]:
    """Active subscriptions whose expiry is at or before ``until`` (sparse index)."""
    yield from SubscriptionItem.gsi2.query(ACTIVE_SUBS, SubscriptionItem.gsi2sk <= expiry_until(until))


def expired_not_deprovisioned(limit: int = 500) -> list[SubscriptionItem]:
    """Expired subscriptions whose deprovision command was never sent (a crash mid-expiry)."""
    scan = SubscriptionItem.scan(
        (SubscriptionItem.sk == subscription_key("")[1])
        & (SubscriptionItem.status == logic.EXPIRED)
        & SubscriptionItem.deprovision_sent_at.does_not_exist(),
        limit=limit,
    )
    return list(scan)
