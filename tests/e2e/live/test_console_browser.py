"""Browser: the operations console (``/admin``) in headless Chromium (Debian's, driven by
Playwright through ``executable_path``, as the portal's test) on the shared local stack: sign-in,
the live feed over the local WebSocket gateway, a dead letter's redrive, a router's check.
Screenshots are kept under ``.cache/test-artifacts/console/``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from chalicelib.core.auth import dev_token
from chalicelib.core.aws import client, queue_url
from chalicelib.core.config import get_settings
from infra.local.stack import LocalStack
from tests.e2e.conftest import ARTIFACTS as E2E_ARTIFACTS
from tests.e2e.conftest import WAIT

pytestmark = pytest.mark.e2e

ARTIFACTS = E2E_ARTIFACTS / "console"
ARTIFACTS.mkdir(parents=True, exist_ok=True)
# Panels refresh once a minute here: what the tests see change comes from a click or the feed.
REFRESH_MS = 60_000


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT * 1000 / 3)
    yield page
    context.close()


def sign_in(page: Any, stack: LocalStack, token: str) -> None:
    page.goto(f"{stack.api_url}/admin?refresh={REFRESH_MS}")
    page.fill("#token", token)
    page.click("#sign-in-button")


@pytest.fixture
def console(stack: LocalStack, page: Any) -> Any:
    """Given the console signed in as an admin, its live feed connected."""
    sign_in(page, stack, dev_token("admin-console", ["admin"]))
    page.wait_for_selector("#console:not([hidden])")
    page.wait_for_selector("#feed-state[data-state='on']")
    return page


def test_console_refuses_without_a_token_and_loads_with_one(stack: LocalStack, page: Any) -> None:
    """Given the console page
    When it is opened with no token, then signed in with a patient's, then with an admin's
    Then it shows only the sign-in until an admin's token; then the panels and the live feed."""
    page.goto(f"{stack.api_url}/admin?refresh={REFRESH_MS}")
    assert page.is_visible("#sign-in") and not page.is_visible("#console")
    sign_in(page, stack, dev_token("patient-console", ["patient"]))
    page.wait_for_selector("#sign-in-error:not([hidden])")
    assert "not an admin" in page.inner_text("#sign-in-error")
    assert not page.is_visible("#console")
    sign_in(page, stack, dev_token("admin-console", ["admin"]))
    page.wait_for_selector("#console:not([hidden])")
    page.wait_for_selector("#feed-state[data-state='on']")
    page.wait_for_selector("#panel-queues table")
    page.screenshot(path=str(ARTIFACTS / "1-console.png"), full_page=True)


def test_an_event_put_on_the_bus_appears_through_the_live_feed(console: Any) -> None:
    """Given the console open (its event list loaded once, then fed by the WebSocket only)
    When an event is put on the bus
    Then it appears at the top of the live events, marked as arrived by the feed, and can be
    filtered by its product and type."""
    marker = uuid.uuid4().hex
    entry = {
        "Source": "muda.console",
        "DetailType": "ConsoleTested",
        "Detail": json.dumps({"marker": marker}),
        "EventBusName": get_settings().event_bus,
    }
    assert not client("events").put_events(Entries=[entry]).get("FailedEntryCount")
    row = console.wait_for_selector(f"#events li[data-via='live']:has-text('{marker}')")
    assert row.get_attribute("data-type") == "ConsoleTested"
    console.select_option("#filter-product", "console")
    console.select_option("#filter-type", "ConsoleTested")
    assert console.locator("#events li").count() >= 1
    assert console.locator("#events li").first.get_attribute("data-product") == "console"
    console.screenshot(path=str(ARTIFACTS / "2-live-event.png"), full_page=True)


def test_a_dead_letters_redrive_button_moves_it_back(console: Any) -> None:
    """Given a dead letter on the live feed's DLQ (a well-formed event its consumer will take)
    When the operator clicks its Redrive button
    Then it leaves the dead letters (back on its queue, where the broadcaster takes it) and the
    page no longer shows it."""
    queue = get_settings().name("live")
    envelope = {"id": uuid.uuid4().hex, "source": "muda.console", "detail-type": "Redriven", "detail": {}}
    sent = client("sqs").send_message(QueueUrl=queue_url(f"{queue}-dlq"), MessageBody=json.dumps(envelope))
    message_id = sent["MessageId"]
    row = f"#panel-failed tr[data-message-id='{message_id}']"
    console.reload()  # the panels' next refresh is a minute away
    console.wait_for_selector(row)
    console.screenshot(path=str(ARTIFACTS / "3-dead-letter.png"), full_page=True)
    console.click(f"{row} button")
    console.wait_for_selector(row, state="detached")
    console.wait_for_selector("#events li[data-via='live'][data-type='Redriven']")


def test_a_router_taken_down_shows_offline_after_a_check_and_online_after(
    stack: LocalStack, console: Any
) -> None:
    """Given the simulated router registered
    When it is taken down and the operator clicks "Check now", then brought back and checked again
    Then its row says offline with the error, then online."""
    env = stack.env
    headers = {"Authorization": f"Bearer {dev_token('admin-console', ['admin'])}"}
    created = requests.post(
        f"{stack.api_url}/admin/routers",
        headers=headers,
        json={
            "name": f"console-{uuid.uuid4().hex[:6]}",
            "host": env["MUDA_LOCAL_ROUTER_HOST"],
            "port": int(env["MUDA_LOCAL_ROUTER_PORT"]),
            "username": env["MUDA_LOCAL_ROUTER_USERNAME"],
            "password": env["MUDA_LOCAL_ROUTER_PASSWORD"],
            "login_url": "http://10.5.50.1/login",
        },
        timeout=WAIT,
    )
    assert created.status_code == 201, created.text
    rid = created.json()["router_id"]
    control = env["MUDA_LOCAL_ROUTER_CONTROL_URL"]
    row = f"#panel-routers tr[data-router-id='{rid}']"
    console.reload()
    console.wait_for_selector(row)
    try:
        requests.post(f"{control}/faults", json={"down": True}, timeout=10).raise_for_status()
        console.click(f"{row} button")
        console.wait_for_selector(f"{row}[data-status='offline']")
        console.screenshot(path=str(ARTIFACTS / "4-router-offline.png"), full_page=True)
    finally:
        requests.post(f"{control}/faults", json={"down": False}, timeout=10).raise_for_status()
    console.click(f"{row} button")
    console.wait_for_selector(f"{row}[data-status='online']")
