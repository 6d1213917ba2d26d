"""The local WebSocket gateway: API Gateway's WebSocket API for the local stack.

What a browser and the app see is what they see on AWS:

- a browser connects to ``ws://host:port/?token=…`` as to ``wss://<api>.execute-api…/api``;
- the app's Chalice handlers get API Gateway's event shapes: ``$connect`` (during the handshake,
  with ``queryStringParameters``, ``headers``, ``requestContext.connectionId/routeKey/eventType``;
  a non-2xx ``statusCode`` refuses the connection with that status), ``$default`` for each
  message, ``$disconnect`` when the socket closes, whichever side closes it;
- the broadcaster reaches connections through boto3's ``apigatewaymanagementapi`` client, its
  ``endpoint_url`` pointed at this gateway's ``@connections`` API (a port of its own):
  ``POST /@connections/{id}`` (the body is the frame), ``GET`` (connection info), ``DELETE``
  (close); an unknown or closed connection answers 410 ``GoneException``, as API Gateway does.

Built on ``websockets`` (asyncio); handlers run in threads, like concurrent Lambdas. The
management API is a threaded HTTP server whose sends are scheduled on the socket's event loop.

Run: ``python -m infra.local.websocket --port 8010 --management-port 8011``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import re
import secrets
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

STAGE = "api"
API_ID = "local"
SEND_TIMEOUT_SECONDS = 5
_CONNECTION_PATH = re.compile(r"^(?:/[^@]*)?/@connections/(?P<id>[^/?]+)$")
log = logging.getLogger("muda.websocket")


def connection_id() -> str:
    """An id shaped like API Gateway's (12 base64 characters, ending in ``=``)."""
    return base64.b64encode(secrets.token_bytes(8)).decode()[:11] + "="


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Connected:
    socket: ServerConnection | None
    connected_at: int  # epoch ms
    source_ip: str
    user_agent: str
    last_active_at: int = field(default=0)


@dataclass
class Context:
    """The Lambda context a handler gets (what Powertools and Chalice read of it)."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    deadline: float = field(default_factory=lambda: time.time() + 30)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


class Gateway:
    """Routes WebSocket traffic to the app's ``$connect``/``$default``/``$disconnect`` handlers
    and serves the ``@connections`` API. ``handlers``: route key → ``fn(event, context)``."""

    def __init__(self, handlers: dict[str, Any], domain_name: str, stage: str = STAGE) -> None:
        self.handlers = handlers
        self.domain_name = domain_name
        self.stage = stage
        self.connections: dict[str, Connected] = {}
        self._ids: dict[ServerConnection, str] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    # --- API Gateway's event shapes ------------------------------------------------------------

    def event(self, route: str, cid: str, connected: Connected, **extra: Any) -> dict[str, Any]:
        now = int(time.time() * 1000)
        event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
        context = {
            "routeKey": route,
            "eventType": event_type,
            "messageDirection": "IN",
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": now,
            "requestId": str(uuid.uuid4()),
            "stage": self.stage,
            "connectedAt": connected.connected_at,
            "identity": {"sourceIp": connected.source_ip, "userAgent": connected.user_agent},
            "domainName": self.domain_name,
            "connectionId": cid,
            "apiId": API_ID,
        }
        body: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
        if route == "$default":
            context["messageId"] = str(uuid.uuid4())
        for key in ("disconnectStatusCode", "disconnectReason"):
            if key in extra:
                context[key] = extra.pop(key)
        body.update(extra)
        return body

    def invoke(self, route: str, event: dict[str, Any]) -> dict[str, Any]:
        handler = self.handlers.get(route)
        if handler is None:
            return {"statusCode": 200}  # no route: API Gateway accepts (connect) or drops (message)
        try:
            result = handler(event, Context(f"websocket{route}"))
        except Exception:
            log.exception("websocket handler raised", extra={"route": route})
            return {"statusCode": 500}
        return result if isinstance(result, dict) else {"statusCode": 200}

    # --- the WebSocket side --------------------------------------------------------------------

    async def process_request(self, socket: ServerConnection, request: Request) -> Response | None:
        """``$connect``, during the handshake: a non-2xx answer refuses the upgrade with it."""
        cid = connection_id()
        headers = {k: v for k, v in request.headers.raw_items()}
        query = parse_qs(urlsplit(request.path).query)
        peer = socket.remote_address[0] if socket.remote_address else "127.0.0.1"
        connected = Connected(None, int(time.time() * 1000), peer, headers.get("User-Agent", ""))
        event = self.event(
            "$connect",
            cid,
            connected,
            headers=headers,
            multiValueHeaders={k: request.headers.get_all(k) for k in headers},
            queryStringParameters={k: v[-1] for k, v in query.items()} or None,
            multiValueQueryStringParameters=query or None,
        )
        result = await asyncio.to_thread(self.invoke, "$connect", event)
        status = int(result.get("statusCode", 200))
        if not 200 <= status < 300:
            return socket.respond(status, str(result.get("body") or "Forbidden"))
        connected.socket = socket
        self._ids[socket] = cid
        self.connections[cid] = connected
        return None

    async def serve_connection(self, socket: ServerConnection) -> None:
        cid = self._ids.pop(socket)
        connected = self.connections[cid]
        try:
            async for message in socket:
                connected.last_active_at = int(time.time() * 1000)
                body = message if isinstance(message, str) else message.decode("utf-8", "replace")
                await asyncio.to_thread(
                    self.invoke, "$default", self.event("$default", cid, connected, body=body)
                )
        except ConnectionClosed:
            pass
        finally:
            self.connections.pop(cid, None)
            code = socket.close_code or 1006
            event = self.event(
                "$disconnect",
                cid,
                connected,
                disconnectStatusCode=code,
                disconnectReason=socket.close_reason or "",
                headers={},
            )
            await asyncio.to_thread(self.invoke, "$disconnect", event)

    # --- the @connections API (called from the HTTP server's threads) ---------------------------

    def post(self, cid: str, data: bytes) -> bool:
        connected = self.connections.get(cid)
        if connected is None or connected.socket is None or self.loop is None:
            return False
        frame: str | bytes
        try:
            frame = data.decode("utf-8")
        except UnicodeDecodeError:
            frame = data
        future = asyncio.run_coroutine_threadsafe(connected.socket.send(frame), self.loop)
        try:
            future.result(timeout=SEND_TIMEOUT_SECONDS)
        except (ConnectionClosed, TimeoutError):
            return False
        return True

    def close(self, cid: str) -> bool:
        connected = self.connections.get(cid)
        if connected is None or connected.socket is None or self.loop is None:
            return False
        asyncio.run_coroutine_threadsafe(connected.socket.close(1000, "closed by the server"), self.loop)
        return True

    def info(self, cid: str) -> dict[str, Any] | None:
        connected = self.connections.get(cid)
        if connected is None:
            return None
        return {  # the wire names of API Gateway's GetConnection
            "connectedAt": _iso(connected.connected_at),
            "identity": {"sourceIp": connected.source_ip, "userAgent": connected.user_agent},
            "lastActiveAt": _iso(connected.last_active_at or connected.connected_at),
        }


def management_handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Management(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: boto3 reuses its connection

        def log_message(self, *args: Any) -> None:  # quiet: a line per frame is noise
            pass

        def _cid(self) -> str | None:
            match = _CONNECTION_PATH.match(urlsplit(self.path).path)
            return unquote(match.group("id")) if match else None

        def _answer(self, status: int, body: dict[str, Any] | None = None, error: str | None = None) -> None:
            payload = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if error:
                self.send_header("x-amzn-ErrorType", error)
            self.end_headers()
            self.wfile.write(payload)

        def _gone(self, cid: str) -> None:
            message = f"connection {cid} is gone"
            self._answer(410, {"__type": "GoneException", "message": message}, "GoneException")

        def _not_found(self) -> None:
            self._answer(404, {"message": "not an @connections path"}, "NotFoundException")

        def do_POST(self) -> None:  # http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length)
            cid = self._cid()
            if cid is None:
                return self._not_found()
            if not gateway.post(cid, data):
                return self._gone(cid)
            self._answer(200)

        def do_DELETE(self) -> None:
            cid = self._cid()
            if cid is None:
                return self._not_found()
            if not gateway.close(cid):
                return self._gone(cid)
            self._answer(204)

        def do_GET(self) -> None:
            cid = self._cid()
            if cid is None:
                return self._not_found()
            found = gateway.info(cid)
            if found is None:
                return self._gone(cid)
            self._answer(200, found)

    return Management


def app_handlers() -> dict[str, Any]:
    """The app's WebSocket handlers by route key, as API Gateway's integrations call them."""
    from app import app

    return {route: app.handler_map[config.name] for route, config in app.websocket_handlers.items()}


async def run(
    host: str, port: int, management_port: int, stop: asyncio.Event, handlers: dict[str, Any] | None = None
) -> None:
    """Serve until ``stop`` is set: the WebSocket side and the @connections API (``handlers``: the
    app's WebSocket handlers unless given)."""
    gateway = Gateway(app_handlers() if handlers is None else handlers, domain_name=f"{host}:{port}")
    gateway.loop = asyncio.get_running_loop()
    management = ThreadingHTTPServer((host, management_port), management_handler(gateway))
    management.daemon_threads = True
    threading.Thread(target=management.serve_forever, name="connections-api", daemon=True).start()
    async with serve(gateway.serve_connection, host, port, process_request=gateway.process_request):
        ready = f"websocket gateway ready on ws://{host}:{port} (@connections on {management_port})"
        print(ready, flush=True)
        await stop.wait()
    management.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--management-port", type=int, default=8011)
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    logging.getLogger("websockets").setLevel(logging.WARNING)

    async def serve_until_signalled() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(args.host, args.port, args.management_port, stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_until_signalled())


if __name__ == "__main__":
    main()
