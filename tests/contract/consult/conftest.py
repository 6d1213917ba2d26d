"""Consult on DynamoDB Local: real conditional writes and transactions, raced by threads.

Timers are written to their table but not armed (no SQS here), and the events the outbox drains
are collected instead of published: the data layer is under test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import suppress

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


ALWAYS = {day: [("00:00", "24:00")] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def register_doctor(doctor_id: str, weekly: dict | None = None) -> None:
    """``doctor_id`` in the registry, active, every mode, at any hour (UTC) unless ``weekly``;
    again is a no-op (the tables live for the package)."""
    from chalicelib.consult.service import doctors
    from chalicelib.core.errors import Conflict

    with suppress(Conflict):
        doctors.register(
            doctor_id,
            {"name": doctor_id, "timezone": "UTC", "weekly": weekly or ALWAYS},
            by="t",
            approved=True,
        )


def give_credits(patient: str, n: int, kind: str = "text") -> None:
    assert models.grant(patient, f"seed-{patient}-{kind}-{n}", {kind: n}, None, "test")
