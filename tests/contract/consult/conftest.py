"""Consult on DynamoDB Local: real conditional writes and transactions, raced by threads.

Timers are written to their table but not armed (no SQS here), and the events the outbox drains
are collected instead of published: the data layer is under test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from chalicelib.consult import handlers, models  # handlers: the timer kinds
from chalicelib.core import db, events, timers
from tests.support.races import race  # noqa: F401  (the tests import it from here)

assert handlers.blueprint


@pytest.fixture(autouse=True)
def offline(tables: list[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[list[events.DomainEvent]]:
    published: list[events.DomainEvent] = []
    db.warm_up()  # build each model's client once, not once per racing thread
    monkeypatch.setattr(timers, "_arm", lambda item, now: None)
    monkeypatch.setattr(timers, "client", lambda service: _NoService())
    monkeypatch.setattr(events, "publish_many", published.extend)  # what the outbox drains
    yield published


class _NoService:
    """Scheduler/SQS stand-in: arming and disarming timers is not under test here."""

    def __getattr__(self, name: str) -> Callable[..., dict]:
        return lambda **kwargs: {}


def give_credits(patient: str, n: int, kind: str = "text") -> None:
    assert models.grant(patient, f"seed-{patient}-{kind}-{n}", {kind: n}, None, "test")
