"""Waitroom fixtures on in-process moto: the checkout key ring, events, and helpers to drive them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.core import timers
from chalicelib.core.aws import client, queue_url
from chalicelib.core.config import get_settings
from chalicelib.waitroom import models, service, tokens
from chalicelib.waitroom.schemas import CreateEvent


@pytest.fixture
def ring(aws: None) -> Iterator[tokens.Ring]:
    """Given the waitroom's key ring in Secrets Manager with a first key (as provision() makes it)."""
    tokens.keys.clear()
    yield tokens.ensure_key()
    tokens.keys.clear()


@pytest.fixture
def make_event(ring: tokens.Ring) -> Callable[..., models.EventItem]:
    """Given an event factory: active, with the spec's defaults unless told otherwise."""
    count = iter(range(1, 10_000))

    def make(**fields: Any) -> models.EventItem:
        body = {"id": f"sale-{next(count)}", "name": "Sale", "status": "active", **fields}
        return service.create_event(CreateEvent(**body))

    return make


def fire_due_timers(kind: str = service.CHECKOUT_TIMER) -> int:
    """Fire every timer of ``kind`` due by the (frozen) clock, as the timers consumer would."""
    fired = 0
    for item in list(timers.overdue(grace=0)):
        if item.kind == kind and timers.fire(item.id, float(item.due_at)) == "fired":
            fired += 1
    return fired


def bus_events(detail_type: str) -> list[dict[str, Any]]:
    """Drain the notifications queue (fed by the bus rule muda.*) and keep one kind of event."""
    sqs, url = client("sqs"), queue_url(get_settings().name("notifications"))
    found = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for m in messages:
            envelope = json.loads(m["Body"])
            if envelope.get("detail-type") == detail_type:
                found.append(envelope["detail"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
