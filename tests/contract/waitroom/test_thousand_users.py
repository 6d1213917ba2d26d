"""The spec's "must hold" at full size, on DynamoDB Local: 1,000 users, cap 100."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.core import config, timers
from chalicelib.waitroom import logic, models, service
from tests.contract.waitroom.conftest import sessions

pytestmark = pytest.mark.contract
USERS, CAP = 1000, 100


@pytest.fixture
def patient_users(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Given users who keep their place while they wait (no abandonment in this test)."""
    monkeypatch.setenv("MUDA_WAITROOM_ABANDON_AFTER_SECONDS", "86400")
    config.reset_settings()
    yield
    monkeypatch.undo()
    config.reset_settings()


def fire_due_checkouts() -> int:
    due = [t for t in timers.overdue(grace=0) if t.kind == service.CHECKOUT_TIMER]
    return sum(timers.fire(t.id, float(t.due_at)) == "fired" for t in due)


@pytest.mark.usefixtures("patient_users")
def test_thousand_users_cap_hundred_admitted_in_order_never_past_the_cap(make_event, clock) -> None:
    """Given 1,000 users joining an event with max_concurrent 100, when in each round half of the
    admitted complete (concurrently, each completion admitting the next at once) and the rest let
    their checkout expire (timers), then never more than 100 are processing, admissions follow
    position order, and every user ends completed or expired."""
    event = make_event(max_concurrent=CAP, batch_size=10, checkout_minutes=1)
    eid = event.event_id
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: service.join(eid, f"user-{i}"), range(USERS)))
        peak = 0
        for _ in range(USERS // CAP * 2):
            everyone = sessions(eid)
            admitted = [s for s in everyone if s.status == logic.ADMITTED]
            processing = int(models.events.get_event(eid).processing)
            assert processing == len(admitted) <= CAP
            peak = max(peak, processing)
            if not admitted:
                break
            completing = [s for s in admitted if int(s.admission_no) % 2 == 0]
            list(pool.map(lambda s: service.complete(s.session_id, s.token), completing))
            clock.advance(61)  # past the window of the others (and of those admitted meanwhile)
            assert fire_due_checkouts() >= len(admitted) - len(completing)

    final = sessions(eid)
    event = models.events.get_event(eid)
    assert peak == CAP
    assert len(final) == USERS and {s.status for s in final} == {logic.COMPLETED, logic.EXPIRED}
    by_admission = [int(s.ticket) for s in sorted(final, key=lambda s: int(s.admission_no))]
    # Tickets from the sharded counter: distinct and admitted in order (a few numbers, never
    # handed out, are passed over).
    assert by_admission == sorted(by_admission) and len(set(by_admission)) == USERS
    assert (event.admitted, event.completed + event.expired, event.processing) == (USERS, USERS, 0)
