"""What one payment costs in AWS calls (the README's figure), counted at botocore's one entry
point: a refactor that adds a call to the payment path fails here, not in next month's bench."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from chalice.test import Client

from chalicelib.hotspot import service
from chalicelib.payments.service import stk
from tests.integration.hotspot.conftest import CALLBACK_TOKEN, new_phone, new_receipt, success_callback
from tests.support.calls import counted


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
        assert stk.accept_callback(CALLBACK_TOKEN, body, None).status == 200
    return phases


def test_a_first_purchase_costs_8_aws_calls(api: Client, shop: dict[str, Any]) -> None:
    """Given a warm process (clients, queue URLs and the Daraja secret cached by a first payment)
    When one buyer pays: initiate, then Safaricom's callback (settled where it arrives)
    Then initiate costs 2 calls (the package and the buyer in one read, the payment and its alias
    in one write: its STK query rides on it) and the callback 6 (the payment's record, one
    transaction with the grant and the expiry timer, the provisioning command, the timer's
    schedule, PaymentProcessed and the follow-ups marked done): 8, down from 15."""
    pay(shop)

    phases = pay(shop)

    print({phase: dict(calls) for phase, calls in phases.items()})
    assert {phase: sum(calls.values()) for phase, calls in phases.items()} == {"initiate": 2, "callback": 6}
    assert phases["initiate"] == {"dynamodb:BatchGetItem": 1, "dynamodb:TransactWriteItems": 1}
    assert phases["callback"]["dynamodb:TransactWriteItems"] == 1
    assert phases["callback"]["events:PutEvents"] == 1
