"""e2e: a purchase on the local stack, as `make run` runs it — portal, STK push to the Daraja
simulator, its callback, the payment worker, the router provisioner (B's Lambda) and the
simulated router read back through librouteros; plus the query fallback, a cancellation, 50
duplicate callbacks over HTTP, and expiry."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from chalicelib.hotspot.models import payments, subscriptions
from chalicelib.hotspot.models.items import SubscriptionItem
from infra.local.stack import LocalStack
from tests.e2e.hotspot.conftest import callback_url, events, initiate, router_user, status, wait_status
from tests.helpers import eventually

pytestmark = pytest.mark.e2e


def test_full_purchase_puts_the_user_on_the_router(
    stack: LocalStack, shop: dict[str, Any], routeros, admin_headers
) -> None:
    """Given the portal of the demo router
    When a buyer opens it, pays the 1-hour package and the simulated phone enters the PIN
    Then the status goes to provisioned with credentials, the user is on the router with the
    package's profile (librouteros), and PaymentProcessed is in the admin feed."""
    rid = shop["router_id"]
    page = requests.get(
        f"{stack.api_url}/portal?router={rid}&mac=AA:BB:CC:00:00:01&ip=10.5.50.23", timeout=10
    )
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    listed = requests.get(f"{stack.api_url}/portal/routers/{rid}/packages", timeout=10).json()
    assert shop["hour"]["package_id"] in [p["package_id"] for p in listed["packages"]]

    accepted = initiate(stack, rid, shop["hour"]["package_id"], "0712000001")
    done = wait_status(stack, accepted["payment_id"], {"provisioned", "provision_failed"})
    assert done["status"] == "provisioned", done
    assert done["username"] and done["password"] and done["login_url"].endswith("/hotspot-login")
    user = router_user(routeros, done["username"])
    assert user is not None and user["profile"] == f"muda-{shop['hour']['package_id']}"
    payment_ids = [e["detail"]["payment_id"] for e in events(stack, admin_headers, "PaymentProcessed")]
    assert accepted["payment_id"] in payment_ids


def test_cancelled_on_the_phone(stack: LocalStack, shop: dict[str, Any]) -> None:
    """Given the simulator's cancelling phone (0700000001)
    When the buyer pays
    Then the status becomes cancelled with a human message and no credentials."""
    accepted = initiate(stack, shop["router_id"], shop["hour"]["package_id"], "0700000001")
    done = wait_status(stack, accepted["payment_id"], {"cancelled", "failed", "paid", "provisioned"})
    assert done["status"] == "cancelled" and done["reason"] == "cancelled" and done["message"]
    assert not done.get("username")


def test_no_callback_is_settled_by_the_stk_query(stack: LocalStack, shop: dict[str, Any]) -> None:
    """Given the simulator's silent phone (0700000009: the push succeeds, no callback ever comes)
    When the buyer pays
    Then the STK query fallback settles it (scaled to 2 s) and access is provisioned."""
    accepted = initiate(stack, shop["router_id"], shop["hour"]["package_id"], "0700000009")
    done = wait_status(
        stack, accepted["payment_id"], {"provisioned", "provision_failed", "failed"}, timeout=40
    )
    assert done["status"] == "provisioned"
    assert payments.by_id(accepted["payment_id"]).settled_by == "query"


def test_50_duplicate_callbacks_over_http_buy_once(
    stack: LocalStack, shop: dict[str, Any], admin_headers
) -> None:
    """Given a pending payment whose callback has not come (a silent phone)
    When 50 copies of its success callback hit the API, 10 at a time
    Then every copy is acknowledged, and there is one subscription, one provisioning (version 1)
    and one PaymentProcessed for it."""
    accepted = initiate(
        stack, shop["router_id"], shop["hour"]["package_id"], "0700000019", "AA:BB:CC:00:00:50"
    )
    payment = payments.by_id(accepted["payment_id"])
    body = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": payment.merchant_request_id,
                "CheckoutRequestID": payment.checkout_request_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": 10.0},
                        {"Name": "MpesaReceiptNumber", "Value": "E2EDUP5001"},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20261125120000},
                        {"Name": "PhoneNumber", "Value": 254700000019},
                    ]
                },
            }
        }
    }
    url = callback_url(stack)
    # 50 copies from 10 senders at once: `chalice local` (the dev server) listens with a backlog
    # of 5 and resets connections beyond it; 50 truly simultaneous writers race on DynamoDB Local
    # in tests/contract/hotspot.
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: requests.post(url, json=body, timeout=30), range(50)))
    assert {(a.status_code, a.text.replace(" ", "")) for a in answers} == {
        (200, '{"ResultCode":0,"ResultDesc":"Accepted"}')
    }
    done = wait_status(stack, accepted["payment_id"], {"provisioned", "provision_failed"})
    assert done["status"] == "provisioned"
    settled = payments.by_id(accepted["payment_id"])
    # Copies are counted with ADD; moto_server is not atomic under concurrent ADDs (DynamoDB is),
    # so only "some were counted" holds here.
    assert 1 <= settled.callback_copies <= 50 and settled.receipt == "E2EDUP5001"
    sub = subscriptions.get(settled.subscription_id)
    assert sub.provision_version == 1
    phone_subs = [s for s in SubscriptionItem.scan(SubscriptionItem.sk == "SUB") if s.phone == "254700000019"]
    assert len({s.subscription_id for s in phone_subs}) == 1

    def processed() -> list[dict[str, Any]]:
        return [
            e
            for e in events(stack, admin_headers, "PaymentProcessed")
            if e["detail"]["payment_id"] == accepted["payment_id"]
        ]

    assert len(eventually(processed, what="PaymentProcessed in the feed")) == 1


def test_expiry_removes_the_user_from_the_router(
    stack: LocalStack, shop: dict[str, Any], routeros, admin_headers
) -> None:
    """Given a 5-second package bought and provisioned
    When its validity runs out
    Then the subscription expires, the user is gone from the router, SubscriptionExpired is emitted."""
    accepted = initiate(
        stack, shop["router_id"], shop["short"]["package_id"], "0712000077", "AA:BB:CC:00:00:77"
    )
    done = wait_status(stack, accepted["payment_id"], {"provisioned", "provision_failed"})
    assert done["status"] == "provisioned" and router_user(routeros, done["username"]) is not None
    sub_id = payments.by_id(accepted["payment_id"]).subscription_id
    eventually(lambda: subscriptions.get(sub_id).status == "expired", timeout=30, what="expired")
    eventually(
        lambda: router_user(routeros, done["username"]) is None, timeout=30, what="user removed from router"
    )
    assert eventually(lambda: status(stack, accepted["payment_id"])["status"] == "expired", timeout=30)
    expired = eventually(
        lambda: [
            e
            for e in events(stack, admin_headers, "SubscriptionExpired")
            if e["detail"]["subscription_id"] == sub_id
        ],
        what="SubscriptionExpired",
    )
    assert len(expired) == 1
