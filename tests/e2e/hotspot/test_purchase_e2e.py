"""e2e: hotspot payments on the local stack, as `make run` runs it. The purchase walk itself is the
browser test (``test_portal_browser.py``); here, what only a real HTTP server shows: 50 identical
M-Pesa callbacks arriving at once are all answered and buy one subscription, which is then
provisioned on the simulated router (real librouteros) and removed from it when it expires."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import requests
from boto3.dynamodb.conditions import Attr

from chalicelib.core.config import get_settings
from infra.local.stack import LocalStack
from tests.e2e.conftest import WAIT, Http
from tests.e2e.hotspot.conftest import callback_url, events, initiate, router_user, status, wait_status
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e
BURST = 50
SILENT_PHONE = "0700000019"  # the Daraja simulator sends no callback for it: the test sends them


def subscriptions_of(phone: str) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name=get_settings().region).Table(
        get_settings().name("hotspot")
    )
    found = table.scan(FilterExpression=Attr("sk").eq("SUB") & Attr("phone").eq(phone), ConsistentRead=True)
    return found["Items"]


def success(payment: dict[str, Any], receipt: str) -> dict[str, Any]:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": payment.get("merchant_request_id"),
                "CheckoutRequestID": payment["checkout_request_id"],
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": 3.0},
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20261125120000},
                        {"Name": "PhoneNumber", "Value": 254700000019},
                    ]
                },
            }
        }
    }


def test_50_identical_callbacks_at_once_are_all_answered_and_buy_once_until_expiry(
    stack: LocalStack, shop: dict[str, Any], routeros: Any, admin: Http
) -> None:
    """Given a pending payment for the 5-second package whose callback has not come
    When 50 copies of its success callback hit the API at the same instant
    Then every copy gets its HTTP answer (the acknowledgement), there is one subscription, one
    PaymentProcessed, the user is put on the router; and when the package runs out the
    subscription expires and the user is gone from the router."""
    accepted = initiate(
        stack, shop["router_id"], shop["short"]["package_id"], SILENT_PHONE, "AA:BB:CC:00:00:50"
    )
    pending = eventually(
        lambda: (p := stack_payment(accepted["payment_id"])) and p.get("checkout_request_id") and p,
        WAIT,
        0.2,
        "the STK push accepted",
    )
    body, url = success(pending, "E2EBURST50"), callback_url(stack)
    start = threading.Barrier(BURST)

    def send(_: int) -> requests.Response:
        with requests.Session() as session:  # a connection of its own, as 50 senders would have
            start.wait()
            return session.post(url, json=body, timeout=60)

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        answers = list(pool.map(send, range(BURST)))

    assert [a.status_code for a in answers] == [200] * BURST
    assert {a.text.replace(" ", "") for a in answers} == {'{"ResultCode":0,"ResultDesc":"Accepted"}'}
    done = wait_status(stack, accepted["payment_id"], {"provisioned", "provision_failed"}, timeout=WAIT)
    assert done["status"] == "provisioned", done
    (subscription,) = subscriptions_of("254700000019")
    assert int(subscription["provision_version"]) == 1
    assert router_user(routeros, done["username"]) is not None

    def processed() -> list[dict[str, Any]]:
        return [
            e
            for e in events(stack, admin.session.headers, "PaymentProcessed")
            if e["detail"]["payment_id"] == accepted["payment_id"]
        ]

    assert len(eventually(processed, WAIT, 0.5, "PaymentProcessed in the feed")) == 1

    eventually(lambda: status(stack, accepted["payment_id"])["status"] == "expired", WAIT, 0.5, "expired")
    eventually(lambda: router_user(routeros, done["username"]) is None, WAIT, 0.5, "user removed from router")
    assert len(subscriptions_of("254700000019")) == 1


def stack_payment(payment_id: str) -> dict[str, Any]:
    """The payment item as the API stored it (its Daraja request ids are not in the public status)."""
    table = boto3.resource("dynamodb", region_name=get_settings().region).Table(
        get_settings().name("payments")
    )
    found = table.scan(FilterExpression=Attr("payment_id").eq(payment_id), ConsistentRead=True)["Items"]
    return next((i for i in found if "checkout_request_id" in i), {})
