"""Vouchers on DynamoDB Local, raced by threads for real: one code wanted by 50 devices, one
device retrying at once, redemptions racing a sale and a batch revocation; and the generation's
conditional puts (a code that exists already is drawn again)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core import config, db, ids, timers
from chalicelib.core.errors import Conflict
from chalicelib.hotspot import messages
from chalicelib.hotspot.models import catalog
from chalicelib.hotspot.models.items import PackageItem, SubscriptionItem
from chalicelib.hotspot.settings import HotspotSettings, hotspot_settings
from chalicelib.hotspot.vouchers import logic, models, redeem, service
from tests.support.races import race, race_indexed

pytestmark = [pytest.mark.contract, pytest.mark.usefixtures("tables")]

ROUTER, ADDRESS = "rtr_v1", "203.0.113.50"


class Sent:
    """The provisioning commands and timer arms the follow-ups sent (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.commands: list[dict[str, Any]] = []
        self.armed: list[str] = []

    def command(self, command: dict[str, Any]) -> None:
        with self.lock:
            self.commands.append(command)

    def arm(self, kind: str, key: str, due_at: float) -> None:
        with self.lock:
            self.armed.append(key)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Given the follow-ups recorded instead of sent, and every racer behind one public address
    with the per-address limit raised (50 devices of one hotspot share it)."""
    box = Sent()
    monkeypatch.setattr(messages, "router_command", box.command)
    monkeypatch.setattr(timers, "arm", box.arm)
    raised = hotspot_settings().model_copy(update={"attempts_per_ip": 10_000})
    monkeypatch.setitem(config._domain, HotspotSettings, raised)
    return box


@pytest.fixture
def package() -> PackageItem:
    db.warm_up()  # as the runtime does: a cold burst of threads would each build a client
    return catalog.add_package(
        ids.new_id("pkg_"),
        {"name": "1 day", "price": 50, "validity_seconds": 86400, "router_ids": [ROUTER]},
    )


def batch_of(package: PackageItem, count: int) -> tuple[models.BatchItem, list[str]]:
    until = datetime.now(UTC) + timedelta(days=30)
    made = service.generate(package.package_id, ROUTER, count, until, None)
    return made, models.batch_with_codes(made.batch_id)[1]


def device(test: int, i: int) -> str:
    """Device ``i`` of one test (its own MACs: the rate-limit windows outlive a test)."""
    return f"02:00:00:{test:02X}:{i // 256:02X}:{i % 256:02X}"


def attempt(code: str, mac: str) -> Any:
    """One portal redemption: ``created`` / ``replay``, or the contract's refusal code."""
    try:
        done = redeem.redeem(code, ROUTER, mac, None, ADDRESS)
    except logic.Refused as refused:
        return refused.code
    return ("created" if done.created else "replay", done.subscription.subscription_id)


def subscriptions_of(code: str) -> list[SubscriptionItem]:
    found = SubscriptionItem.scan(
        (SubscriptionItem.sk == "SUB") & (SubscriptionItem.phone == logic.buyer(code))
    )
    return list(found)


def test_50_devices_racing_for_one_code_get_one_subscription(package: PackageItem, sent: Sent) -> None:
    """Given one unused code
    When 50 devices redeem it at the same moment
    Then exactly one gets a subscription (one 201), the 49 others a clear voucher_used; one
    subscription, one provisioning command, its expiry timer and provision check armed once each,
    and the counts say 1 used."""
    batch, codes = batch_of(package, 3)

    outcomes = race_indexed(lambda i: attempt(codes[0], device(1, i)), 50, strict=True)

    kinds = Counter(o[0] if isinstance(o, tuple) else o for o in outcomes)
    assert kinds == {"created": 1, "voucher_used": 49}
    winner = next(o[1] for o in outcomes if isinstance(o, tuple))
    assert [s.subscription_id for s in subscriptions_of(codes[0])] == [winner]
    assert [c["subscription_id"] for c in sent.commands] == [winner]
    assert sorted(sent.armed) == [winner, f"{winner}#1"]
    assert models.get_batch(batch.batch_id).counts() == {"unused": 2, "sold": 0, "used": 1, "revoked": 0}
    assert models.get(codes[0]).subscription_id == winner


def test_one_device_retrying_at_once_gets_one_subscription(package: PackageItem, sent: Sent) -> None:
    """Given one code, when the same device sends its redemption 5 times at once (its limit),
    then one subscription; one answer created, four the same subscription again."""
    _, codes = batch_of(package, 1)

    outcomes = race(lambda: attempt(codes[0], device(2, 0)), n=5, strict=True)

    assert Counter(o[0] for o in outcomes) == {"created": 1, "replay": 4}
    assert len({o[1] for o in outcomes}) == 1 and len(subscriptions_of(codes[0])) == 1


def test_counts_stay_exact_when_redemptions_race_a_sale_and_a_revocation(
    package: PackageItem, sent: Sent
) -> None:
    """Given a batch of 12
    When 12 devices redeem its 12 codes while the operator marks 5 sold and revokes the batch
    Then every code is used or revoked, the counts add up to 12 and equal what happened: used =
    the redemptions that won = the subscriptions; revoked = the rest."""
    batch, codes = batch_of(package, 12)

    def sell() -> Any:
        try:
            return service.sell(batch.batch_id, None, 5)["marked"]
        except Conflict as refused:  # the batch was revoked first, or too few codes were left
            return refused.code

    jobs = [lambda i=i: attempt(codes[i], device(3, i)) for i in range(12)]
    results = race([*jobs, sell, lambda: service.revoke_batch(batch.batch_id)], strict=True)

    won = [r for r in results[:12] if isinstance(r, tuple)]
    assert {r for r in results[:12] if not isinstance(r, tuple)} <= {"voucher_revoked"}
    counts = models.get_batch(batch.batch_id).counts()
    assert counts == {"unused": 0, "sold": 0, "used": len(won), "revoked": 12 - len(won)}
    assert sum(len(subscriptions_of(c)) for c in codes) == len(won) == len(sent.commands)


def test_a_drawn_code_that_exists_is_drawn_again(
    package: PackageItem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a code already in a batch
    When a new batch of 120 (two transactions) draws that code first
    Then the put is refused by its condition, another code is drawn: 120 distinct new codes,
    and the old code still belongs to its batch, unused."""
    first, (taken,) = batch_of(package, 1)
    draws = iter([taken])
    real = logic.new_code
    monkeypatch.setattr(logic, "new_code", lambda: next(draws, None) or real())

    second, codes = batch_of(package, 120)

    assert len(set(codes)) == 120 and taken not in codes
    assert set(models.many(codes)) == set(codes)
    old = models.get(taken)
    assert (old.batch_id, old.status) == (first.batch_id, logic.UNUSED)
    assert models.get_batch(second.batch_id).counts()["unused"] == 120
