"""What one payment costs in AWS calls (the README's figure), counted at botocore's one entry
point: a refactor that adds a call to the payment path fails here, not in next month's bench."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from chalice.test import Client

from chalicelib.hotspot import service
from tests.integration.hotspot.conftest import CALLBACK_TOKEN, new_phone, new_receipt, success_callback
from tests.support.calls import counted
from tests.support.queues import receive


def pay(shop: dict[str, Any]) -> dict[str, Counter[str]]:
    """One buyer's first purchase, phase by phase, with the calls each phase made."""
    phases: dict[str, Counter[str]] = {}
    with counted() as phases["initiate"]:
        payment = service.initiate(
            package_id=shop["package"]["package_id"],
            phone=new_phone(),
            mac="AA:BB:CC:DD:EE:FF",
            router_id=shop["router"]["router_id"],
            ip=None,
        )
    body = json.dumps(success_callback(payment.checkout_request_id, receipt=new_receipt())).encode()
    with counted() as phases["callback"]:
        assert service.accept_callback(CALLBACK_TOKEN, body, None).status == 200
    (message,) = receive("payments", max_messages=1)
    with counted() as phases["worker"]:
        assert service.process_job(json.loads(message["Body"])) == "paid"
    return phases


def test_a_first_purchase_costs_15_aws_calls(api: Client, shop: dict[str, Any]) -> None:
    """Given a warm process (clients, queue URLs and the Daraja secret cached by a first payment)
    When one buyer pays: initiate, callback, worker
    Then initiate costs 4 calls, the callback 2 and the worker 9 (3 of them the outbox's drain of
    PaymentProcessed: Query, PutEvents, BatchWriteItem)."""
    pay(shop)

    phases = pay(shop)

    print({phase: dict(calls) for phase, calls in phases.items()})
    assert {phase: sum(calls.values()) for phase, calls in phases.items()} == {
        "initiate": 4,
        "callback": 2,
        "worker": 9,
    }, phases
    assert phases["worker"]["dynamodb:TransactWriteItems"] == 1
    assert phases["worker"]["events:PutEvents"] == 1
