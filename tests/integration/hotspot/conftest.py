"""Hotspot integration fixtures: the stage on in-process moto, Daraja as daraja-mock on loopback,
a router and a package, and a way to run the payment worker on what the callback queued."""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client
from daraja_mock import DarajaMock

from chalicelib.core import secrets
from chalicelib.core.config import get_settings, reset_settings
from chalicelib.hotspot.models.items import SubscriptionItem
from chalicelib.hotspot.settings import hotspot_settings
from chalicelib.payments import daraja
from infra.local.stack import free_port
from tests.integration.conftest import bearer
from tests.support.daraja import stk_failure, stk_success
from tests.support.queues import drain, invoke, receive

CALLBACK_TOKEN = "cb-token-for-tests-0123456789"
SECRET = {
    "consumer_key": "test_key",
    "consumer_secret": "test_secret",
    "passkey": "pk-test",
    "callback_token": CALLBACK_TOKEN,
}


# The stage is the tier's one deployment (tests/integration/conftest.py): each test works on its
# own router, package, phone numbers and receipts, and drains the queues it reads.


@pytest.fixture(scope="module")
def daraja_mock() -> tuple[DarajaMock, str]:
    """Given daraja-mock (a third-party Flask double of Daraja) serving on loopback."""
    mock = DarajaMock()
    url = mock.run_thread(port=free_port())
    return mock, url


@pytest.fixture(scope="module")
def api(aws: None, daraja_mock: tuple[DarajaMock, str]) -> Iterator[Client]:
    """Given the app on the module's stage, Daraja at daraja-mock, the Daraja secret stored."""
    from app import app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUDA_HOTSPOT_DARAJA_BASE_URL", daraja_mock[1])
        patch.setenv("MUDA_HOTSPOT_CALLBACK_IP_CHECK", "off")
        reset_settings()
        daraja.reset()
        get_settings(), hotspot_settings()  # read now: Chalice's client swaps the env per request
        secrets.write(f"muda/{get_settings().stage}/hotspot/daraja", SECRET)
        with Client(app) as test_client:
            yield test_client
    reset_settings()
    daraja.reset()


@pytest.fixture
def hotspot(api: Client, daraja_mock: tuple[DarajaMock, str]) -> DarajaMock:
    """Given daraja-mock with a clean request log and the queues drained."""
    mock = daraja_mock[0]
    mock.reset()
    for queue in ("payments", "provisioning", "events"):
        drain(queue)
    return mock


@pytest.fixture
def admin(token: Callable[..., str]) -> dict[str, Any]:
    return bearer(token("admin-1", "admin"))


@pytest.fixture
def shop(api: Client, hotspot: DarajaMock, admin: dict[str, Any]) -> dict[str, Any]:
    """Given a router of this test's own and a 1-hour package for KES 20 sold on it."""
    router = api.http.post(
        "/admin/routers",
        headers={**admin, "Content-Type": "application/json"},
        body=json.dumps(
            {
                "name": "Cafe",
                "host": "127.0.0.1",
                "username": "api",
                "password": "s3cret!",
                "login_url": "http://127.0.0.1:9/login",
            }
        ),
    ).json_body
    package = api.http.post(
        "/admin/packages",
        headers={**admin, "Content-Type": "application/json"},
        body=json.dumps(
            {
                "name": "1 hour",
                "price": 20,
                "validity_seconds": 3600,
                "limit_uptime_seconds": 3600,
                "rate_limit": "2M/5M",
                "shared_users": 1,
                "router_ids": [router["router_id"]],
            }
        ),
    ).json_body
    return {"router": router, "package": package}


def new_phone() -> str:
    return "07" + "".join(random.choices(string.digits, k=8))


def new_receipt() -> str:
    return "T" + "".join(random.choices(string.ascii_uppercase + string.digits, k=9))


def subscriptions(router_id: str) -> list[SubscriptionItem]:
    return list(
        SubscriptionItem.scan((SubscriptionItem.sk == "SUB") & (SubscriptionItem.router_id == router_id))
    )


def post(api: Client, path: str, body: Any, headers: dict[str, Any] | None = None) -> Any:
    return api.http.post(
        path, headers={"Content-Type": "application/json", **(headers or {})}, body=json.dumps(body)
    )


def run_payment_worker() -> dict[str, Any]:
    """Feed what is on the payments queue to the real SQS handler and delete what it reports
    done, as Lambda's event source would (failed records stay for their backoff). One record per
    batch: in-process moto is not thread-safe (races are proven on DynamoDB Local and e2e)."""
    from app import app

    failures: list[dict[str, str]] = []
    while messages := receive("payments", max_messages=1):
        failures.extend(invoke(app.handler_map["payments"], "payments", messages)["batchItemFailures"])
    return {"batchItemFailures": failures}


def router_commands() -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in drain("provisioning")]


def success_callback(
    checkout: str, amount: float = 20.0, receipt: str = "NLJ7RT61SV", code: Any = 0
) -> dict[str, Any]:
    """Safaricom's documented success callback."""
    return stk_success(checkout, amount, receipt or new_receipt(), code)


failure_callback = stk_failure
