"""The hotspot's conditional writes on DynamoDB Local, raced by threads for real: duplicate
callbacks, a callback racing the STK query, a receipt used twice, a phone buying twice at once,
expiry racing a renewal."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.core import clock, db, events, ids, timers
from chalicelib.hotspot import messages, service
from chalicelib.hotspot.models import catalog
from chalicelib.hotspot.models.items import PackageItem, SubscriptionItem
from chalicelib.hotspot.service.purchase import PRODUCT, quote
from chalicelib.payments.models import payments
from chalicelib.payments.models.items import PaymentItem
from chalicelib.payments.service import settlement
from tests.support.races import race

pytestmark = [pytest.mark.contract, pytest.mark.usefixtures("tables")]


class Outbox:
    """What the follow-ups sent (provisioning commands, timers) and what the outbox published
    (events), recorded thread-safely: SQS, Scheduler and EventBridge are not the data layer's
    business."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.commands: list[dict[str, Any]] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.timers: list[tuple[str, str, float]] = []

    def command(self, command: dict[str, Any]) -> None:
        with self.lock:
            self.commands.append(command)

    def publish(self, published: Iterable[events.DomainEvent]) -> None:
        with self.lock:
            self.events.extend((e.name, e.detail) for e in published)

    def schedule(self, kind: str, key: str, due_at: float, payload: dict[str, Any] | None = None) -> bool:
        with self.lock:
            self.timers.append((kind, key, due_at))
        return True


@pytest.fixture
def outbox(monkeypatch: pytest.MonkeyPatch) -> Outbox:
    box = Outbox()
    monkeypatch.setattr(messages, "router_command", box.command)
    monkeypatch.setattr(events, "publish_many", box.publish)  # the outbox's drain
    monkeypatch.setattr(timers, "schedule", box.schedule)
    monkeypatch.setattr(timers, "arm", lambda kind, key, due_at: box.schedule(kind, key, due_at))
    return box


@pytest.fixture
def package() -> PackageItem:
    db.warm_up()  # as the runtime does: a cold burst of threads would each build a client
    return catalog.add_package(
        ids.new_id("pkg_"),
        {
            "name": "1 hour",
            "price": 20,
            "validity_seconds": 3600,
            "rate_limit": "2M/5M",
            "router_ids": ["rtr_c1"],
        },
    )


def pending(package: PackageItem, phone: str = "254712000001") -> PaymentItem:
    return payments.create(
        checkout_request_id=ids.new_id("ws_CO_"),
        merchant_request_id="m-1",
        product=PRODUCT,
        quote=quote(package.package_id, "rtr_c1", phone, "AA:BB:CC:DD:EE:FF", None),
        phone=phone,
        keep_until=int(clock.now()) + 86400,
    )


def subscriptions_of(phone: str) -> list[SubscriptionItem]:
    return [s for s in SubscriptionItem.scan(SubscriptionItem.sk == "SUB") if s.phone == phone]


def test_50_concurrent_duplicate_success_callbacks_buy_once(package: PackageItem, outbox: Outbox) -> None:
    """Given a pending payment
    When 50 workers apply the same success callback at the same moment
    Then one settles it: one subscription, one provisioning command, one PaymentProcessed, one
    expiry timer; the other 49 are duplicates."""
    payment = pending(package, "254712000050")

    outcomes = race(
        lambda: settlement.settle(
            payment.checkout_request_id, "0", "ok", Decimal("20"), "RCPTRACE50", "callback"
        ),
        n=50,
        strict=True,
    )

    assert Counter(outcomes) == {"paid": 1, "duplicate": 49}
    assert len(subscriptions_of("254712000050")) == 1
    assert len(outbox.commands) == 1 and outbox.commands[0]["action"] == "provision"
    assert [name for name, _ in outbox.events] == ["PaymentProcessed"]
    assert [kind for kind, _, _ in outbox.timers] == [service.EXPIRE]
    settled = payments.get(payment.checkout_request_id)
    assert settled.status == "paid" and settled.followups_at is not None


def test_callback_racing_the_query_settles_once(package: PackageItem, outbox: Outbox) -> None:
    """Given a pending payment
    When its success callback and a successful STK query answer are applied at once (10 each)
    Then it is paid once, with one command and one event, whichever came first."""
    payment = pending(package, "254712000051")
    cid = payment.checkout_request_id
    calls = [
        (lambda: settlement.settle(cid, "0", "ok", Decimal("20"), "RCPTRACE51", "callback")),
        (lambda: settlement.settle(cid, "0", "ok", None, None, "query")),
    ] * 10
    it = iter(calls)
    lock = threading.Lock()

    def next_call() -> str:
        with lock:
            call = next(it)
        return call()

    outcomes = race(next_call, n=20, strict=True)
    assert Counter(outcomes)["paid"] == 1 and Counter(outcomes)["duplicate"] == 19
    assert len(outbox.commands) == 1 and len(outbox.events) == 1


def test_one_receipt_on_two_payments_pays_one(package: PackageItem, outbox: Outbox) -> None:
    """Given two pending payments of different phones
    When success callbacks carrying the same receipt are applied to both at once
    Then exactly one is paid; the other fails with receipt_reused; one command."""
    first, second = pending(package, "254712000052"), pending(package, "254712000053")
    targets = iter([first.checkout_request_id, second.checkout_request_id])
    lock = threading.Lock()

    def apply() -> str:
        with lock:
            cid = next(targets)
        return settlement.settle(cid, "0", "ok", Decimal("20"), "RCPTSHARED", "callback")

    assert sorted(race(apply, n=2, strict=True)) == ["paid", "receipt_reused"]
    assert len(outbox.commands) == 1
    assert sorted(n for n, _ in outbox.events) == ["PaymentFailed", "PaymentProcessed"]


def test_a_phone_buying_twice_at_once_gets_one_extended_subscription(
    package: PackageItem, outbox: Outbox
) -> None:
    """Given two pending payments of the same phone on the same router
    When both are paid at the same moment
    Then the phone has one subscription with two validities, versions 1 and 2 were commanded."""
    phone = "254712000054"
    a, b = pending(package, phone), pending(package, phone)
    targets = iter([(a.checkout_request_id, "RCPTTWICE1"), (b.checkout_request_id, "RCPTTWICE2")])
    lock = threading.Lock()

    def apply() -> str:
        with lock:
            cid, receipt = next(targets)
        return settlement.settle(cid, "0", "ok", Decimal("20"), receipt, "callback")

    assert race(apply, n=2, strict=True) == ["paid", "paid"]
    subs = subscriptions_of(phone)
    assert len(subs) == 1
    sub = subs[0]
    assert sub.expires_at_ts - sub.starts_at == pytest.approx(7200, abs=5)
    assert sorted(c["version"] for c in outbox.commands) == [1, 2] and sub.provision_version == 2


def test_expiry_racing_a_renewal_never_loses_the_renewal(package: PackageItem, outbox: Outbox) -> None:
    """Given a subscription at its expiry instant
    When the expiry timer and a renewal payment run at the same moment
    Then either the renewal extended it (expiry is a no-op) or it expired and the renewal started
    a new subscription: the buyer holds active access either way, and it was commanded."""
    phone = "254712000055"
    frozen = clock.FrozenClock()
    clock.set_clock(frozen)
    try:
        first = pending(package, phone)
        assert (
            settlement.settle(first.checkout_request_id, "0", "ok", Decimal("20"), "RCPTEXP001", "callback")
            == "paid"
        )
        sub = subscriptions_of(phone)[0]
        frozen.advance(3600)
        renewal = pending(package, phone)
        calls = iter(
            [
                lambda: service.expire(sub.subscription_id),
                lambda: settlement.settle(
                    renewal.checkout_request_id, "0", "ok", Decimal("20"), "RCPTEXP002", "callback"
                ),
            ]
        )
        lock = threading.Lock()

        def run() -> str:
            with lock:
                call = next(calls)
            return call()

        race(run, n=2, strict=True)
    finally:
        clock.set_clock(None)
    active = [s for s in subscriptions_of(phone) if s.status == "active"]
    assert len(active) == 1 and active[0].expires_at_ts > frozen.t
    assert payments.get(renewal.checkout_request_id).status == "paid"
