"""Waiting-room rules without AWS: positions, the admission plan, ETA, rates, token claims."""

from __future__ import annotations

import pytest

from chalicelib.waitroom import logic
from chalicelib.waitroom.logic import Line, Place

NOW = 1_000_000.0
RULES = {"now": NOW, "abandon_after": 120.0, "session_ttl": 7200.0, "gap_grace": 5.0}


def place(lane: str, ticket: int, *, status: str = "queued", age: float = 60, silent: float = 10) -> Place:
    return Place(lane, ticket, status, NOW - age, NOW - silent)  # type: ignore[arg-type]


def plan(line: Line, places: dict, room: int = 10, batch: int = 10, exhausted: dict | None = None, **kw):
    return logic.plan_round(
        line,
        places,
        exhausted=exhausted or {"v": True, "n": True},
        room=room,
        batch_size=batch,
        **{**RULES, **kw},
    )


def test_session_ids_name_their_place_and_reject_anything_else() -> None:
    """Given a place, its id round-trips; malformed ids are refused."""
    sid = logic.session_id("big-sale", "n", 42)
    assert sid == "big-sale.n42" and logic.parse_session_id(sid) == ("big-sale", "n", 42)
    for bad in ("", "big-sale", "big-sale.x1", "big-sale.n", "big-sale.n0", ".n1", "a.n1x", "a.n" + "9" * 13):
        with pytest.raises(logic.InvalidSessionId):
            logic.parse_session_id(bad)


def test_people_ahead_is_arithmetic_on_counters_and_priority_goes_first() -> None:
    """Given 1,000,000 tickets handed out and 400 passed, positions are O(1) subtractions."""
    line = Line(next_v=3, next_n=1_000_000, cursor_v=1, cursor_n=400)
    assert line.places_ahead("n", 401) == 2  # two priority places still ahead of the first normal one
    assert line.places_ahead("n", 1_000_000) == 999_599 + 2
    assert line.places_ahead("v", 2) == 0 and line.places_ahead("v", 3) == 1
    assert line.queued == 2 + 999_600


def test_eta_uses_the_pass_rate_and_says_none_while_nothing_moves() -> None:
    assert logic.eta_seconds(0, 0.0) == 0
    assert logic.eta_seconds(30, 0.0) is None
    assert logic.eta_seconds(30, 0.5) == 60


def test_rates_decay_and_bump() -> None:
    """Given 10 admissions, the rate is 10/tau, and it halves after tau·ln2 of silence."""
    rate = logic.bumped(0.0, 0.0, 100.0, 300.0, 10)
    assert rate == pytest.approx(10 / 300)
    assert logic.decayed(rate, 100.0, 100.0 + 300 * 0.6931, 300.0) == pytest.approx(rate / 2, rel=1e-3)


def test_admits_in_ticket_order_up_to_batch_and_room() -> None:
    """Given 5 live places and room for 3, the first 3 are admitted and the cursor stops at the third."""
    result = plan(Line(next_n=5), {"n": [place("n", t) for t in range(1, 6)]}, room=3)
    assert [p.ticket for p in result.admit] == [1, 2, 3]
    assert result.cursors == {"v": 0, "n": 3} and result.moved


def test_priority_lane_is_served_first() -> None:
    """Given priority and normal places, priority ones are admitted before any normal one."""
    line = Line(next_v=2, next_n=3)
    result = plan(
        line, {"v": [place("v", 1), place("v", 2)], "n": [place("n", t) for t in (1, 2, 3)]}, room=3
    )
    assert [(p.lane, p.ticket) for p in result.admit] == [("v", 1), ("v", 2), ("n", 1)]


def test_an_unread_priority_page_stops_the_round_before_the_normal_lane() -> None:
    """Given a priority lane read only in part, no normal place overtakes the unread priority ones."""
    line = Line(next_v=50, next_n=3)
    result = plan(
        line, {"v": [place("v", 1, silent=999)], "n": [place("n", 1)]}, exhausted={"v": False, "n": True}
    )
    assert result.admit == [] and [p.ticket for p in result.abandon] == [1]
    assert result.cursors == {"v": 1, "n": 0}


def test_abandoned_and_over_ttl_places_are_skipped_without_taking_a_slot() -> None:
    """Given silent and too-old places ahead of live ones, they are passed and the live ones admitted."""
    places = [place("n", 1, silent=121), place("n", 2, age=7201, silent=1), place("n", 3), place("n", 4)]
    result = plan(Line(next_n=4), {"n": places}, room=2)
    assert [p.ticket for p in result.abandon] == [1] and [p.ticket for p in result.expire] == [2]
    assert [p.ticket for p in result.admit] == [3, 4] and result.cursors["n"] == 4


def test_places_already_out_of_line_are_passed() -> None:
    """Given a revoked place at the front, the cursor passes it with no write for it."""
    result = plan(Line(next_n=2), {"n": [place("n", 1, status="revoked"), place("n", 2)]})
    assert [p.ticket for p in result.admit] == [2] and result.writes == 1 and result.cursors["n"] == 2


def test_a_young_gap_holds_the_line_and_an_old_one_is_passed_with_a_check() -> None:
    """Given ticket 2 never written: while 3 is younger than the grace the line waits; later it is passed."""
    young = plan(Line(next_n=3), {"n": [place("n", 1), place("n", 3, age=1)]})
    assert [p.ticket for p in young.admit] == [1] and young.cursors["n"] == 1
    assert young.wait_until == NOW - 1 + 5
    old = plan(Line(next_n=3), {"n": [place("n", 1), place("n", 3, age=6)]})
    assert [p.ticket for p in old.admit] == [1, 3] and old.gaps == [("n", 2)] and old.wait_until is None


def test_a_round_never_exceeds_a_transaction() -> None:
    """Given 300 abandoned places, one round writes at most 99 of them (plus the event item)."""
    places = [place("n", t, silent=999) for t in range(1, 301)]
    result = plan(Line(next_n=300), {"n": places})
    assert result.writes == logic.MAX_TRANSACTION_ITEMS - 1 and result.cursors["n"] == 99


def test_a_round_counts_each_admissions_notice_against_the_transaction() -> None:
    """Given 60 live places and room for 50, one round admits 49: each admission writes its place
    and its QueueReady (an outbox entry), 98 items, plus the event item; the cursor stops at 49."""
    places = [place("n", t) for t in range(1, 61)]
    result = plan(Line(next_n=60), {"n": places}, room=50, batch=50)
    assert len(result.admit) == 49 and result.items == 98 and result.cursors["n"] == 49


def test_a_full_round_still_passes_places_that_cost_no_write() -> None:
    """Given 99 abandoned places then revoked ones, the round writes 99 and passes the revoked
    ones behind them too (leaving the line costs them nothing)."""
    places = [place("n", t, silent=999) for t in range(1, 100)]
    places += [place("n", t, status="revoked") for t in range(100, 103)]
    result = plan(Line(next_n=102), {"n": places})
    assert result.items == logic.MAX_TRANSACTION_ITEMS - 1 and result.cursors["n"] == 102


def test_queue_ready_names_the_user_as_recipient_and_carries_no_token() -> None:
    detail = logic.queue_ready("sale", "sale.n7", "u7", admitted_at=0.0, expires_at=900.0)
    assert detail["recipients"] == ["u7"] and detail["session_id"] == "sale.n7"
    assert detail["checkout_expires_at"].startswith("1970-01-01T00:15") and "00:15 UTC" in detail["message"]
    assert not any("token" in key for key in detail)


def test_nothing_to_do_is_an_empty_plan() -> None:
    assert plan(Line(), {"v": [], "n": []}).empty
    assert plan(Line(next_n=1), {"n": [place("n", 1)]}, room=0).empty


def test_admission_count_is_the_spec_minimum() -> None:
    assert logic.admission_count(100, 95, 10, 1000) == 5
    assert logic.admission_count(100, 50, 10, 3) == 3
    assert logic.admission_count(100, 100, 10, 1000) == 0
    assert logic.admission_count(100, 101, 10, 1000) == 0


def test_checkout_claims_carry_the_spec_fields() -> None:
    claims = logic.checkout_claims(
        issuer="iss",
        event_id="sale",
        session="sale.n7",
        user_id="u7",
        lane="n",
        ticket=7,
        admitted_at=100.4,
        checkout_seconds=900,
        jti="j",
    )
    assert {"iss", "aud", "sub", "uid", "queue_position", "iat", "nbf", "exp", "jti"} <= set(claims)
    assert (claims["aud"], claims["sub"], claims["uid"], claims["queue_position"]) == (
        "sale",
        "sale.n7",
        "u7",
        7,
    )
    assert claims["iat"] == claims["nbf"] == 100 and claims["exp"] == 1001


def test_retired_keys_stay_until_their_last_token_expired() -> None:
    keys = [
        {"kid": "a", "retired_at": 0.0},
        {"kid": "b", "retired_at": 500.0},
        {"kid": "c", "retired_at": None},
    ]
    assert [k["kid"] for k in logic.retired_keys_to_keep(keys, now=1000.0, max_token_seconds=600)] == [
        "b",
        "c",
    ]
