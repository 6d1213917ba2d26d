"""A consultation purchase's settlement raced on DynamoDB Local: 50 copies of the success
callback at the same instant grant the plan's credits once; a cancellation grants nothing."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.consult import purchases
from chalicelib.consult.models import credits as credit_models
from chalicelib.consult.models import items as consult_items
from chalicelib.core import clock, db, events, ids
from chalicelib.payments.models import payments
from chalicelib.payments.service import settlement
from tests.support.races import race

pytestmark = [pytest.mark.contract, pytest.mark.usefixtures("tables")]


class Published:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, published: Iterable[events.DomainEvent]) -> None:
        with self.lock:
            self.events.extend((e.name, e.detail) for e in published)


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> Published:
    box = Published()
    monkeypatch.setattr(events, "publish_many", box)  # direct publishes and the outbox's drain
    return box


def pending_plan_purchase(patient: str) -> str:
    db.warm_up()
    plan_id = ids.new_id("plan_")
    credit_models.add_plan(
        consult_items.Plan(
            *consult_items.plan_key(plan_id),
            plan_id=plan_id,
            name="Family",
            text_sessions=20,
            voice_calls=5,
            price=150_000,
            created_at=clock.now(),
        )
    )
    payment = payments.create(
        checkout_request_id=ids.new_id("ws_CO_"),
        merchant_request_id="m-1",
        product=purchases.PRODUCT,
        quote=purchases.quote_plan(plan_id, patient),
        phone="254712000099",
        keep_until=int(clock.now()) + 86400,
    )
    return payment.checkout_request_id


def test_50_duplicate_callbacks_grant_the_plan_once(bus: Published) -> None:
    """Given a patient's pending plan purchase (KES 1,500)
    When 50 workers apply the same success callback at the same moment
    Then one settles it: the patient's credits are the plan's once, one grant record, one
    PaymentProcessed (to the patient); the other 49 are duplicates."""
    patient = ids.new_id("pat_")
    checkout = pending_plan_purchase(patient)

    outcomes = race(
        lambda: settlement.settle(checkout, "0", "ok", Decimal("1500"), ids.new_id("R")[:10], "callback"),
        n=50,
        strict=True,
    )

    assert Counter(outcomes) == {"paid": 1, "duplicate": 49}
    subscription = credit_models.get_subscription(patient)
    assert subscription is not None
    assert (int(subscription.text_sessions_remaining), int(subscription.voice_calls_remaining)) == (20, 5)
    assert [name for name, _ in bus.events] == ["PaymentProcessed"]
    assert bus.events[0][1]["recipients"] == [patient]
    assert payments.get(checkout).followups_at is not None


def test_a_cancelled_purchase_grants_nothing_even_if_a_success_races_it(bus: Published) -> None:
    """Given a pending plan purchase
    When its 1032 (cancelled) result is applied, then 10 success copies arrive late
    Then it stays cancelled with M-Pesa's words and the patient has no credits."""
    patient = ids.new_id("pat_")
    checkout = pending_plan_purchase(patient)
    assert (
        settlement.settle(checkout, "1032", "Request cancelled by user", None, None, "callback")
        == "cancelled"
    )

    late = race(
        lambda: settlement.settle(checkout, "0", "ok", Decimal("1500"), None, "callback"), n=10, strict=True
    )

    assert set(late) == {"duplicate"}
    payment = payments.get(checkout)
    assert (payment.status, payment.reason, payment.result_desc) == (
        "cancelled",
        "cancelled",
        "Request cancelled by user",
    )
    assert credit_models.get_subscription(patient) is None
    assert [name for name, _ in bus.events] == ["PaymentFailed"]
