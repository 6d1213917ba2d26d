"""The hotspot's items and the only place their keys are spelled.

One table (``muda-<stage>-hotspot``), items by ``pk``/``sk``:

| item | pk / sk | gsi |
|---|---|---|
| router (contract with the provisioner) | ``ROUTER#<id>`` / ``ROUTER`` | gsi1 ``ROUTERS`` / id |
| package | ``PACKAGE#<id>`` / ``PACKAGE`` | gsi1 ``PACKAGES`` / id |
| hotspot user, one per phone | ``USER#<phone>`` / ``USER`` | |
| current subscription of a phone on a router | ``CURRENT#<phone>#<router>`` / ``CURRENT`` | |
| subscription (contract) | ``SUB#<id>`` / ``SUB`` | gsi2 ``SUBS#active`` / expiry (active only) |
| rate-limit window (voucher guesses, reconnects) | ``RATE#<what>#<key>`` / window start | (TTL) |
| vouchers and their batches | spelled in ``chalicelib/hotspot/vouchers/models.py`` | gsi1 |
| Paybill account number → router + package | ``PAYBILL#<number>`` / ``PAYBILL`` | |
| router + package → its account number | ``PAYBILLOF#<router>#<package>`` / ``PAYBILL`` | |

Payments (and their receipts and refused callbacks) are the payments domain's
(``chalicelib/payments``); a hotspot payment names its package (``offer_id``), its router
(``scope``) and the subscription it bought (``grant_id``).

The router provisioner (``functions/router_provisioner/store.py``) spells the router and
subscription keys on its own side of the contract (it cannot import this package).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.core import clock
from chalicelib.core.db import MudaModel
from chalicelib.hotspot import logic

Key = tuple[str, str]

DOMAIN = "hotspot"  # the source of the hotspot's events (``muda.hotspot``)

ROUTERS, PACKAGES, ACTIVE_SUBS = "ROUTERS", "PACKAGES", "SUBS#active"


def router_key(router_id: str) -> Key:
    return f"ROUTER#{router_id}", "ROUTER"


def package_key(package_id: str) -> Key:
    return f"PACKAGE#{package_id}", "PACKAGE"


def user_key(phone: str) -> Key:
    return f"USER#{phone}", "USER"


def current_key(phone: str, router_id: str) -> Key:
    return f"CURRENT#{phone}#{router_id}", "CURRENT"


def subscription_key(subscription_id: str) -> Key:
    return f"SUB#{subscription_id}", "SUB"


def paybill_key(number: str) -> Key:
    return f"PAYBILL#{number}", "PAYBILL"


def paybill_of_key(router_id: str, package_id: str) -> Key:
    return f"PAYBILLOF#{router_id}#{package_id}", "PAYBILL"


def expiry_index(expires_at: float, subscription_id: str) -> str:
    """Sort key of an active subscription on gsi2: its expiry, then its id."""
    return f"{clock.time_key(expires_at)}#{subscription_id}"


def expiry_until(until: float) -> str:
    """The highest gsi2 sort key of a subscription expiring at or before ``until``."""
    return f"{clock.time_key(until)}#~"


def to_int(value: Any) -> int | None:
    return None if value is None else int(value)


class Gsi1(GlobalSecondaryIndex[Any]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex[Any]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class RouterItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="ROUTER")
    router_id = UnicodeAttribute()
    name = UnicodeAttribute()
    host = UnicodeAttribute()
    port = NumberAttribute(default=8728)
    username = UnicodeAttribute()
    password_secret = UnicodeAttribute()
    login_url = UnicodeAttribute()
    hotspot_server = UnicodeAttribute(null=True)
    # RADIUS mode (docs/radius.md): the router asks FreeRADIUS → chalicelib/radius; no user pushes.
    mode = UnicodeAttribute(default="api")  # api | radius
    nas_identifier = UnicodeAttribute(null=True)
    nas_ip = UnicodeAttribute(null=True)
    coa_port = NumberAttribute(null=True)
    radius_secret = UnicodeAttribute(null=True)  # Secrets Manager id of its RADIUS secret
    status = UnicodeAttribute(default="unknown")
    last_seen_at = NumberAttribute(null=True)
    status_changed_at = NumberAttribute(null=True)
    last_checked_at = NumberAttribute(null=True)  # set by the provisioner's health check
    status_error = UnicodeAttribute(null=True)  # its last failed probe's reason (removed when online)
    created_at = NumberAttribute()
    updated_at = NumberAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()


class PackageItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="PACKAGE")
    package_id = UnicodeAttribute()
    name = UnicodeAttribute()
    price = NumberAttribute()
    validity_seconds = NumberAttribute()
    limit_uptime_seconds = NumberAttribute(null=True)
    limit_bytes_total = NumberAttribute(null=True)
    rate_limit = UnicodeAttribute(null=True)
    shared_users = NumberAttribute(default=1)
    router_ids = ListAttribute(of=UnicodeAttribute, default=list)
    active = BooleanAttribute(default=True)
    created_at = NumberAttribute()
    updated_at = NumberAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()

    def snapshot(self) -> dict[str, Any]:
        """What a payment keeps of its package (the price and terms it was bought at)."""
        return {
            "name": self.name,
            "price": int(self.price),
            "validity_seconds": int(self.validity_seconds),
            "limit_uptime_seconds": to_int(self.limit_uptime_seconds),
            "limit_bytes_total": to_int(self.limit_bytes_total),
            "rate_limit": self.rate_limit,
            "shared_users": int(self.shared_users),
        }


class UserItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="USER")
    phone = UnicodeAttribute()
    username = UnicodeAttribute()
    password = UnicodeAttribute()
    mac = UnicodeAttribute(null=True)
    created_at = NumberAttribute()


class CurrentItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="CURRENT")
    subscription_id = UnicodeAttribute()


class RateWindow(MudaModel):
    """Portal attempts counted in one fixed window for one MAC or address (``core.ratelimit``)."""

    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    count = NumberAttribute(default=0)
    expires_at = NumberAttribute()  # TTL


class PaybillAccount(MudaModel):
    """A Paybill account number of one router and package, stored both ways (by number: what a C2B
    payment names; by router and package: what the portal shows), claimed once together."""

    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="PAYBILL")
    account_number = UnicodeAttribute()
    router_id = UnicodeAttribute()
    package_id = UnicodeAttribute()
    created_at = NumberAttribute()


class SubscriptionItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="SUB")
    subscription_id = UnicodeAttribute()
    phone = UnicodeAttribute()
    package_id = UnicodeAttribute()
    router_id = UnicodeAttribute()
    username = UnicodeAttribute()
    password = UnicodeAttribute()
    mac = UnicodeAttribute(null=True)
    ip = UnicodeAttribute(null=True)
    rate_limit = UnicodeAttribute(null=True)
    shared_users = NumberAttribute(default=1)
    starts_at = NumberAttribute()
    expires_at_ts = NumberAttribute()
    limit_uptime_seconds = NumberAttribute(null=True)
    limit_bytes_total = NumberAttribute(null=True)
    status = UnicodeAttribute()  # active | expired
    last_payment_id = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    updated_at = NumberAttribute(null=True)
    expired_at = NumberAttribute(null=True)
    deprovision_claimed_at = NumberAttribute(null=True)
    deprovision_sent_at = NumberAttribute(null=True)
    # Updated by the router provisioner (contract), conditionally on provision_version.
    provision_status = UnicodeAttribute(null=True)
    provision_version = NumberAttribute(default=0)
    provisioned_at = NumberAttribute(null=True)
    provision_error = UnicodeAttribute(null=True)
    provision_attempts = NumberAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi2 = Gsi2()

    @property
    def term(self) -> logic.Term:
        return logic.Term(
            float(self.starts_at),
            float(self.expires_at_ts),
            to_int(self.limit_uptime_seconds),
            to_int(self.limit_bytes_total),
        )

    @property
    def aggregate(self) -> str:
        """The outbox aggregate of this subscription's events."""
        return f"subscription#{self.subscription_id}"
