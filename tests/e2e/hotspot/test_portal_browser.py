"""Browser: the hotspot's smoke walk. The captive portal in headless Chromium (Debian's, driven by
Playwright through ``executable_path``) through a purchase on the local stack: portal, STK push
to the Daraja simulator, its callback, the payment worker, the router provisioner, credentials
and the auto-login. (A cancelled purchase and a bad number are the integration tier's.)
Screenshots of each step are kept under ``.cache/test-artifacts/hotspot/``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra.local.stack import LocalStack
from tests.e2e.hotspot.conftest import ARTIFACTS, open_portal

pytestmark = pytest.mark.e2e


@pytest.fixture
def phone_page(phone_in: Callable[..., Any]) -> Any:
    """A phone-sized page (390 x 844, touch)."""
    return phone_in()


def choose_an_hour(page: Any, stack: LocalStack, shop: dict[str, Any], mac: str) -> None:
    open_portal(page, stack, shop, mac)
    page.get_by_role("button", name="1 hour").click()


def test_a_purchase_in_the_browser_logs_the_buyer_in(
    stack: LocalStack, shop: dict[str, Any], phone_page: Any
) -> None:
    """Given the portal on a phone-sized screen
    When the buyer picks "1 hour", types a number and taps Pay, and the simulated phone pays
    Then the page shows the wait, then the credentials, and auto-logs in at the router's login page."""
    page = phone_page
    choose_an_hour(page, stack, shop, "AA:BB:CC:00:01:01")
    page.screenshot(path=str(ARTIFACTS / "1-packages.png"), full_page=True)
    page.fill("#phone", "0712 000 301")
    page.click("#pay")
    page.wait_for_selector("#step-wait:not([hidden])")
    page.screenshot(path=str(ARTIFACTS / "2-waiting.png"), full_page=True)
    page.wait_for_selector("#step-done:not([hidden])")
    username = page.inner_text("#cred-user")
    assert username == "m712000301" and page.inner_text("#cred-pass")
    page.screenshot(path=str(ARTIFACTS / "3-credentials.png"), full_page=True)
    page.wait_for_selector("#online")  # the auto-login form posted to the router's login page
    assert username in page.inner_text("#online")
    page.screenshot(path=str(ARTIFACTS / "4-online.png"), full_page=True)


def test_the_portal_says_setting_up_until_the_router_has_the_user(
    stack: LocalStack, shop: dict[str, Any], phone_page: Any, routeros: Any
) -> None:
    """Given the router refusing connections when a buyer pays
    When the provisioner's tries fail, and then the router comes back
    Then the page says the access is taking longer (no "online", the user not on the router), and
    says "online" only once the router has the user."""
    from librouteros.query import Key

    from infra.local.routeros import SimulatorControl

    control = SimulatorControl(stack.env["MUDA_LOCAL_ROUTER_CONTROL_URL"])
    page = phone_page
    choose_an_hour(page, stack, shop, "AA:BB:CC:00:01:02")
    control.faults(down=True)
    try:
        page.fill("#phone", "0712 000 302")
        page.click("#pay")
        page.wait_for_selector("#app[data-access='slow']")
        assert page.inner_text("#wait-title") == "Taking longer than usual"
        assert page.is_hidden("#step-done")
        page.screenshot(path=str(ARTIFACTS / "5-taking-longer.png"), full_page=True)
    finally:
        control.faults(down=False)
    page.wait_for_selector("#app[data-access='online']")
    assert "You're online" in page.inner_text("#done-text")
    users = routeros().path("ip", "hotspot", "user").select().where(Key("name") == "m712000302")
    assert len(list(users)) == 1
