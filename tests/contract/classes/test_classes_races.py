"""Races on DynamoDB Local: duplicate timers, a join against the absent moment, a cancel against
completion, credits used and granted concurrently — each fact happens once."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.classes import logic, models, service
from chalicelib.classes.models import attendance, credits, items, sessions
from chalicelib.core import errors, outbox, timers
from tests.contract.classes.conftest import academy, race

pytestmark = [pytest.mark.contract, pytest.mark.usefixtures("tables")]
MIN = 60


def first_deliveries(published: list[Any]) -> list[Any]:
    """What a consumer keeps: each event_id's first delivery, in the order they came."""
    first: dict[str, Any] = {}
    for event in published:
        first.setdefault(event.detail["idempotency_key"], event)
    return list(first.values())


def new_class(clock, starts_in: float, students: list[str], kind: str = "individual") -> models.ClassSession:
    return service.create_session(academy(), "t1", kind, students, "Algebra", clock.t + starts_in, 30, "t1")


def test_twenty_duplicate_timers_walk_the_session_once_and_use_one_credit(clock, outside_world) -> None:
    """Given an individual class at its absent moment, when 20 copies of its timers fire at once,
    then it goes READY, ONGOING, ABSENT once each, publishes each change (at least once, the
    first delivery of each in order: consumers dedupe on event_id), and uses one credit."""
    credits.grant_credits("s1", 3, "g1")
    session = new_class(clock, 10 * MIN, ["s1"])
    clock.advance(25 * MIN)
    keys = [logic.timer_key(session.class_id, m, 1) for m in ("ready", "start", "absent", "complete")]
    fns = [
        lambda k=keys[n % 4]: service.on_moment(timers.Timer(service.MOMENT_TIMER, k, 0, {}, 1))
        for n in range(20)
    ]

    outcomes = race(fns)

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    final = sessions.get_session(session.class_id)
    assert [h.to_status for h in final.history] == ["ready", "ongoing", "absent"]
    assert final.settled is True
    assert credits.get_wallet("s1").credits == 2
    assert [e.detail["to"] for e in first_deliveries(outside_world)] == ["ready", "ongoing", "absent"]
    assert not [e for e in outbox.waiting() if e.aggregate.endswith(items.aggregate(session.class_id))]


def test_a_join_racing_the_absent_moment_has_one_winner(clock) -> None:
    """Given 6 individual classes at start + tolerance, when the student's join races the absent
    timer on each, then either the join wins (ONGOING, no absence) or the timer does (ABSENT and
    the join refused) — never an absent class with its student in the room."""
    winners = set()
    for n in range(6):
        credits.grant_credits(f"s{n}", 1, "g")
        session = new_class(clock, 10 * MIN, [f"s{n}"])
        clock.advance(10 * MIN)
        service.advance(sessions.get_session(session.class_id), "test")  # ONGOING, no student yet
        clock.advance(15 * MIN)
        fresh = sessions.get_session(session.class_id)
        join, _ = race(
            [
                lambda s=fresh, u=f"s{n}": service.record_attendance(s, u, "join", clock.t),
                lambda s=fresh: service.advance(s, "absent timer"),
            ]
        )
        final = sessions.get_session(session.class_id)
        present = [a for a in attendance.attendance(session.class_id) if a.first_joined_at is not None]
        if final.status == logic.ABSENT:
            assert isinstance(join, errors.Conflict) and present == []
            winners.add("absent")
        else:
            assert join == "joined" and final.status == logic.ONGOING and final.student_joined
            winners.add("join")
        clock.advance(60 * MIN)
    assert winners  # each round had exactly one winner (asserted above)


def test_cancel_racing_completion_has_one_winner(clock) -> None:
    """Given group classes at their complete moment with an attending student, when a cancel races
    the complete timer, then the class ends either CANCELLED (no credit) or COMPLETED (one credit)."""
    for n in range(5):
        student = f"c{n}"
        credits.grant_credits(student, 1, "g")
        session = new_class(clock, 10 * MIN, [student], kind="group")
        clock.advance(10 * MIN)
        service.record_attendance(sessions.get_session(session.class_id), student, "join", clock.t)
        clock.advance(35 * MIN)
        fresh = sessions.get_session(session.class_id)

        race(
            [
                lambda s=fresh: service.cancel(sessions.get_session(s.class_id), "teacher"),
                lambda s=fresh: service.on_moment(
                    timers.Timer(service.MOMENT_TIMER, logic.timer_key(s.class_id, "complete", 1), 0, {}, 1)
                ),
            ]
        )

        final = sessions.get_session(session.class_id)
        assert final.status in (logic.CANCELLED, logic.COMPLETED)
        assert [h.to_status for h in final.history].count(final.status) == 1
        assert credits.get_wallet(student).credits == (1 if final.status == logic.CANCELLED else 0)


def test_concurrent_credit_uses_and_grants_happen_once(clock) -> None:
    """Given a student with 5 credits, when 20 workers use the credit of the same class and 20
    grant the same reference, then one credit is used and one grant counted."""
    credits.grant_credits("g1", 5, "first")

    uses = race([lambda: credits.use_credit("cl_same", "g1").outcome for _ in range(20)])
    grants = race([lambda: credits.grant_credits("g1", 2, "receipt-1") for _ in range(20)])

    assert sorted(uses) == ["already"] * 19 + ["used"]
    assert grants.count(True) == 1
    wallet = credits.get_wallet("g1")
    assert (wallet.credits, wallet.used, wallet.granted) == (6, 1, 7)


def test_no_credit_left_is_recorded_owed_once(clock) -> None:
    """Given a student with no credits, when 10 workers settle the same class, one owed entry."""
    outcomes = race([lambda: credits.use_credit("cl_owed", "broke").outcome for _ in range(10)])
    assert sorted(outcomes) == ["already"] * 9 + ["owed"]
    assert credits.get_wallet("broke").credits == 0
