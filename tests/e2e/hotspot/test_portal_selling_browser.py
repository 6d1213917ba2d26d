"""Browser: the portal's other ways in, in headless Chromium on the local stack (shared with the
STK walk in test_portal_browser.py): a printed voucher, Paybill from the M-Pesa menu with "I paid",
and "I already paid" with the receipt from the SMS. Each ends as a paid purchase does: the
credentials, and the auto-login form posted to the router's login page (the simulator's
"You are online"). Screenshots under ``.cache/test-artifacts/hotspot/``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from infra.local.stack import LocalStack
from tests.e2e.conftest import WAIT
from tests.e2e.hotspot.conftest import ARTIFACTS, c2b_pay, open_portal, voucher_codes

pytestmark = pytest.mark.e2e

ONLINE_MS = 60_000  # paid → provisioned → auto-login: generous on a loaded 2-core machine


def ends_online(page: Any, username: str | None, shot: str) -> str:
    """The credentials shown (``username`` if given), then the router's "You are online"."""
    page.wait_for_selector("#step-done:not([hidden])", timeout=ONLINE_MS)
    shown = page.inner_text("#cred-user")
    assert shown and page.inner_text("#cred-pass")
    assert username is None or shown == username
    username = shown
    page.wait_for_selector("#online", timeout=ONLINE_MS)  # the auto-login form posted to the router
    assert username in page.inner_text("#online")
    page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    return username


def test_a_voucher_typed_in_the_portal_logs_the_buyer_in(
    stack: LocalStack, shop: dict[str, Any], admin_headers: dict[str, str], phone_in: Callable[..., Any]
) -> None:
    """Given a batch of vouchers for "1 hour" made by the admin
    When a buyer types a code in lower case with a space and taps Redeem
    Then the field shows it grouped, and the page ends logged in with the code as the username;
    the same code typed on another device is refused as used."""
    code = voucher_codes(stack, admin_headers, shop["hour"]["package_id"], shop["router_id"], 2)[0]
    page = phone_in()
    open_portal(page, stack, shop, "AA:BB:CC:00:02:01")
    page.click("#voucher-box > summary")
    page.fill("#voucher-code", f"{code[:5].lower()} {code[5:].lower()}")
    page.locator("#voucher-code").blur()
    assert page.input_value("#voucher-code") == f"{code[:5]}-{code[5:]}"
    page.screenshot(path=str(ARTIFACTS / "voucher-1-code.png"), full_page=True)
    page.click("#redeem")
    ends_online(page, code, "voucher-2-online.png")

    other = phone_in()
    open_portal(other, stack, shop, "AA:BB:CC:00:02:02")
    other.click("#voucher-box > summary")
    other.fill("#voucher-code", code)
    other.click("#redeem")
    other.wait_for_selector("#voucher-error:not([hidden])")
    assert "already been used" in other.inner_text("#voucher-error")
    assert other.is_hidden("#step-wait")


def test_paybill_then_i_paid_logs_the_buyer_in(
    stack: LocalStack, shop: dict[str, Any], phone_in: Callable[..., Any]
) -> None:
    """Given the portal with "1 hour" chosen and its Paybill instructions opened
    When the buyer taps "I paid" before paying, then pays from the M-Pesa menu with the business
    number, account number and amount the page shows, and taps "I paid" again
    Then the first tap says M-Pesa can take a minute, and the second ends logged in."""
    page = phone_in()
    open_portal(page, stack, shop, "AA:BB:CC:00:02:11")
    page.get_by_role("button", name="1 hour").click()
    page.click("#paybill-box > summary")
    business, account = page.inner_text("#paybill-business"), page.inner_text("#paybill-account")
    amount = int(page.inner_text("#paybill-amount"))
    assert business and account and amount == shop["hour"]["price"]
    page.screenshot(path=str(ARTIFACTS / "paybill-1-instructions.png"), full_page=True)
    page.fill("#claim-phone", "0712 000 411")
    page.click("#claim")
    page.wait_for_selector("#claim-error:not([hidden])")
    assert "can take a minute" in page.inner_text("#claim-error")

    c2b_pay(stack, business, amount, "0712000411", account)
    page.click("#claim")
    ends_online(page, None, "paybill-2-online.png")


def test_i_already_paid_moves_the_access_to_this_device(
    stack: LocalStack, shop: dict[str, Any], phone_in: Callable[..., Any]
) -> None:
    """Given a buyer who paid "1 hour" by Paybill and claimed it on one device
    When, on a new device, they type the receipt code from the SMS and their phone under "I already paid"
    Then the page ends logged in on the new device with the same credentials."""
    rid, package_id = shop["router_id"], shop["hour"]["package_id"]
    listed = requests.get(f"{stack.api_url}/portal/routers/{rid}/packages", timeout=WAIT).json()
    account = next(p["account_number"] for p in listed["packages"] if p["package_id"] == package_id)
    receipt = c2b_pay(stack, listed["paybill"]["business_number"], 10, "0712000412", account)["TransID"]
    claimed = requests.post(
        f"{stack.api_url}/portal/paybill/claim",
        json={
            "router_id": rid,
            "package_id": package_id,
            "phone_number": "0712000412",
            "mac_address": "AA:BB:CC:00:02:21",
            "ip": "10.5.50.24",
        },
        timeout=WAIT,
    )
    assert claimed.status_code == 200, claimed.text
    username = requests.get(f"{stack.api_url}{claimed.json()['status_url']}", timeout=WAIT).json()["username"]

    page = phone_in()
    open_portal(page, stack, shop, "AA:BB:CC:00:02:22")
    page.click("#reconnect-box > summary")
    page.fill("#receipt", receipt.lower())
    page.fill("#reconnect-phone", "0712 000 412")
    page.screenshot(path=str(ARTIFACTS / "reconnect-1-receipt.png"), full_page=True)
    page.click("#reconnect")
    ends_online(page, username, "reconnect-2-online.png")


def test_the_portal_says_why_a_code_or_a_receipt_is_refused(
    stack: LocalStack, shop: dict[str, Any], admin_headers: dict[str, str], phone_in: Callable[..., Any]
) -> None:
    """Given a voucher the admin revoked, a code nobody made, and a receipt nobody paid
    When a buyer types them on one device
    Then each is refused in words under its form, nothing is set up, and past five voucher tries
    in the window the page says how long to wait and keeps Redeem off."""
    revoked = voucher_codes(stack, admin_headers, shop["hour"]["package_id"], shop["router_id"], 1)[0]
    answer = requests.post(
        f"{stack.api_url}/admin/vouchers/{revoked}/revoke", headers=admin_headers, timeout=WAIT
    )
    assert answer.status_code == 200, answer.text
    page = phone_in()
    open_portal(page, stack, shop, "AA:BB:CC:00:02:31")
    page.click("#voucher-box > summary")

    def redeem(code: str) -> str:
        page.fill("#voucher-code", code)
        page.click("#redeem")  # hides the last answer at once; the next one shows when it comes
        page.wait_for_selector("#voucher-error:not([hidden])")
        return page.inner_text("#voucher-error")

    assert "cancelled by the seller" in redeem(revoked.lower())
    for _ in range(4):  # tries 2 to 5 of the window
        assert "don't know this code" in redeem("22222-22222")
    assert "Too many tries. Wait" in redeem("22222-22223")
    assert page.is_disabled("#redeem")
    page.screenshot(path=str(ARTIFACTS / "refused-1-voucher.png"), full_page=True)

    page.click("#reconnect-box > summary")
    page.fill("#receipt", "SZZ2ZZZZZZ")
    page.fill("#reconnect-phone", "0712 000 431")
    page.click("#reconnect")
    page.wait_for_selector("#reconnect-error:not([hidden])")
    assert "can't find a payment" in page.inner_text("#reconnect-error")
    assert page.is_hidden("#step-wait") and page.is_hidden("#step-done")
