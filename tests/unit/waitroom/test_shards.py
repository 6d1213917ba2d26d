"""The sharded ticket counter's rules without AWS: ticket numbers, the shard choice and its
fairness bound, places ahead, and passing tickets no shard handed out."""

from __future__ import annotations

import bisect
import itertools
import random

import pytest

from chalicelib.waitroom import logic
from chalicelib.waitroom.logic import Line, Place
from chalicelib.waitroom.page import strings


def test_shards_interleave_into_one_line_of_distinct_tickets() -> None:
    # Given 4 shards / When each hands out its first 3 tickets / Then tickets 1..12, each once
    tickets = sorted(logic.shard_ticket(seq, k, 4) for k in range(4) for seq in range(1, 4))
    assert tickets == list(range(1, 13))
    assert all(logic.ticket_shard(logic.shard_ticket(s, k, 4), 4) == (k, s) for k in range(4) for s in (1, 9))


def test_a_trickle_of_joins_gets_consecutive_tickets() -> None:
    # Given 8 shards and no contention / When 20 join one by one / Then tickets 1..20 in join order
    counts = [0] * 8
    got = []
    for _ in range(20):
        shard, bound = logic.pick_shard(counts, slack=4, draw=random.random())
        assert counts[shard] < bound
        counts[shard] += 1
        got.append(logic.shard_ticket(counts[shard], shard, 8))
    assert got == list(range(1, 21))


@pytest.mark.parametrize(("shards", "slack"), [(1, 4), (4, 1), (8, 4), (16, 2)])
def test_nobody_who_joins_later_is_placed_a_window_or_more_ahead(shards: int, slack: int) -> None:
    """Given joins that read stale counts (each read a random number of steps old) and collide
    When 3,000 join, each taking a shard under the conditional bound
    Then no shard ever runs ``slack`` past the slowest, and a join that started after another
    finished is never ``shards x slack`` or more places ahead of it (the stated window)."""
    rng = random.Random(7)
    counts = [0] * shards
    history: list[list[int]] = [list(counts)]
    done: list[tuple[int, int, int]] = []  # (start step, end step, ticket)
    step = 0
    while len(done) < 3000:
        step += 1
        started = max(0, step - rng.randint(0, 30))  # a read that many writes old
        read = history[min(started, len(history) - 1)]
        for attempt in range(20):
            shard, bound = logic.pick_shard(read, slack, rng.random(), 2**attempt)
            if counts[shard] < bound:  # the write's condition, on the true count
                counts[shard] += 1
                break
            read = list(counts)  # refused: read again
        else:
            continue
        assert max(counts) - min(counts) <= slack
        history.append(list(counts))
        done.append((started, len(history) - 1, logic.shard_ticket(counts[shard], shard, shards)))
    window = logic.fairness_window(shards, slack)
    by_end = sorted(done, key=lambda d: d[1])
    ends = [end for _, end, _ in by_end]
    highest = list(itertools.accumulate((t for _, _, t in by_end), max))  # best ticket ended by then
    worst = 0
    for start, _, ticket in done:
        finished = bisect.bisect_left(ends, start)  # joins that ended before this one started
        if finished:
            worst = max(worst, highest[finished - 1] - ticket)
    assert worst < window
    assert len({t for _, _, t in done}) == len(done)


def test_places_ahead_count_only_tickets_handed_out() -> None:
    # Given 4 shards with counts 3,2,2,1 and the cursor at ticket 4
    line = logic.sharded_line(next_v=0, cursor_v=0, cursor_n=4, counts=[3, 2, 2, 1])
    # Then handed out after the cursor: 5,6,7 (seq 2 of shards 0-2) and 9 (shard 0 seq 3): 4 waiting
    assert line.next_n == 9 and line.waiting("n") == 4
    assert line.places_ahead("n", 9) == 3 and line.places_ahead("n", 5) == 0
    # And VIPs waiting are ahead of everyone in the normal lane
    vip = logic.sharded_line(next_v=2, cursor_v=0, cursor_n=4, counts=[3, 2, 2, 1])
    assert vip.places_ahead("n", 5) == 2


def test_a_ticket_no_shard_handed_out_is_passed_at_once_not_after_the_grace() -> None:
    """Given place 3 written while tickets 1 and 2 were never handed out (shards behind)
    When the admitter plans / Then it admits 3 now and moves those shards past 1 and 2."""
    place = Place("n", 3, logic.QUEUED, joined_at=100.0, last_seen=100.0)
    plan = logic.plan_round(
        Line(next_n=3),
        {"n": [place]},
        exhausted={"v": True, "n": True},
        room=5,
        batch_size=5,
        now=100.5,
        abandon_after=120,
        session_ttl=7200,
        gap_grace=5,
        handed_out=lambda lane, ticket: ticket == 3,
    )
    assert [p.ticket for p in plan.admit] == [3] and plan.skip == [("n", 1), ("n", 2)] and not plan.gaps


def test_eta_is_a_range_and_languages_follow_the_browser() -> None:
    assert logic.eta_range(None) is None and logic.eta_range(0) == (0, 0)
    low, high = logic.eta_range(240)
    assert low < 240 < high
    assert strings.choose("sw-KE,sw;q=0.9") == "sw" and strings.choose("en-US,sw;q=0.2") == "en"
    assert strings.choose(None) == "en" and strings.choose("sw", override="en") == "en"
    assert strings.duration(30, "sw") == "sekunde 30" and strings.duration(180, "en") == "3 min"
