"""Waitroom on DynamoDB Local: real conditional writes and transactions, raced by threads.

Only the table is under test: timers are written but not armed, events are collected instead of
put on a bus, and the checkout key ring is in memory."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.core import auth, events, timers
from chalicelib.core.ids import new_id
from chalicelib.waitroom import models, service, tokens
from chalicelib.waitroom.schemas import CreateEvent

RING = tokens.Ring(
    (
        {
            "kid": "contract-1",
            "private_key": (pair := auth.generate_key_pair("contract-1"))[0],
            "jwk": pair[1]["keys"][0],
            "retired_at": None,
        },
    )
)


@pytest.fixture(autouse=True)
def isolated(tables: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[list[events.DomainEvent]]:
    """Timers not armed, events collected, keys in memory; yields the published events."""
    published: list[events.DomainEvent] = []
    lock = threading.Lock()

    def collect(batch: Any) -> None:
        with lock:
            published.extend(batch)

    monkeypatch.setattr(timers, "_arm", lambda item, now: None)
    monkeypatch.setattr(events, "publish_many", collect)
    monkeypatch.setattr(tokens.keys, "ring", lambda refresh=False: RING)
    yield published


@pytest.fixture
def make_event() -> Callable[..., models.EventItem]:
    def make(**fields: Any) -> models.EventItem:
        body = {"id": f"c-{new_id()}", "name": "Sale", "status": "active", **fields}
        return service.create_event(CreateEvent(**body))

    return make


def sessions(event_id: str) -> list[models.SessionItem]:
    return models.sessions.queue_sessions(event_id)
