"""Browser: the portal speaks the buyer's language, English or Swahili, in headless Chromium on the
local stack (shared with the other portal tests): chosen from the browser's languages, switched
with EN | SW and remembered on the device. Screenshots under ``.cache/test-artifacts/hotspot/``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from infra.local.stack import LocalStack
from tests.e2e.hotspot.conftest import ARTIFACTS, open_portal

pytestmark = pytest.mark.e2e


def test_a_swahili_phone_gets_the_portal_in_swahili_and_can_switch_to_english(
    stack: LocalStack, shop: dict[str, Any], phone_in: Callable[[str], Any]
) -> None:
    """Given a phone whose browser speaks Swahili (sw-KE)
    When the buyer opens the portal and tries a voucher code nobody made
    Then the page, its package notes and the refusal are in Swahili (<html lang="sw">);
    tapping EN turns all of it, the refusal too, into English, and a reload stays English."""
    page = phone_in("sw-KE")
    open_portal(page, stack, shop, "AA:BB:CC:00:03:01")
    assert page.get_attribute("html", "lang") == "sw"
    assert page.inner_text("#step-packages h2") == "1. Chagua kifurushi"
    assert "saa 1" in page.get_by_role("button", name="1 hour").inner_text()
    assert page.get_attribute("#lang-sw", "aria-pressed") == "true"
    page.click("#voucher-box > summary")
    assert page.inner_text("#redeem") == "Tumia vocha"
    page.fill("#voucher-code", "22222-22222")
    page.click("#redeem")
    page.wait_for_selector("#voucher-error:not([hidden])")
    assert page.inner_text("#voucher-error").startswith("Hatuutambui msimbo huu.")
    page.screenshot(path=str(ARTIFACTS / "language-1-swahili.png"), full_page=True)

    page.click("#lang-en")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("#step-packages h2") == "1. Choose a package"
    assert page.inner_text("#redeem") == "Redeem"
    assert "don't know this code" in page.inner_text("#voucher-error")
    assert "1 h" in page.get_by_role("button", name="1 hour").inner_text()

    page.reload()
    page.get_by_role("button", name="1 hour").wait_for()
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("#step-packages h2") == "1. Choose a package"
    assert page.get_attribute("#lang-en", "aria-pressed") == "true"


def test_an_english_phone_gets_the_portal_in_english(
    stack: LocalStack, shop: dict[str, Any], phone_in: Callable[[str], Any]
) -> None:
    """Given a phone whose browser speaks American English (en-US)
    When the buyer opens the portal
    Then it is in English (<html lang="en">) with EN chosen on the switch."""
    page = phone_in("en-US")
    open_portal(page, stack, shop, "AA:BB:CC:00:03:02")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("#step-packages h2") == "1. Choose a package"
    assert page.inner_text("#voucher-box > summary") == "I have a voucher"
    assert page.is_visible("#lang-switch")
    assert page.get_attribute("#lang-en", "aria-pressed") == "true"
