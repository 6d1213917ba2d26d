"""Hotspot e2e fixtures: a router (the stack's RouterOS simulator) and packages, created through
the admin API like the demo seed; helpers to pay (STK, or from the M-Pesa menu), make vouchers,
read the router and read the event feed."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import librouteros
import pytest
import requests
from librouteros.query import Key

from chalicelib.core.auth import dev_token
from infra.local.payments import daraja_config
from infra.local.stack import LocalStack
from tests.e2e.conftest import ARTIFACTS as E2E_ARTIFACTS
from tests.e2e.conftest import WAIT
from tests.support.polling import eventually


@pytest.fixture(scope="package")
def admin_headers(stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token('admin-1', ['admin'])}"}


@pytest.fixture(scope="package")
def shop(stack: LocalStack, admin_headers: dict[str, str]) -> dict[str, Any]:
    """Given the simulated router registered through the admin API, with a 1-hour package and a
    5-second one (expiry, scaled down)."""
    env = stack.env
    router = requests.post(
        f"{stack.api_url}/admin/routers",
        headers=admin_headers,
        json={
            "name": "e2e Cafe",
            "host": env["MUDA_LOCAL_ROUTER_HOST"],
            "port": int(env["MUDA_LOCAL_ROUTER_PORT"]),
            "username": env["MUDA_LOCAL_ROUTER_USERNAME"],
            "password": env["MUDA_LOCAL_ROUTER_PASSWORD"],
            "login_url": f"{env['MUDA_LOCAL_DARAJA_URL']}/hotspot-login",
        },
        timeout=WAIT,
    )
    assert router.status_code == 201, router.text
    rid = router.json()["router_id"]

    def package(**fields: Any) -> dict[str, Any]:
        response = requests.post(
            f"{stack.api_url}/admin/packages",
            headers=admin_headers,
            json={**fields, "router_ids": [rid]},
            timeout=WAIT,
        )
        assert response.status_code == 201, response.text
        return response.json()

    hour = package(
        name="1 hour", price=10, validity_seconds=3600, rate_limit="2M/2M", limit_uptime_seconds=3600
    )
    short = package(name="5 seconds", price=3, validity_seconds=5, rate_limit="1M/1M")
    return {"router_id": rid, "hour": hour, "short": short}


@pytest.fixture(scope="package")
def routeros(stack: LocalStack) -> Callable[[], Any]:
    """The simulated router's API through librouteros (as the provisioner reaches a real one)."""
    env = stack.env

    def connect() -> Any:
        return librouteros.connect(
            env["MUDA_LOCAL_ROUTER_HOST"],
            username=env["MUDA_LOCAL_ROUTER_USERNAME"],
            password=env["MUDA_LOCAL_ROUTER_PASSWORD"],
            port=int(env["MUDA_LOCAL_ROUTER_PORT"]),
            timeout=5,
        )

    return connect


def router_user(connect: Callable[[], Any], username: str) -> dict[str, Any] | None:
    api = connect()
    try:
        name = Key("name")
        rows = list(
            api.path("ip", "hotspot", "user")
            .select(name, Key("profile"), Key("comment"))
            .where(name == username)
        )
        return rows[0] if rows else None
    finally:
        api.close()


def initiate(
    stack: LocalStack, rid: str, package_id: str, phone: str, mac: str = "AA:BB:CC:00:00:01"
) -> dict[str, Any]:
    response = requests.post(
        f"{stack.api_url}/payments/initiate",
        json={
            "package_id": package_id,
            "phone_number": phone,
            "mac_address": mac,
            "router_id": rid,
            "ip": "10.5.50.23",
        },
        timeout=WAIT,
    )
    assert response.status_code == 202, response.text
    return response.json()


def status(stack: LocalStack, payment_id: str) -> dict[str, Any]:
    return requests.get(f"{stack.api_url}/payments/{payment_id}", timeout=60).json()


def wait_status(
    stack: LocalStack, payment_id: str, wanted: set[str], timeout: float = WAIT
) -> dict[str, Any]:
    return eventually(
        lambda: (s := status(stack, payment_id))["status"] in wanted and s,
        timeout=timeout,
        what=f"payment {payment_id} in {wanted}",
    )


def events(stack: LocalStack, headers: dict[str, str], kind: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{stack.api_url}/admin/events?type={kind}&limit=200", headers=headers, timeout=60
    )
    return response.json()["events"]


def callback_url(stack: LocalStack) -> str:
    return f"{stack.api_url}/mpesa/callback/{daraja_config()['callback_token']}"


# --- selling without STK: vouchers, and the buyer paying from the M-Pesa menu (C2B) ---------------


def voucher_codes(
    stack: LocalStack, headers: dict[str, str], package_id: str, rid: str, count: int
) -> list[str]:
    """A fresh batch of ``count`` codes for one package on one router, through the admin API (its
    CSV export: the codes as an agent would print them)."""
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    batch = requests.post(
        f"{stack.api_url}/admin/vouchers/batches",
        headers=headers,
        json={
            "package_id": package_id,
            "router_id": rid,
            "count": count,
            "expires_at": expires,
            "label": "e2e",
        },
        timeout=WAIT,
    )
    assert batch.status_code == 201, batch.text
    csv_text = requests.get(
        f"{stack.api_url}/admin/vouchers/batches/{batch.json()['batch_id']}/codes.csv",
        headers=headers,
        timeout=WAIT,
    )
    assert csv_text.status_code == 200, csv_text.text
    rows = list(csv.DictReader(io.StringIO(csv_text.text)))
    assert len(rows) == count, csv_text.text
    return [row["code"].replace("-", "") for row in rows]  # as printed: grouped ABCDE-FGHJK


def c2b_pay(
    stack: LocalStack, business_number: str, amount: int, phone: str, account: str | None
) -> dict[str, Any]:
    """The buyer pays from the M-Pesa menu (Paybill with ``account``, or Till without): the Daraja
    simulator's C2B simulate posts Safaricom's validation, then its confirmation, to the stack.
    Answers the simulator's report (``TransID`` is the receipt in the buyer's SMS)."""
    daraja, config = stack.env["MUDA_LOCAL_DARAJA_URL"], daraja_config()
    token = requests.get(
        f"{daraja}/oauth/v1/generate?grant_type=client_credentials",
        auth=(config["consumer_key"], config["consumer_secret"]),
        timeout=WAIT,
    ).json()["access_token"]
    msisdn = "254" + phone.replace(" ", "").lstrip("0")[-9:]
    body: dict[str, Any] = {"ShortCode": business_number, "Amount": amount, "Msisdn": msisdn}
    if account:
        body["BillRefNumber"] = account
    paid = requests.post(
        f"{daraja}/mpesa/c2b/v1/simulate",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
        timeout=WAIT,
    )
    assert paid.status_code == 200, paid.text
    report = paid.json()
    assert report["confirmation"] and "error" not in report["confirmation"], report
    return report


# --- the portal in the browser (one Chromium for the tier: tests/e2e/conftest.py) ---------------

ARTIFACTS = E2E_ARTIFACTS / "hotspot"  # screenshots of the portal tests
ARTIFACTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def phone_in(browser: Any) -> Iterator[Callable[..., Any]]:
    """Phone-sized pages (390 x 844, touch), each its own device, in the browser's default locale
    or the one given; closed after the test."""
    contexts: list[Any] = []

    def new_page(locale: str | None = None) -> Any:
        options: dict[str, Any] = {
            "viewport": {"width": 390, "height": 844},
            "is_mobile": True,
            "has_touch": True,
        }
        context = browser.new_context(**options, **({"locale": locale} if locale else {}))
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page

    yield new_page
    for context in contexts:
        context.close()


def open_portal(page: Any, stack: LocalStack, shop: dict[str, Any], mac: str) -> None:
    """The portal as the router's login page sends a device to it, its packages loaded."""
    page.goto(f"{stack.api_url}/portal?router={shop['router_id']}&mac={mac}&ip=10.5.50.23")
    page.get_by_role("button", name="1 hour").wait_for()
