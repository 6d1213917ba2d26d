"""The provision check on in-process moto: a voucher redemption or a reconnect whose process dies
after its write commits, before the router's command is sent, still gets the access onto the
router — the ``hotspot.provision_check`` timer written in the same transaction sends that
version's command again; and it stays quiet once the provisioner has seen the version, or a newer
version has replaced it. Time is the frozen clock; timers fire through the app's consumer
(``DueWork``) or the sweeper."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.core import timers
from chalicelib.core.config import get_settings
from chalicelib.hotspot import logic, messages
from chalicelib.hotspot.models import subscriptions as subs
from chalicelib.hotspot.service import reconnect as reconnecting
from chalicelib.hotspot.service.purchase import PROVISION_CHECK
from chalicelib.hotspot.vouchers import models, redeem
from chalicelib.hotspot.vouchers import service as vouchers
from functions.router_provisioner import store as provisioner
from functions.router_provisioner.config import Settings
from functions.router_provisioner.logic import parse_command
from tests.integration.hotspot.conftest import new_phone, router_commands
from tests.integration.hotspot.test_paybill import new_mac
from tests.integration.hotspot.test_reconnect import OLD_MAC, buy
from tests.support.calls import counted
from tests.support.due import DueWork

CHECK_AFTER = 60  # provision_check_seconds' default
# How long before its due a check is shown not to have fired: SQS delays are whole seconds, so the
# consumer may take the message up to a second early and wait it out on the frozen clock, moving
# the clock past an ``advance`` that ends just short of the due time (seen: 59 s → 60.4 s).
NOT_YET = CHECK_AFTER - 5


class Died(Exception):
    """The process died here (after the commit)."""


def die(*args: Any, **kwargs: Any) -> None:
    raise Died()


def a_code(shop: dict) -> str:
    until = datetime.now(UTC) + timedelta(days=1)
    batch = vouchers.generate(shop["package"]["package_id"], shop["router"]["router_id"], 1, until, None)
    return models.batch_with_codes(batch.batch_id)[1][0]


def check_state(subscription_id: str, version: int) -> str | None:
    item = timers.get(PROVISION_CHECK, f"{subscription_id}#{version}")
    return item.state if item else None


@contextmanager
def dying_at(where: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The first send after the commit raises and the call dies: the command's (the check was
    armed just before) or the check's arming (nothing was sent: only the sweeper can find it)."""
    with monkeypatch.context() as patch:
        if where == "command":
            patch.setattr(messages, "router_command", die)
        else:
            patch.setattr(timers, "arm", die)
        with pytest.raises(Died):
            yield


def come_due(where: str, due: DueWork) -> None:
    """Time passes until the check fires: its armed message at 60 s, or, unarmed, the sweeper's
    re-send once it is overdue (due + grace)."""
    if where == "command":
        due.advance(CHECK_AFTER + 1)
        return
    due.advance(CHECK_AFTER + get_settings().timer_sweep_grace_seconds + 1)
    assert router_commands() == []  # nothing was armed: the message exists only after a sweep
    assert timers.sweep() >= 1
    due.run()


def provisioner_saw(command: dict[str, Any], what: str) -> None:
    """What the router provisioner writes when it tries this command (its own store)."""
    store = provisioner.Store(Settings.from_env())
    parsed = parse_command(json.dumps(command))
    if what == "a failed try":
        assert store.note_attempt(parsed, "router 127.0.0.1:8728 did not answer in time", 1)
    else:
        assert store.mark_provisioned(parsed, 1)


@pytest.mark.parametrize("where", ["command", "arm"])
def test_a_voucher_whose_command_was_lost_is_provisioned_by_its_check(
    shop: dict, clock: Any, due: DueWork, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Given a code
    When it is redeemed and the process dies right after the commit (the command's send raises,
    or already the check's arming)
    Then the access exists (pending, version 1) and no command went out, nor 55 s later; when the
    check comes due (armed: at 60 s; unarmed: the sweeper's re-send) the version-1 command is sent
    once, with the device's MAC, and the check is done: later time sends nothing more."""
    code, device = a_code(shop), new_mac()
    with dying_at(where, monkeypatch):
        redeem.redeem(code, shop["router"]["router_id"], device, "10.5.50.9", None)

    sub = subs.get(models.get(code).subscription_id or "")
    assert (sub.status, sub.provision_status, int(sub.provision_version)) == ("active", "pending", 1)
    assert router_commands() == []
    due.advance(NOT_YET)
    assert router_commands() == []

    come_due(where, due)

    (command,) = router_commands()
    assert (command["action"], command["subscription_id"], command["version"]) == (
        "provision",
        sub.subscription_id,
        1,
    )
    assert (command["username"], command["mac"], command["ip"]) == (code, device, "10.5.50.9")
    assert "previous_mac" not in command
    assert check_state(sub.subscription_id, 1) == timers.FIRED
    due.advance(600)
    assert router_commands() == []


@pytest.mark.parametrize("where", ["command", "arm"])
def test_a_move_whose_command_was_lost_is_sent_again_with_previous_mac(
    api: Client, shop: dict, clock: Any, due: DueWork, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Given a paid one-device access on OLD_MAC
    When the buyer reconnects from a new device and the process dies right after the commit
    Then the access is on the new device at version 2 and no command went out; when the check
    comes due the version-2 command goes out once, with the new MAC and previous_mac = OLD_MAC
    (the old device's session is removed)."""
    phone = logic.normalize_phone(new_phone())
    receipt, subscription_id = buy(api, shop, phone)
    device = new_mac()
    with dying_at(where, monkeypatch):
        reconnecting.reconnect(
            receipt=receipt,
            phone=phone,
            router_id=shop["router"]["router_id"],
            mac=device,
            ip=None,
            source_ip=None,
        )

    sub = subs.get(subscription_id)
    assert (sub.mac, int(sub.provision_version), sub.provision_status) == (device, 2, "pending")
    assert router_commands() == []

    come_due(where, due)

    (command,) = router_commands()
    assert (command["subscription_id"], command["version"]) == (subscription_id, 2)
    assert (command["mac"], command["previous_mac"]) == (device, OLD_MAC)
    assert check_state(subscription_id, 2) == timers.FIRED


@pytest.mark.parametrize("seen", ["a failed try", "provisioned"])
def test_a_check_sends_nothing_once_the_provisioner_has_seen_the_version(
    shop: dict, clock: Any, due: DueWork, seen: str
) -> None:
    """Given a voucher redeemed normally, its command on the queue
    When the provisioner records a failed try of it (it retries on its own backoff), or
    provisions it, and then the check comes due
    Then the check fires and sends nothing."""
    code = a_code(shop)
    done = redeem.redeem(code, shop["router"]["router_id"], new_mac(), None, None)
    (command,) = router_commands()
    provisioner_saw(command, seen)

    due.advance(CHECK_AFTER + 1)

    assert check_state(done.subscription.subscription_id, 1) == timers.FIRED
    assert router_commands() == []


def test_a_newer_version_makes_the_old_check_a_no_op(
    api: Client, shop: dict, clock: Any, due: DueWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a paid access moved to device A by a reconnect whose process died before the command
    (version 2's check pending), then moved on to device B normally (version 3, its command sent)
    When both checks come due, nothing having been provisioned yet
    Then version 2's check sends nothing (it is no longer the subscription's version); only
    version 3's command goes out again (B, previous_mac A): never the old device's."""
    phone = logic.normalize_phone(new_phone())
    receipt, subscription_id = buy(api, shop, phone)
    router_id, a, b = shop["router"]["router_id"], new_mac(), new_mac()
    with dying_at("command", monkeypatch):
        reconnecting.reconnect(
            receipt=receipt, phone=phone, router_id=router_id, mac=a, ip=None, source_ip=None
        )
    reconnecting.reconnect(receipt=receipt, phone=phone, router_id=router_id, mac=b, ip=None, source_ip=None)
    (sent,) = router_commands()
    assert (sent["version"], sent["mac"], sent["previous_mac"]) == (3, b, a)

    due.advance(CHECK_AFTER + 1)

    assert [(c["version"], c["mac"], c["previous_mac"]) for c in router_commands()] == [(3, b, a)]
    assert check_state(subscription_id, 2) == check_state(subscription_id, 3) == timers.FIRED


def test_what_a_reconnect_costs_in_aws_calls(api: Client, shop: dict) -> None:
    """Given a warm process and a paid access
    When the buyer moves it to a new device with the receipt, from the hotspot's address
    Then it costs 8 calls: the device's and the address's try counted, the receipt, the payment
    and the subscription read, one transaction (the move and its provision check), the check
    armed and the command sent (SQS)."""
    phone = logic.normalize_phone(new_phone())
    receipt, _ = buy(api, shop, phone)
    router_id = shop["router"]["router_id"]

    def move() -> None:
        reconnecting.reconnect(
            receipt=receipt, phone=phone, router_id=router_id, mac=new_mac(), ip=None, source_ip="192.0.2.7"
        )

    move()
    with counted() as moving:
        move()

    router_commands()
    assert moving == {
        "dynamodb:UpdateItem": 2,
        "dynamodb:GetItem": 3,
        "dynamodb:TransactWriteItems": 1,
        "sqs:SendMessage": 2,
    }
