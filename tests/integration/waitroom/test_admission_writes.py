"""The admission round's writes on moto: its QueueReady rides the outbox (a crash after the commit
loses no notice), its refusal is read by label (never by position), and what one admission costs
in AWS calls (the README's figure)."""

from __future__ import annotations

import pytest

from chalicelib.core import outbox
from chalicelib.waitroom import logic, models, service
from tests.integration.waitroom.conftest import bus_events
from tests.support.calls import counted
from tests.support.ids import unique


def test_queue_ready_is_delivered_once_after_a_crash_between_the_round_and_its_publish(
    make_event, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a process that dies right after an admission round commits (before publishing)
    Then the user is admitted and their QueueReady waits in the outbox, not on the bus
    When the sweeper runs
    Then the bus carries that QueueReady exactly once, and later sweeps publish nothing more."""
    event = make_event(id=unique("crash"), max_concurrent=1)
    bus_events("QueueReady")

    def die(_: object) -> None:
        raise SystemExit("killed between commit and publish")

    monkeypatch.setattr(outbox, "drain_after_commit", die)
    with pytest.raises(SystemExit):
        service.join(event.event_id, "u1")
    monkeypatch.undo()

    (session,) = models.sessions.queue_sessions(event.event_id)
    assert session.status == logic.ADMITTED
    waiting = [e for e in outbox.waiting() if e.aggregate.endswith(f"#event#{event.event_id}")]
    assert [e.name for e in waiting] == ["QueueReady"] and bus_events("QueueReady") == []

    clock.advance(outbox.SWEEP_AFTER_SECONDS + 1)
    assert outbox.sweep() >= 1
    assert outbox.sweep() == 0
    (ready,) = [d for d in bus_events("QueueReady") if d["event_id"] == event.event_id]
    assert ready["session_id"] == session.session_id and ready["recipients"] == ["u1"]


def test_a_round_the_event_refuses_is_lost_even_when_it_checks_gaps(make_event, clock) -> None:
    """Given a round planned over a burned ticket (a gap: the round closes it with a put, which
    DynamoDB may list before the event's update) and an event whose cap changed since it was read
    When the round commits
    Then it is "lost" (the event refused it: another attempt or admin moved on), not "retry",
    and nothing of it is written."""
    eid = unique("gap")
    make_event(id=eid, max_concurrent=1, shards=1)
    first, _ = service.join(eid, "first")
    assert models.events.take_shard_ticket(eid, 0, 10**6) == 2  # ticket 2: a join that died
    service.join(eid, "waiting")  # ticket 3, behind the gap
    assert models.sessions.release(first, logic.COMPLETED, clock.t)  # a slot, no attempt yet
    clock.advance(service.settings().gap_grace_seconds + 1)
    event, counts = models.events.read_with_shards(eid)
    line = models.events.line(event, counts)
    plan, found = service.admission._plan(event, line, counts, 1)
    assert plan.gaps == [("n", 2)] and [p.ticket for p in plan.admit] == [3]
    admissions = [service.admission._admission(event, found[("n", 3)], 2, clock.t)]
    assert models.events.update_event(eid, {"max_concurrent": 2}, clock.t) is not None

    outcome = models.admission.commit_round(
        event, line, counts, plan, admissions, now=clock.t, rate_window=300
    )

    assert outcome == "lost"
    assert models.sessions.get_session(eid, "n", 3).status == logic.QUEUED
    assert not [e for e in outbox.waiting() if e.aggregate.endswith(f"#event#{eid}")]


def test_a_completion_that_admits_the_next_costs_12_aws_calls(make_event) -> None:
    """Given a warm process and a full event (cap 1) with users waiting
    When the admitted user completes (which admits the next at once)
    Then it costs 12 AWS calls: the session's GetItem, the release's TransactWriteItems, the
    checkout timer's cancel; the event's and its counter's BatchGetItem, the line's Query, the
    round's TransactWriteItems (with the QueueReady in the outbox), the checkout timer (2); the
    outbox drain's Query, PutEvents and BatchWriteItem."""
    eid = unique("cost")
    make_event(id=eid, max_concurrent=1, shards=1)
    sessions = [service.join(eid, f"u{n}")[0] for n in range(3)]
    service.complete(sessions[0].session_id, sessions[0].token)  # warm: clients, key ring
    admitted = models.sessions.get_session(eid, "n", 2)

    with counted() as calls:
        service.complete(admitted.session_id, admitted.token)

    print(dict(calls))
    assert models.sessions.get_session(eid, "n", 3).status == logic.ADMITTED
    assert sum(calls.values()) == 12, calls
    assert calls["dynamodb:TransactWriteItems"] == 2 and calls["events:PutEvents"] == 1
    assert calls["dynamodb:Query"] == 2 and calls["dynamodb:BatchWriteItem"] == 1
