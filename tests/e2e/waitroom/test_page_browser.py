"""Browser: the waiting page in headless Chromium on the local stack. A visitor sees their place,
keeps it over a reload, is told when the line is paused, and is sent to the organiser's checkout
with a token that verifies with the JWKS; 20 visitors at a cap of 5 go to checkout 5 at a time,
in the order of their places. (No-JavaScript, languages, POST redirects and the join limits are
the integration tier's, over plain HTTP.)"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
import requests

from infra.local.stack import LocalStack
from tests.e2e.waitroom.conftest import Organiser, Shop
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e
DEADLINE = 60.0  # bounds a failure's detection only (a shared 2-core machine), never a figure


def verified(token: str, jwks: dict[str, Any], event_id: str) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k.key for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id == kid)
    return jwt.decode(token, key, algorithms=["RS256"], audience=event_id)


def stored(page: Any, event_id: str) -> dict[str, Any]:
    return json.loads(page.evaluate(f"localStorage.getItem('muda-wait:{event_id}')") or "{}")


def until(page: Any, condition: Any, what: str) -> None:
    """Poll ``condition`` while the browser runs: Playwright's sync API only dispatches events
    (the checkout site's route handler) while it is called, so the wait is the page's own."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(100)


def test_a_visitor_waits_keeps_the_place_over_a_reload_and_goes_to_checkout(
    stack: LocalStack, browser: Any, organiser: Organiser
) -> None:
    """Given a sale whose one checkout slot is taken
    When a visitor opens the waiting page on a phone
    Then it shows their place (1st); a reload keeps the same place; a pause is said plainly;
    and when the slot frees, they land on the organiser's checkout with a token that verifies
    with the published JWKS and names their place."""
    event_id = organiser.event(max_concurrent=1, shards=4)
    visitor = organiser.post(f"/wait/{event_id}/join", admin=False).json()["visitor"]

    def admitted() -> dict[str, Any] | None:
        url = f"{stack.api_url}/wait/{event_id}/status"
        state = requests.get(url, headers={"x-muda-visitor": visitor}, timeout=30).json()
        return state if state["status"] == "admitted" else None

    # Admitted at its join, or by the admission backstop a moment later (the join reads the event
    # eventually consistent): either way the one slot is taken once this holds.
    first = eventually(admitted, DEADLINE, 0.2, "the first visitor admitted")
    assert first["status"] == "admitted"
    shop = Shop()
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="en-KE")
    shop.attach(context, 0)
    page = context.new_page()
    page.set_default_timeout(DEADLINE * 1000)
    try:
        page.goto(f"{stack.api_url}/wait/{event_id}")
        page.wait_for_function("document.getElementById('position').textContent.trim() === '1'")
        place = stored(page, event_id)["session_id"]
        assert "Tamasha Ltd" in page.inner_text("h1") and page.inner_text("#ahead") == "You are next"
        assert page.get_attribute("#status", "aria-live") == "polite"

        page.reload()
        page.wait_for_function("document.getElementById('position').textContent.trim() === '1'")
        assert stored(page, event_id)["session_id"] == place

        assert organiser.post(f"/waitroom/events/{event_id}/pause").status_code == 200
        page.wait_for_function("document.getElementById('detail').textContent.includes('paused')")
        assert page.inner_text("#position") == "1"
        assert organiser.post(f"/waitroom/events/{event_id}/activate").status_code == 200

        token = first["redirect"]["token"]
        done = organiser.post(
            f"/waitroom/sessions/{first['session_id']}/complete", {"token": token}, admin=False
        )
        assert done.status_code == 200
        until(page, lambda: shop.count() == 1, "the redirect to checkout")
        claims = verified(shop.arrivals[0]["token"], organiser.jwks(), event_id)
        assert claims["sub"] == place and claims["aud"] == event_id
    finally:
        context.close()


def test_twenty_visitors_at_a_cap_of_five_go_to_checkout_five_at_a_time_in_place_order(
    stack: LocalStack, browser: Any, organiser: Organiser
) -> None:
    """Given a sale with a cap of 5 and 20 visitors in their own browsers
    Then exactly 5 are sent to checkout first, the 5 first places; and each time those 5
    complete, the next 5 places are sent, until all 20 went through in place order."""
    # The next 5 in line poll at the API's minimum (0.5 s here), the others every 5 s.
    event_id = organiser.event(max_concurrent=5, batch_size=5, shards=8, page={"refresh_seconds": 5})
    shop = Shop()
    contexts = []
    try:
        for n in range(20):
            context = browser.new_context(viewport={"width": 360, "height": 640})
            shop.attach(context, n)
            page = context.new_page()
            page.set_default_timeout(DEADLINE * 1000)
            page.goto(f"{stack.api_url}/wait/{event_id}", wait_until="commit")
            contexts.append(context)
        jwks = organiser.jwks()
        seen = 0
        order: list[int] = []
        for wave in range(4):
            until(page, lambda w=wave: shop.count() >= 5 * (w + 1), f"wave {wave + 1} at checkout")
            arrivals = shop.arrivals[seen : seen + 5]
            assert shop.count() == 5 * (wave + 1)  # never more than the free slots
            claims = [verified(a["token"], jwks, event_id) for a in arrivals]
            order += sorted(c["queue_position"] for c in claims)
            with ThreadPoolExecutor(5) as pool:  # the 5 checkouts complete side by side
                done = pool.map(
                    lambda ac: organiser.post(
                        f"/waitroom/sessions/{ac[1]['sub']}/complete", {"token": ac[0]["token"]}, False
                    ),
                    zip(arrivals, claims, strict=True),
                )
                assert all(d.status_code == 200 for d in done)
            seen += 5
        # each wave's places all come before the next wave's: the first 5 were the 5 first places
        assert order == sorted(order) and len(set(order)) == 20
    finally:
        for context in contexts:
            context.close()
