"""The one event publisher: domain events onto the custom EventBridge bus.

``source`` is ``muda.<domain>``, ``detail-type`` the event name (``PaymentProcessed``); rules on
the bus route them to SQS-fed consumers that retry and dead-letter like any other work.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.core import clock
from chalicelib.core.aws import client
from chalicelib.core.config import get_settings
from chalicelib.core.observability import logger

_MAX_ENTRIES = 10  # PutEvents takes at most 10 entries per call


@dataclass(frozen=True)
class DomainEvent:
    domain: str
    name: str
    detail: dict[str, Any] = field(default_factory=dict)

    def entry(self, bus: str) -> dict[str, Any]:
        detail = {"occurred_at": clock.utcnow().isoformat(), **self.detail}
        return {
            "Source": f"muda.{self.domain}",
            "DetailType": self.name,
            "Detail": json.dumps(detail, default=str),
            "EventBusName": bus,
        }


class PublishError(RuntimeError):
    """EventBridge refused some entries; the caller's message is retried."""


def publish(domain: str, name: str, detail: dict[str, Any] | None = None) -> None:
    publish_many([DomainEvent(domain, name, detail or {})])


def publish_many(events: Iterable[DomainEvent]) -> None:
    bus = get_settings().event_bus
    entries = [event.entry(bus) for event in events]
    for start in range(0, len(entries), _MAX_ENTRIES):
        chunk = entries[start : start + _MAX_ENTRIES]
        response = client("events").put_events(Entries=chunk)
        if response.get("FailedEntryCount"):
            failed = [e for e in response["Entries"] if e.get("ErrorCode")]
            raise PublishError(f"{len(failed)} event(s) not accepted: {failed[:3]}")
        for entry in chunk:
            logger.info("event published", extra={"event": entry["DetailType"], "source": entry["Source"]})
