"""Waitroom fixtures on in-process moto: the checkout key ring, events, and helpers to drive them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.core import timers
from chalicelib.core.aws import client
from chalicelib.core.clock import FrozenClock
from chalicelib.waitroom import models, service, tokens
from chalicelib.waitroom.schemas import CreateEvent
from tests.support.due import DueWork
from tests.support.ids import unique
from tests.support.queues import bodies

_first_key: list[dict[str, Any]] = []


@pytest.fixture
def ring(aws: None) -> Iterator[tokens.Ring]:
    """Given the waitroom's key ring in Secrets Manager with one key (as provision() makes it).
    The stack is shared, so the ring is put back to that one key for every test (one RSA key
    for the whole tier: a rotation test adds its own)."""
    tokens.keys.clear()
    if not _first_key:
        _first_key.extend(tokens.ensure_key().keys)
    client("secretsmanager").put_secret_value(
        SecretId=tokens.secret_name(), SecretString=json.dumps({"keys": list(_first_key)})
    )
    tokens.keys.clear()
    yield tokens.ensure_key()
    tokens.keys.clear()


@pytest.fixture
def make_event(ring: tokens.Ring) -> Callable[..., models.EventItem]:
    """Given an event factory: active, with the spec's defaults unless told otherwise."""

    def make(**fields: Any) -> models.EventItem:
        body = {"id": unique("sale"), "name": "Sale", "status": "active", **fields}
        return service.create_event(CreateEvent(**body))

    return make


def fire_due_timers(clock: FrozenClock, kind: str = service.CHECKOUT_TIMER) -> int:
    """Run the timers queue by the frozen clock (``DueWork``); how many timers of ``kind`` that
    were due fired."""
    due = [t for t in timers.overdue(grace=0) if t.kind == kind]
    DueWork(clock, queues=("timers",)).run()
    return sum(timers.get(t.kind, t.key).state == timers.FIRED for t in due)


def bus_events(detail_type: str) -> list[dict[str, Any]]:
    """Drain the notifications queue (fed by the bus rule muda.*) and keep one kind of event."""
    return [e["detail"] for e in bodies("notifications") if e.get("detail-type") == detail_type]
