"""The live feed's Lambdas: the WebSocket API's ``$connect``/``$disconnect``/``$default`` and the
broadcaster fed by the ``live`` queue (a bus rule sends it every ``muda.*`` event).

Chalice wraps WebSocket handlers only on an object that has a ``websocket_api``; a Blueprint has
none, so its handlers would reach Lambda unwrapped (called as ``fn(event, context)``). This
blueprint is given one (Chalice's own ``WebsocketAPI``) so they are wrapped as on the app;
``app.py`` turns on Chalice's ``WEBSOCKETS`` feature flag.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint
from chalice.app import WebsocketAPI, WebsocketEvent

from chalicelib.core.config import get_settings
from chalicelib.core.errors import MudaError
from chalicelib.core.observability import logger
from chalicelib.core.queues import process_batch
from chalicelib.live import logic, service

blueprint = Blueprint(__name__)
blueprint.websocket_api = WebsocketAPI()


@blueprint.on_ws_connect()
def live_connect(event: WebsocketEvent) -> dict[str, Any]:
    """An admin opens the live feed (``?token=``); anyone else is refused (401/403)."""
    query = event.to_dict().get("queryStringParameters") or {}
    try:
        service.connect(event.connection_id, query.get("token"), event.domain_name, event.stage)
    except MudaError as error:
        logger.info("live connection refused", extra={"status": error.status, "code": error.code})
        return service.refusal(error)
    return {"statusCode": 200}


@blueprint.on_ws_disconnect()
def live_disconnect(event: WebsocketEvent) -> dict[str, Any]:
    service.disconnect(event.connection_id)
    return {"statusCode": 200}


@blueprint.on_ws_message()
def live_message(event: WebsocketEvent) -> dict[str, Any]:
    """The console's keep-alive (API Gateway closes a WebSocket idle for 10 minutes); the feed
    takes no commands."""
    return {"statusCode": 200}


@blueprint.on_sqs_message(queue=get_settings().name("live"), batch_size=10)
def live_broadcast(event: Any) -> dict[str, Any]:
    """Every domain event, to every open console."""
    messages: list[dict[str, Any]] = []

    def read(record: SQSRecord) -> None:
        messages.append(logic.message(json.loads(record.body)))

    result = process_batch(event.to_dict(), read, backoff=())
    service.broadcast(messages)
    return result
