"""Connect, disconnect and broadcast: the live feed's flows, called by its handlers."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.core import clock
from chalicelib.core.auth import Principal, verify
from chalicelib.core.aws import client_at
from chalicelib.core.errors import Forbidden, MudaError, Unauthorized
from chalicelib.core.observability import logger
from chalicelib.live import logic, models
from chalicelib.live.settings import settings

MANAGEMENT = "apigatewaymanagementapi"


def admit(token: str | None) -> Principal:
    """The admin a connect request's ``?token=`` names (browsers cannot set headers on a
    WebSocket). ``Unauthorized``: none, malformed or expired; ``Forbidden``: not an admin."""
    if not token or not token.strip():
        raise Unauthorized("missing token: connect with ?token=<admin bearer token>")
    principal = verify(token.strip())
    if not principal.is_admin:
        raise Forbidden("requires role: admin")
    return principal


def connect(connection_id: str, token: str | None, domain_name: str, stage: str) -> models.Connection:
    """Record an admin's connection; raises ``MudaError`` (the connection is refused)."""
    principal = admit(token)
    now = clock.now()
    connection = models.Connection(
        connection_id,
        sub=principal.sub,
        endpoint=logic.management_endpoint(domain_name, stage, settings().management_url),
        connected_at=now,
        expires_at=logic.expires_at(now, settings().connection_ttl_seconds, principal.claims.get("exp")),
    )
    models.add(connection)
    logger.info("live connection opened", extra={"connection_id": connection_id, "sub": principal.sub})
    return connection


def disconnect(connection_id: str) -> None:
    models.forget(connection_id)
    logger.info("live connection closed", extra={"connection_id": connection_id})


def broadcast(messages: list[dict[str, Any]]) -> Counter[str]:
    """Post every message to every admin connection, in order. A connection API Gateway says is
    gone (410), or whose token has expired, is removed; any other failure is logged and skipped:
    one dead socket never holds up the others, and a live feed is not retried (the event log
    keeps every event: ``/admin/events``)."""
    if not messages:
        return Counter()
    connections = models.every()
    frames = [json.dumps(m, default=str).encode() for m in messages]
    now = clock.now()
    if len(connections) <= 1:
        results = [_post(c, frames, now) for c in connections]
    else:
        with ThreadPoolExecutor(min(len(connections), settings().post_workers)) as pool:
            results = list(pool.map(lambda c: _post(c, frames, now), connections))
    totals = Counter(results)
    if totals.keys() - {"sent"}:
        logger.info("live broadcast", extra={"events": len(messages), **totals})
    return totals


def _post(connection: models.Connection, frames: list[bytes], now: float) -> str:
    api = client_at(MANAGEMENT, connection.endpoint)
    if connection.expires_at <= now:
        _close(api, connection)
        return "expired"
    for frame in frames:
        try:
            api.post_to_connection(ConnectionId=connection.pk, Data=frame)
        except api.exceptions.GoneException:
            models.forget(connection.pk)
            return "gone"
        except (ClientError, BotoCoreError) as error:
            logger.warning(
                "live post failed", extra={"connection_id": connection.pk, "error": type(error).__name__}
            )
            return "failed"
    return "sent"


def _close(api: Any, connection: models.Connection) -> None:
    """End a connection whose token has expired (API Gateway then runs ``$disconnect``)."""
    models.forget(connection.pk)
    with contextlib.suppress(ClientError, BotoCoreError):  # already gone
        api.delete_connection(ConnectionId=connection.pk)


def refusal(error: MudaError) -> dict[str, Any]:
    """API Gateway's answer refusing a ``$connect``: a non-2xx status ends the handshake."""
    return {
        "statusCode": error.status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(error.to_dict()),
    }
