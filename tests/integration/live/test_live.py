"""The live feed on moto with the local WebSocket gateway in-process: who may connect, what a
disconnect leaves, and a broadcast meeting open and gone connections.

The gateway (``infra.local.websocket``) runs the app's own ``$connect``/``$disconnect`` handlers
in this process (so on moto); the broadcaster reaches it through boto3's
``apigatewaymanagementapi`` client at its ``@connections`` URL (moto passes 127.0.0.1 through).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from chalicelib.core import clock, events
from chalicelib.live import api as live_api
from chalicelib.live import handlers, models, service
from chalicelib.live.settings import LiveSettings
from infra.local import websocket
from infra.local.stack import accepts, free_port
from tests.conftest import use_env
from tests.support import queues
from tests.support.polling import eventually


@pytest.fixture(scope="module")
def gateway(aws: Any) -> Iterator[str]:
    """Given the local WebSocket gateway running the app's handlers in this process; its ws URL."""
    port, management = free_port(), free_port()
    with use_env({"MUDA_LIVE_MANAGEMENT_URL": f"http://127.0.0.1:{management}"}):
        stop: asyncio.Event | None = None
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def serve() -> None:
            nonlocal stop
            stop = asyncio.Event()
            ready.set()
            await websocket.run("127.0.0.1", port, management, stop)

        thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
        thread.start()
        ready.wait(5)
        eventually(lambda: accepts(port), timeout=10, what="gateway up")
        yield f"ws://127.0.0.1:{port}"
        loop.call_soon_threadsafe(stop.set)  # type: ignore[union-attr]
        thread.join(5)


ADMIN = "admin"  # feed()'s default: a fresh admin token


@pytest.fixture
def open_feed(gateway: str, token: Callable[..., str]) -> Iterator[Callable[..., ClientConnection]]:
    """Open the live feed as a browser does: ``?token=`` (``None``: no query string at all)."""
    with contextlib.ExitStack() as opened:

        def feed(tok: str | None = ADMIN) -> ClientConnection:
            if tok == ADMIN:
                tok = token("admin-live", "admin")
            url = gateway + ("" if tok is None else f"/?token={tok}")
            return opened.enter_context(connect(url, open_timeout=10))

        yield feed


def connections_of(sub: str) -> list[models.Connection]:
    return [c for c in models.every() if c.sub == sub]


@pytest.mark.parametrize(
    ("who", "status"),
    [("none", 401), ("empty", 401), ("patient", 403), ("expired", 401), ("garbage", 401)],
)
def test_connect_without_an_admin_token_is_refused(
    open_feed: Callable[..., ClientConnection], token: Callable[..., str], who: str, status: int
) -> None:
    """Given no token, a blank one, a patient's, an expired admin's or a forged one
    When a client opens the live feed with it
    Then the handshake is refused with 401 (who?) or 403 (not an admin), and nothing is recorded."""
    tokens = {
        "none": None,
        "empty": "",
        "patient": token("patient-live", "patient"),
        "expired": token("admin-expired", "admin", ttl=-60),
        "garbage": "not.a.token",
    }
    before = len(models.every())
    with pytest.raises(InvalidStatus) as refused:
        open_feed(tokens[who])
    assert refused.value.response.status_code == status
    assert json.loads(refused.value.response.body)["error"]["code"]
    assert len(models.every()) == before


def test_admin_connects_and_disconnect_forgets_the_connection(
    open_feed: Callable[..., ClientConnection], token: Callable[..., str]
) -> None:
    """Given an admin's token that expires in 10 minutes
    When the admin opens the live feed, then closes it
    Then the connection is recorded (by sub, reachable through the gateway, expiring with the
    token) while open, and removed on close."""
    ws = open_feed(token("admin-conn", "admin", ttl=600))
    (record,) = connections_of("admin-conn")
    assert record.endpoint.startswith("http://127.0.0.1:")
    assert clock.now() < record.expires_at <= clock.now() + 600
    ws.close()
    eventually(lambda: not connections_of("admin-conn"), timeout=10, what="connection forgotten")


def test_broadcast_reaches_open_connections_and_removes_gone_ones(
    open_feed: Callable[..., ClientConnection],
) -> None:
    """Given an open admin connection, and a recorded one whose socket is gone (its $disconnect
    never ran, as when a Lambda fails)
    When an event put on the bus is broadcast (the live queue through the broadcaster handler)
    Then the open one receives it as a frame, and the gone one (410 from @connections) is removed."""
    ws = open_feed()
    endpoint = connections_of("admin-live")[0].endpoint
    models.add(
        models.Connection(
            "g0neC0nnId0=", sub="admin-gone", endpoint=endpoint, connected_at=0, expires_at=clock.now() + 60
        )
    )
    queues.drain("live")  # what other tests on the shared stage put on the bus
    events.publish("hotspot", "PaymentProcessed", {"payment_id": "pay_live_1"})
    messages = queues.receive("live")
    assert queues.invoke(handlers.live_broadcast, "live", messages) == {"batchItemFailures": []}
    frame = json.loads(ws.recv(timeout=10))
    assert frame["kind"] == "event"
    assert (frame["event"]["product"], frame["event"]["type"]) == ("hotspot", "PaymentProcessed")
    assert frame["event"]["detail"]["payment_id"] == "pay_live_1"
    assert models.get("g0neC0nnId0=") is None


def test_broadcast_closes_a_connection_whose_token_expired(
    open_feed: Callable[..., ClientConnection], token: Callable[..., str]
) -> None:
    """Given an admin connection whose record has expired (its token did) but whose socket is open
    When anything is broadcast
    Then it is sent nothing, its record goes, and the gateway closes the socket."""
    ws = open_feed(token("admin-stale", "admin"))
    (record,) = connections_of("admin-stale")
    record.update(actions=[models.Connection.expires_at.set(clock.now() - 1)])
    totals = service.broadcast([{"kind": "event", "event": {"id": "x"}}])
    assert totals["expired"] >= 1
    assert not connections_of("admin-stale")
    with pytest.raises(Exception):  # noqa: B017 - closed by the server: websockets' ConnectionClosed*
        ws.recv(timeout=10)


def test_console_page_is_served_whole_and_locked_down(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given the app, its live feed at a WebSocket API's URL
    When /admin is fetched without a token (it is the sign-in page)
    Then it is the console, style and script inlined (nothing from another origin), told where the
    live feed is, and sent with a CSP that allows only its own inline code, this API and that
    WebSocket's origin, and no framing."""
    url = "wss://abc.execute-api.af-south-1.amazonaws.com/api"
    monkeypatch.setattr(live_api, "settings", lambda: LiveSettings(websocket_url=url))
    response = api.http.get("/admin")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.body.decode()
    assert 'id="sign-in"' in page and "/*SCRIPT*/" not in page and "/*STYLE*/" not in page
    config = json.loads(html.unescape(re.search(r'data-config="([^"]*)"', page).group(1)))  # type: ignore[union-attr]
    assert config["websocket_url"] == url
    assert "https://" not in page and "http://" not in page
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'sha256-" in csp and "unsafe-inline" not in csp
    assert "connect-src 'self' wss://abc.execute-api.af-south-1.amazonaws.com;" in csp
    assert "frame-ancestors 'none'" in csp and response.headers["X-Frame-Options"] == "DENY"
