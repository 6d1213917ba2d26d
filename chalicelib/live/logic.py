"""Pure rules of the live feed: what a browser is sent, where a connection is reached, how long
its record lives."""

from __future__ import annotations

from typing import Any


def message(envelope: dict[str, Any]) -> dict[str, Any]:
    """The frame a console receives for one EventBridge envelope: the event as ``/admin/events``
    lists it, plus its product (``muda.hotspot`` → ``hotspot``) for the page's filter."""
    source = str(envelope.get("source", ""))
    detail = envelope.get("detail")
    return {
        "kind": "event",
        "event": {
            "id": envelope.get("id", ""),
            "source": source,
            "product": source.removeprefix("muda."),
            "type": envelope.get("detail-type", ""),
            "time": envelope.get("time", ""),
            "detail": detail if isinstance(detail, dict) else {},
        },
    }


def management_endpoint(domain_name: str, stage: str, override: str | None = None) -> str:
    """The @connections API of the WebSocket API a client connected through: on AWS
    ``https://<domainName>/<stage>`` (what Chalice's own ``WebsocketAPI`` builds); the local
    gateway's URL when one is configured."""
    return override or f"https://{domain_name}/{stage}"


def expires_at(now: float, ttl_seconds: float, token_exp: Any) -> int:
    """A connection's record lives until its token expires or API Gateway's limit, whichever
    is first: a feed never outlives the credentials that opened it."""
    limit = now + ttl_seconds
    if isinstance(token_exp, int | float) and not isinstance(token_exp, bool):
        limit = min(limit, float(token_exp))
    return int(limit)
