"""Admission on DynamoDB Local with real races: the cap holds under concurrent attempts, joins
racing the admitter strand nobody, and a user racing themself gets one session."""

from __future__ import annotations

import pytest

from chalicelib.core import clock
from chalicelib.waitroom import logic, models, service
from tests.contract.waitroom.conftest import sessions
from tests.support.races import race_indexed

pytestmark = pytest.mark.contract
RACERS = 20


def free_slots_without_admitting(event_id: str) -> None:
    """End the admitted sessions through the data layer only (no admission attempt follows)."""
    for s in sessions(event_id):
        if s.status == logic.ADMITTED:
            assert models.sessions.release(s, logic.COMPLETED, clock.now())


@pytest.mark.parametrize("batch_size", [10, 1])
def test_twenty_concurrent_admission_attempts_never_pass_the_cap(make_event, batch_size: int) -> None:
    """Given 50 queued places and 5 free slots, when 20 admission attempts run at once, exactly the
    next 5 places are admitted, once each, and processing is 5."""
    event = make_event(max_concurrent=5, batch_size=batch_size)
    for i in range(50):
        service.join(event.event_id, f"u{i}")
    free_slots_without_admitting(event.event_id)
    assert models.events.get_event(event.event_id).processing == 0

    results = race_indexed(lambda _: len(service.admit(event.event_id).admitted), RACERS, strict=True)

    assert sum(results) == 5
    after = models.events.get_event(event.event_id)
    admitted = sorted(
        (s for s in sessions(event.event_id) if s.status == logic.ADMITTED), key=lambda s: s.ticket
    )
    assert after.processing == 5 and after.admitted == 10
    assert [int(s.ticket) for s in admitted] == [6, 7, 8, 9, 10]
    assert sorted(int(s.admission_no) for s in admitted) == [6, 7, 8, 9, 10]
    assert after.cursor_n == 10


def test_a_user_joining_twenty_times_at_once_gets_one_session(make_event) -> None:
    """Given one user racing 20 joins, every call returns the same session and one place exists."""
    event = make_event(max_concurrent=1)
    service.join(event.event_id, "first")
    ids = race_indexed(lambda _: service.join(event.event_id, "racer")[0].session_id, RACERS, strict=True)
    assert len(set(ids)) == 1
    racer = [s for s in sessions(event.event_id) if s.user_id == "racer"]
    assert len(racer) == 1 and racer[0].session_id == ids[0]


def test_joins_racing_admissions_strand_nobody_and_keep_order(make_event) -> None:
    """Given 200 users joining from 20 threads while admission runs (each join triggers it), every
    place ends admitted, never past the cap, and admission order is ticket order."""
    event = make_event(max_concurrent=150, batch_size=10)
    race_indexed(
        lambda t: [service.join(event.event_id, f"t{t}-u{i}") for i in range(10)], RACERS, strict=True
    )
    # Any place still queued is behind a gap (a burned ticket) younger than its grace: let it age.
    after_grace = clock.now() + service.settings().gap_grace_seconds + 1
    clock.set_clock(lambda: after_grace)
    try:
        while service.admit(event.event_id).admitted:
            pass
    finally:
        clock.set_clock(None)
    everyone = sessions(event.event_id)
    final = models.events.get_event(event.event_id)
    admitted = [s for s in everyone if s.status == logic.ADMITTED]
    assert len(everyone) == 200 and final.processing == len(admitted) == 150
    by_admission = sorted(admitted, key=lambda s: s.admission_no)
    assert [s.ticket for s in by_admission] == sorted(s.ticket for s in admitted)
    queued = sorted(int(s.ticket) for s in everyone if s.status == logic.QUEUED)
    assert all(t > max(int(s.ticket) for s in admitted) for t in queued)
