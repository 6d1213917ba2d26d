"""Consult's events leave through the outbox, in the transaction of their state change: a crash
between the commit and the publish loses nothing, and a tick stays one transaction plus its timer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from chalicelib.consult import models, service
from chalicelib.core import outbox, timers
from tests.integration.consult.conftest import deliver_notifications, inbox
from tests.support.calls import counted


def die(_: object) -> None:
    raise SystemExit("killed between commit and publish")


def crash_after_commit(monkeypatch: pytest.MonkeyPatch, write: Callable[[], object]) -> None:
    """Run ``write`` in a process that dies right after its commit, before publishing."""
    with monkeypatch.context() as patched:
        patched.setattr(outbox, "drain_after_commit", die)
        with pytest.raises(SystemExit):
            write()


def waiting(aggregate: str) -> list[str]:
    return [e.name for e in outbox.waiting() if e.aggregate == f"consult#{aggregate}"]


def test_call_failed_survives_a_crash_between_commit_and_publish(users, credits, clock, monkeypatch) -> None:
    """Given a call not connected by its timeout, when the process dies right after the failing
    commit, then the call is failed and its CallFailed waits in the outbox; a re-run of the
    timeout adds nothing; the sweeper publishes it and the patient is told exactly once."""
    credits(1, "voice")
    status, call = users["patient"]("POST", "/calls", {"doctor_id": users["doctor"].sub, "kind": "voice"})
    assert status == 201, call
    cid = call["id"]
    clock.advance(90)

    crash_after_commit(monkeypatch, lambda: service.fail_call(cid))

    assert models.get_session(cid).status == "failed"  # the change committed
    assert waiting(f"session#{cid}") == ["CallFailed"]
    assert not [n for n in inbox(users["patient"]) if n["type"] == "CallFailed"]
    assert service.fail_call(cid) == "skipped"  # the timer's retry: no second event

    clock.advance(outbox.SWEEP_AFTER_SECONDS + 1)
    assert outbox.sweep() >= 1
    assert outbox.sweep() == 0

    failed = [n for n in inbox(users["patient"]) if n["type"] == "CallFailed"]
    assert len(failed) == 1 and failed[0]["detail"]["session_id"] == cid
    assert "could not be connected" in failed[0]["message"]
    assert waiting(f"session#{cid}") == []
    assert deliver_notifications() == 0


def test_appointment_expired_survives_a_crash_between_commit_and_publish(users, clock, monkeypatch) -> None:
    """Given a pending appointment at its time, when the expiry's process dies after its commit,
    then the slot is free and the patient is told once, by the sweeper."""
    at = datetime.fromtimestamp((int(clock.t) // 1800 + 2) * 1800, tz=UTC)
    status, booked = users["patient"](
        "POST", "/appointments", {"doctor_id": users["doctor"].sub, "scheduled_at": at.isoformat()}
    )
    assert status == 201, booked
    clock.t = at.timestamp()

    crash_after_commit(monkeypatch, lambda: service.expire_appointment(booked["id"]))

    assert models.get_appointment(booked["id"]).status == "cancelled"
    assert models.slot_holder(users["doctor"].sub, at.timestamp()) is None
    assert waiting(f"appointment#{booked['id']}") == ["AppointmentExpired"]
    clock.advance(outbox.SWEEP_AFTER_SECONDS + 1)
    outbox.sweep()
    expired = [n for n in inbox(users["patient"]) if n["type"] == "AppointmentExpired"]
    assert len(expired) == 1 and expired[0]["detail"]["appointment_id"] == booked["id"]


def test_a_tick_is_one_transaction_and_its_next_timer_and_emits_nothing(
    users, credits, clock, monkeypatch
) -> None:
    """Given an active session with credits to spare, its tick costs one TransactWriteItems
    plus the next tick's timer (a put and an SQS send), and writes no event."""
    credits(3)
    sid = users["patient"]("POST", "/text-sessions", {"doctor_id": users["doctor"].sub})[1]["id"]
    users["doctor"]("POST", f"/text-sessions/{sid}/messages", {"body": "hello"})
    meter = models.Meter.of(models.get_session(sid))
    clock.advance(meter.interval_seconds)

    with counted() as calls:
        assert service.tick(meter, 1) == "billed"

    assert calls == Counter(
        {"dynamodb:TransactWriteItems": 1, "dynamodb:PutItem": 1, "sqs:SendMessage": 1}
    ), calls
    assert waiting(f"session#{sid}") == []
    assert timers.get(service.TICK, service.tick_key(meter, 2)).state == timers.PENDING
