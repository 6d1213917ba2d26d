"""Which inbox items an EventBridge envelope makes: one per ``detail.recipients[]`` entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core.clock import time_key
from chalicelib.core.ids import IDEMPOTENCY_KEY

MAX_RECIPIENTS = 100


@dataclass(frozen=True)
class Delivery:
    recipient: str
    notification_id: str
    event_id: str
    event_type: str
    source: str
    message: str | None
    detail: dict[str, Any]
    occurred_at: float


def occurred_at(envelope: dict[str, Any]) -> float:
    """When the event happened: the publisher's ``detail.occurred_at`` (sub-second), else the
    envelope's ``time``."""
    for raw in (envelope.get("detail", {}).get("occurred_at"), envelope.get("time")):
        if isinstance(raw, str):
            try:
                parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                continue
            if parsed.tzinfo is not None:
                return parsed.timestamp()
    return 0.0


def deliveries(envelope: dict[str, Any]) -> list[Delivery]:
    """The inbox items of one event: none when it names no recipients (most events)."""
    detail = envelope.get("detail")
    if not isinstance(detail, dict):
        return []
    recipients = detail.get("recipients")
    if not isinstance(recipients, list):
        return []
    wanted = list(dict.fromkeys(r for r in recipients if isinstance(r, str) and 0 < len(r) <= 128))
    when = occurred_at(envelope)
    # The outbox's stable id: a republished event (a retried drain) is the same event.
    event_id = str(detail.get(IDEMPOTENCY_KEY) or envelope["id"])
    message = detail.get("message") if isinstance(detail.get("message"), str) else None
    shown = {k: v for k, v in detail.items() if k not in ("recipients", "message", IDEMPOTENCY_KEY)}
    return [
        Delivery(
            recipient=sub,
            notification_id=f"{time_key(when)}-{event_id}",
            event_id=event_id,
            event_type=str(envelope.get("detail-type", "")),
            source=str(envelope.get("source", "")),
            message=message,
            detail=shown,
            occurred_at=when,
        )
        for sub in wanted[:MAX_RECIPIENTS]
    ]
