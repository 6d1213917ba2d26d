"""The sharded ticket counter on DynamoDB Local: a crowd of concurrent joins gets distinct places,
fair to within the stated window, admitted in place order."""

from __future__ import annotations

import bisect
import itertools
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.waitroom import logic, models, service
from chalicelib.waitroom.schemas import UpdateEvent
from tests.contract.waitroom.conftest import sessions

pytestmark = pytest.mark.contract
USERS, SHARDS, THREADS, FIRST = 1000, 8, 16, 100


def test_a_thousand_concurrent_joins_get_distinct_places_fair_within_the_window(make_event) -> None:
    """Given an event with 8 counter shards and one slot
    When 1,000 users join from 16 threads
    Then they hold 1,000 distinct places; nobody whose join started after another's returned is
    placed shards x slack or more places ahead of them; and when 100 slots open, the 100 lowest
    places are admitted, in place order."""
    event = make_event(max_concurrent=1, batch_size=50, shards=SHARDS)
    eid = event.event_id

    def join(n: int) -> tuple[float, float, int]:
        started = time.perf_counter()
        session, _ = service.join(eid, f"fan-{n}")
        return started, time.perf_counter(), int(session.ticket)

    with ThreadPoolExecutor(THREADS) as pool:
        joins = list(pool.map(join, range(USERS)))

    tickets = [t for _, _, t in joins]
    assert len(set(tickets)) == USERS and len(sessions(eid)) == USERS
    window = logic.fairness_window(SHARDS, service.settings().shard_slack)
    by_end = sorted(joins, key=lambda j: j[1])
    ends = [end for _, end, _ in by_end]
    highest = list(itertools.accumulate((t for _, _, t in by_end), max))
    overtaken_by = [
        highest[i - 1] - ticket for start, _, ticket in joins if (i := bisect.bisect_left(ends, start))
    ]
    assert max(overtaken_by, default=0) < window

    service.update_event(eid, UpdateEvent(max_concurrent=1 + FIRST))
    admitted = sorted(
        (s for s in sessions(eid) if s.status == logic.ADMITTED), key=lambda s: int(s.admission_no)
    )
    assert len(admitted) == 1 + FIRST == int(models.events.get_event(eid).processing)
    assert [int(s.ticket) for s in admitted] == sorted(tickets)[: 1 + FIRST]
