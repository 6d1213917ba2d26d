"""Waitroom e2e fixtures: one headless Chromium (Debian's, driven by Playwright through
``executable_path``, as the hotspot's portal test does) shared by the module's tests; the
organiser's checkout site is faked by routing its host inside the browser."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from chalicelib.core.auth import dev_token
from chalicelib.core.ids import new_id
from infra.local.stack import LocalStack
from tests.e2e.conftest import WAIT

SHOP = "https://shop.test/checkout"


@dataclass
class Shop:
    """The organiser's checkout site as the browser reaches it: every arrival, in order."""

    arrivals: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, context: Any, visitor: int) -> None:
        def arrive(route: Any) -> None:
            request = route.request
            token = parse_qs(urlsplit(request.url).query).get("token", [None])[0]
            with self.lock:
                self.arrivals.append({"visitor": visitor, "token": token, "method": request.method})
            route.fulfill(status=200, content_type="text/html", body="<h1>Checkout</h1>")

        context.route(re.compile("^" + re.escape(SHOP)), arrive)

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)


class Organiser:
    """The admin API of the stack, for the event a test runs."""

    def __init__(self, stack: LocalStack) -> None:
        self.url = stack.api_url
        self.headers = {"Authorization": f"Bearer {dev_token('admin-1', ['admin'])}"}

    def event(self, **fields: Any) -> str:
        event_id = f"page-{new_id()}"
        body = {
            "id": event_id,
            "name": "Tamasha tickets",
            "status": "active",
            "checkout_url": SHOP,
            "page": {"organiser": "Tamasha Ltd", "refresh_seconds": 1},
            **fields,
        }
        response = requests.post(f"{self.url}/waitroom/events", json=body, headers=self.headers, timeout=WAIT)
        assert response.status_code == 201, response.text
        return event_id

    def post(self, path: str, body: Any = None, admin: bool = True) -> requests.Response:
        headers = self.headers if admin else {}
        return requests.post(f"{self.url}{path}", json=body, headers=headers, timeout=WAIT)

    def jwks(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/waitroom/.well-known/jwks.json", timeout=WAIT).json()


@pytest.fixture
def organiser(stack: LocalStack) -> Organiser:
    return Organiser(stack)
