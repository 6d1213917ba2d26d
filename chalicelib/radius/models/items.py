"""The RADIUS items and the only place their keys are spelled. They live in the hotspot table,
beside the subscription they account for:

| item | pk / sk |
|---|---|
| accounting session, by FreeRADIUS's Acct-Unique-Session-Id | ``SUB#<subscription>`` / ``ACCT#<unique id>`` |
| data cut-off claimed (one Disconnect per data limit) | ``SUB#<subscription>`` / ``CUTOFF#<limit bytes>`` |
| a phone's last subscription that logged in on a router | ``RADLAST#<phone>#<router>`` / ``RADLAST`` |

In the subscription's partition, one ``Query`` reads the subscription and all its usage (the
one read of an Authorize). The subscription key is the hotspot's (``hotspot.models.items``).
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.core.db import MudaModel
from chalicelib.hotspot.models.items import Key, subscription_key

SESSION, CUTOFF = "ACCT#", "CUTOFF#"


def partition(subscription_id: str) -> str:
    return subscription_key(subscription_id)[0]


def session_key(subscription_id: str, unique_id: str) -> Key:
    return partition(subscription_id), f"{SESSION}{unique_id}"


def cutoff_key(subscription_id: str, limit: int) -> Key:
    return partition(subscription_id), f"{CUTOFF}{limit}"


def last_key(phone: str, router_id: str) -> Key:
    return f"RADLAST#{phone}#{router_id}", "RADLAST"


class SessionItem(MudaModel):
    """One router session as accounting reported it; totals only ever grow."""

    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    subscription_id = UnicodeAttribute()
    router_id = UnicodeAttribute()
    username = UnicodeAttribute()
    acct_session_id = UnicodeAttribute(null=True)
    mac = UnicodeAttribute(null=True)
    ip = UnicodeAttribute(null=True)
    input_octets = NumberAttribute(default=0)
    output_octets = NumberAttribute(default=0)
    total_octets = NumberAttribute(default=0)
    session_time = NumberAttribute(default=0)
    state = UnicodeAttribute()  # started | interim | stopped
    terminate_cause = UnicodeAttribute(null=True)
    started_at = NumberAttribute(null=True)
    updated_at = NumberAttribute()
    stopped_at = NumberAttribute(null=True)
    reports = NumberAttribute(default=1)  # packets that changed it


class CutoffItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    created_at = NumberAttribute()


class LastItem(MudaModel):
    """Which subscription a phone last used on a router: lets a refused login say *expired*
    after the hotspot's current-subscription pointer is gone."""

    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="RADLAST")
    subscription_id = UnicodeAttribute()
    updated_at = NumberAttribute()
