"""What a class transition costs in AWS calls (the README's "calls per transition"), counted at
botocore's one entry point: a refactor that adds a call to the transition path fails here, not
in next month's bench."""

from __future__ import annotations

from collections import Counter

from chalicelib.classes import service
from chalicelib.classes.models import sessions
from chalicelib.core import clock as core_clock
from chalicelib.core import timers
from tests.integration.classes.conftest import Classes
from tests.support.calls import counted
from tests.support.ids import unique

MIN = 60


def due_timers() -> list[timers.TimerItem]:
    """The class timers due by the frozen clock, in due order (listed outside the count)."""
    due = [
        t
        for t in timers.pending()
        if t.kind == service.MOMENT_TIMER and t.state == timers.PENDING and t.due_at <= core_clock.now()
    ]
    return sorted(due, key=lambda t: t.due_at)


def test_a_timer_driven_transition_costs_7_aws_calls_8_33_with_settlement(classes: Classes, clock) -> None:
    """Given an individual class nobody joins (READY, ONGOING, ABSENT: one credit used) and a
    group class nobody joins (READY, ONGOING, COMPLETED: no credit), as the bench runs them,
    in a warm process (the LiveKit secret cached)
    When each moment's timer fires
    Then each transition costs 7 calls: the timer's claim and finish, the session read, its
    transaction (status + outbox entry) and the outbox's drain (Query, PutEvents,
    BatchWriteItem); settling costs 3 (attendance query, credit transaction, settled mark) or 2
    with no credit to use; the individual class's complete timer, firing after it ended ABSENT,
    costs 3 (claim, read, finish): 50 calls for 6 transitions, 8.33 a transition (the bench adds
    the per-minute reconcile's and the timer sweeper's queries)."""
    student = unique("student")
    classes.grant(student, 2)
    academy = classes.academy()
    ids = [
        classes.create(academy, 20 * MIN, [student]).json_body["id"],
        classes.create(academy, 20 * MIN, [unique("student")], kind="group").json_body["id"],
    ]
    service.livekit_credentials()  # warm: cached five minutes, as in a running worker
    phases: list[Counter[str]] = []
    for minutes in (10, 10, 15, 35):  # ready, start, absent (individual), complete (both)
        clock.advance(minutes * MIN)
        due = due_timers()
        with counted() as calls:
            for item in due:
                timers.fire(item.id, float(item.due_at))
        phases.append(calls)

    total = sum(phases, Counter())
    transitions = sum(len(sessions.get_session(cid).history) for cid in ids)
    print(dict(total), f"{sum(total.values()) / transitions:.2f} calls per transition")
    assert transitions == 6
    assert [sum(p.values()) for p in phases] == [14, 14, 10, 12], phases
    assert total["dynamodb:TransactWriteItems"] == 6 + 1  # six transitions, one credit used
    assert total["events:PutEvents"] == 6
    assert sum(total.values()) == 50
