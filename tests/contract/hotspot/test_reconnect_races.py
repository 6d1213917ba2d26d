"""Binding a paid access to a device, raced on DynamoDB Local: ten devices claiming one
Paybill access at once, ten reconnects moving one access at once, ten devices claiming one held
Till payment at once."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.core import clock, db, ids
from chalicelib.core.errors import Conflict
from chalicelib.hotspot import messages
from chalicelib.hotspot.models import catalog, subscriptions
from chalicelib.hotspot.models.items import PackageItem
from chalicelib.hotspot.service import devices, paybill
from chalicelib.hotspot.service.purchase import PRODUCT, quote
from chalicelib.payments import offers
from chalicelib.payments.models import payments
from chalicelib.payments.service import settlement
from tests.support.races import race_indexed

pytestmark = [pytest.mark.contract, pytest.mark.usefixtures("tables")]


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []  # list.append is atomic under the GIL
    monkeypatch.setattr(messages, "router_command", sent.append)
    monkeypatch.setattr("chalicelib.core.timers.arm", lambda *a, **k: True)
    monkeypatch.setattr("chalicelib.core.events.publish_many", lambda *a, **k: None)
    return sent


def paid_access(phone: str, mac: str | None) -> str:
    """A paid subscription on rtr_r1 (``mac`` None: a Paybill payment's, no device yet)."""
    db.warm_up()
    package: PackageItem = catalog.add_package(
        ids.new_id("pkg_"),
        {
            "name": "1 hour",
            "price": 20,
            "validity_seconds": 3600,
            "router_ids": ["rtr_r1"],
            "shared_users": 1,
        },
    )
    payment = payments.create(
        checkout_request_id=ids.new_id("ws_CO_"),
        merchant_request_id=None,
        product=PRODUCT,
        quote=quote(package.package_id, "rtr_r1", phone, mac, None),
        phone=phone,
        keep_until=int(clock.now()) + 86400,
    )
    receipt = "R" + ids.new_id()[-9:].upper()
    assert (
        settlement.settle(payment.checkout_request_id, "0", "ok", Decimal(20), receipt, "callback") == "paid"
    )
    return payments.get(payment.checkout_request_id).grant_id


def mac(i: int) -> str:
    return f"02:00:00:00:00:{i:02X}"


def test_ten_devices_claiming_one_paybill_access_at_once_one_wins(commands: list) -> None:
    """Given a paid one-device access with no device (a Paybill payment)
    When ten devices claim it at the same moment, each from its own read
    Then one binds it (version 2, one command with its MAC); the nine others get 409
    already_claimed and send nothing."""
    subscription_id = paid_access("254712100001", None)
    commands.clear()

    def claim(i: int) -> Any:
        sub = subscriptions.get(subscription_id)
        return devices.bind(sub, mac(i), None, move=False).move.kind

    outcomes = race_indexed(claim, 10)

    kinds = Counter(o.code if isinstance(o, Conflict) else o for o in outcomes)
    assert kinds == {"first": 1, "already_claimed": 9}, outcomes
    sub = subscriptions.get(subscription_id)
    assert int(sub.provision_version) == 2 and [c["mac"] for c in commands] == [sub.mac]


def test_ten_reconnects_moving_one_access_at_once_chain_without_losing_one(commands: list) -> None:
    """Given a paid one-device access on device 0
    When ten other devices reconnect with its receipt at the same moment
    Then every move is conditioned on the version it read, so they serialize: each that
    succeeded has its own version (2, 3, …, no gap, none twice), its command names the device of
    the version before as previous_mac, and the access ends on the last one's device; a device
    that kept losing is told to try again (409 busy), never half-moved."""
    subscription_id = paid_access("254712100002", mac(0))
    commands.clear()

    def move(i: int) -> Any:
        sub = subscriptions.get(subscription_id)
        return devices.bind(sub, mac(i + 1), None, move=True).move.kind

    outcomes = race_indexed(move, 10)

    moved = [o for o in outcomes if o == "moved"]
    assert all(o == "moved" or (isinstance(o, Conflict) and o.code == "busy") for o in outcomes), outcomes
    assert moved
    chain = sorted(commands, key=lambda c: c["version"])
    assert [c["version"] for c in chain] == list(range(2, 2 + len(moved)))
    assert [c["previous_mac"] for c in chain] == [mac(0)] + [c["mac"] for c in chain[:-1]]
    sub = subscriptions.get(subscription_id)
    assert int(sub.provision_version) == 1 + len(moved) and sub.mac == chain[-1]["mac"]


def test_ten_devices_claiming_one_till_payment_at_once_grant_once(
    commands: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a held Till payment of KES 20 (no account: its payer says what it buys) and a KES 20
    package on rtr_t1
    When ten devices of the payer claim it at the same moment
    Then one settles it (paid, one subscription bound to its device, one command); the nine
    others find it settled and get 409 already_claimed."""
    db.warm_up()
    phone = "254712100003"
    catalog.add_package(
        ids.new_id("pkg_"),
        {"name": "1 hour", "price": 20, "validity_seconds": 3600, "router_ids": ["rtr_t1"]},
    )
    held = payments.create(
        checkout_request_id="S" + ids.new_id()[-9:].upper(),
        merchant_request_id=None,
        product=PRODUCT,
        quote=offers.Quote("-", 20, {"name": "held"}, "", "C2B", context={"reason": "awaiting_claim"}),
        phone=phone,
        keep_until=int(clock.now()) + 86400,
        method="c2b",
        status="held",
    )
    till = paybill.hotspot_settings().model_copy(update={"paybill_kind": "till"})
    monkeypatch.setattr(paybill, "hotspot_settings", lambda: till)
    commands.clear()

    def claim(i: int) -> Any:
        return paybill.claim(
            router_id="rtr_t1", package_id=None, phone=phone, mac=mac(i), ip=None, source_ip=None
        )

    outcomes = race_indexed(claim, 10)

    won = [o for o in outcomes if isinstance(o, paybill.Claimed)]
    lost = [o.code for o in outcomes if isinstance(o, Conflict)]
    assert len(won) == 1 and lost == ["already_claimed"] * 9, outcomes
    paid = payments.get(held.checkout_request_id)
    assert paid.status == "paid" and paid.grant_id == won[0].subscription_id
    sub = subscriptions.get(paid.grant_id)
    assert [(c["mac"], c["version"]) for c in commands] == [(sub.mac, 1)]
