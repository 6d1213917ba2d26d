"""Classes on DynamoDB Local: real conditional writes and transactions, raced by threads."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from chalicelib.classes import handlers, models, service
from chalicelib.classes.models import items
from chalicelib.core import events, timers
from tests.support.races import race  # noqa: F401  (the tests import it from here)


@pytest.fixture(autouse=True)
def outside_world(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Only the table is under test: timers are written but not armed on SQS, events and room
    deletions are recorded instead of sent."""
    assert handlers.moment_due  # registers the classes.moment timer kind
    published: list[Any] = []
    lock = threading.Lock()

    def record(batch: Any) -> None:
        with lock:
            published.extend(batch)

    monkeypatch.setattr(timers, "_arm", lambda item, now: None)
    monkeypatch.setattr(events, "publish_many", record)
    monkeypatch.setattr(service.sessions, "close_meeting", lambda session: None)
    return published


def academy(preparation: float = 10, buffer: float = 5, tolerance: float = 15) -> models.Academy:
    return models.Academy(
        *items.academy_key("a1"),
        academy_id="a1",
        name="A",
        preparation_minutes=preparation,
        buffer_minutes=buffer,
        late_tolerance_minutes=tolerance,
    )
