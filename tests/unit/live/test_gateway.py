"""The local WebSocket gateway speaks API Gateway's shapes: the events its handlers get, a refused
handshake, and the @connections API as boto3's ``apigatewaymanagementapi`` client calls it.
(Recording handlers here; the app's own run on it in tests/integration/live.)"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from infra.local import websocket
from infra.local.stack import free_port
from tests.support.polling import eventually


class Recorder:
    """Handlers by route key that record the events they get; ``$connect`` refuses ``?token=no``."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def handler(self, route: str) -> Any:
        def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
            self.events.append(event)
            if route == "$connect" and (event.get("queryStringParameters") or {}).get("token") == "no":
                return {"statusCode": 403, "body": json.dumps({"error": {"code": "forbidden"}})}
            return {"statusCode": 200}

        return handle

    def of(self, route: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["requestContext"]["routeKey"] == route]

    def connect_with(self, token: str) -> dict[str, Any]:
        (event,) = [e for e in self.of("$connect") if e["queryStringParameters"].get("token") == token]
        return event


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[str, str, Recorder]]:
    """Given the gateway on free ports with recording handlers: (ws URL, @connections URL, recorder)."""
    recorder = Recorder()
    port, management = free_port(), free_port()
    handlers = {route: recorder.handler(route) for route in ("$connect", "$default", "$disconnect")}
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        await websocket.run("127.0.0.1", port, management, stop, handlers)

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    url = f"ws://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with connect(url + "/?token=probe", open_timeout=1):
                return True
        except OSError:
            return False

    eventually(up, timeout=10, what="gateway up")
    yield url, f"http://127.0.0.1:{management}/api", recorder
    loop.call_soon_threadsafe(stop.set)
    thread.join(5)


def management(endpoint: str) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_a_connection_gets_api_gateways_events_and_frames(gateway: tuple[str, str, Recorder]) -> None:
    """Given a client connecting with ?token=abc
    When it is posted a frame through @connections, sends a message and closes
    Then its handlers got $connect (query, headers, ids), $default (the body) and $disconnect
    (the close code), under one connection id; the frame arrived; GetConnection answered while
    open and 410 GoneException after."""
    url, endpoint, recorder = gateway
    api = management(endpoint)
    with connect(url + "/?token=abc&x=1", open_timeout=5) as ws:
        (connected,) = [
            e for e in recorder.of("$connect") if e["queryStringParameters"].get("token") == "abc"
        ]
        cid = connected["requestContext"]["connectionId"]
        context = connected["requestContext"]
        assert (context["eventType"], context["stage"], context["apiId"]) == ("CONNECT", "api", "local")
        assert context["domainName"] == url.removeprefix("ws://") and context["connectedAt"] > 0
        assert connected["queryStringParameters"] == {"token": "abc", "x": "1"}
        assert connected["headers"]["Host"] == context["domainName"]
        api.post_to_connection(ConnectionId=cid, Data=b'{"kind": "event"}')
        assert json.loads(ws.recv(timeout=5)) == {"kind": "event"}
        assert api.get_connection(ConnectionId=cid)["Identity"]["SourceIp"] == "127.0.0.1"
        ws.send("ping")
        eventually(
            lambda: any(e["body"] == "ping" for e in recorder.of("$default")), timeout=5, what="$default"
        )
    eventually(
        lambda: any(e["requestContext"]["connectionId"] == cid for e in recorder.of("$disconnect")),
        timeout=5,
        what="$disconnect",
    )
    (message,) = [e for e in recorder.of("$default") if e["requestContext"]["connectionId"] == cid]
    assert message["requestContext"]["eventType"] == "MESSAGE"
    (gone,) = [e for e in recorder.of("$disconnect") if e["requestContext"]["connectionId"] == cid]
    assert gone["requestContext"]["disconnectStatusCode"] == 1000
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId=cid, Data=b"late")
    with pytest.raises(api.exceptions.GoneException):
        api.get_connection(ConnectionId=cid)


def test_a_refused_connect_ends_the_handshake_with_its_status(gateway: tuple[str, str, Recorder]) -> None:
    """Given $connect answering 403 for ?token=no, When a client connects with it, Then the
    handshake fails with 403 and that body, and no $disconnect follows (it never connected)."""
    url, _, recorder = gateway
    with pytest.raises(InvalidStatus) as refused:
        connect(url + "/?token=no", open_timeout=5)
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body) == {"error": {"code": "forbidden"}}
    cid = recorder.connect_with("no")["requestContext"]["connectionId"]
    assert not [e for e in recorder.of("$disconnect") if e["requestContext"]["connectionId"] == cid]


def test_delete_connection_closes_the_socket(gateway: tuple[str, str, Recorder]) -> None:
    """Given an open client, When the server deletes its connection through @connections, Then
    the client sees the socket closed."""
    url, endpoint, recorder = gateway
    with connect(url + "/?token=del", open_timeout=5) as ws:
        (connected,) = [
            e for e in recorder.of("$connect") if e["queryStringParameters"].get("token") == "del"
        ]
        management(endpoint).delete_connection(ConnectionId=connected["requestContext"]["connectionId"])
        with pytest.raises(Exception):  # noqa: B017 - websockets' ConnectionClosedOK
            ws.recv(timeout=5)
