"""RADIUS accounting's conditional writes on DynamoDB Local, raced by threads: Interims of one
session arriving at once and out of order leave the largest total, counted once; a replayed
Start changes nothing; a packet naming another user's subscription writes nothing."""

from __future__ import annotations

import pytest

from chalicelib.core import clock
from chalicelib.hotspot.models.items import SubscriptionItem, subscription_key
from chalicelib.radius import logic
from chalicelib.radius.models import sessions
from tests.support.ids import unique
from tests.support.races import race

pytestmark = [pytest.mark.contract, pytest.mark.usefixtures("tables")]
ROUTER, USER, PHONE = "rtr_race", "m712000001", "254712000001"


def subscription() -> str:
    sub_id = unique("sub_")
    now = clock.now()
    SubscriptionItem(
        *subscription_key(sub_id),
        subscription_id=sub_id,
        phone=PHONE,
        package_id="pkg",
        router_id=ROUTER,
        username=USER,
        password="pw",
        starts_at=now,
        expires_at_ts=now + 3600,
        status="active",
        created_at=now,
    ).save()
    return sub_id


def packet(kind: str, octets: int, seconds: int = 0, unique_id: str = "u1") -> logic.Report:
    return logic.Report(kind, unique_id, "s1", USER, octets, 0, seconds, None, None, None)


def test_racing_and_out_of_order_interims_leave_the_largest_total_once() -> None:
    # Given a started session
    sub_id = subscription()
    assert sessions.record(packet("start", 0), sub_id, ROUTER, USER, PHONE) == "recorded"

    # When 6 Interims (totals 100..600, each sent twice) race
    jobs = [
        (lambda t=t: sessions.record(packet("interim", t, t // 100), sub_id, ROUTER, USER, PHONE))
        for t in range(100, 700, 100)
        for _ in range(2)
    ]
    outcomes = race(jobs, strict=True)

    # Then the session holds the largest, and the usage counts it once
    assert set(outcomes) <= {"recorded", "duplicate"} and "recorded" in outcomes
    part = sessions.partition(sub_id)
    assert [int(s.total_octets) for s in part.sessions] == [600]
    assert part.usage == logic.Usage(600, 6)
    # And a late, smaller Interim or a replayed Start changes nothing
    assert sessions.record(packet("interim", 300, 3), sub_id, ROUTER, USER, PHONE) == "duplicate"
    assert sessions.record(packet("start", 0), sub_id, ROUTER, USER, PHONE) == "duplicate"
    assert sessions.partition(sub_id).usage == logic.Usage(600, 6)


def test_racing_stops_close_the_session_once_and_nothing_counts_after() -> None:
    sub_id = subscription()
    sessions.record(packet("start", 0), sub_id, ROUTER, USER, PHONE)

    outcomes = race(lambda: sessions.record(packet("stop", 500, 5), sub_id, ROUTER, USER, PHONE), n=8)

    assert sorted(outcomes) == ["duplicate"] * 7 + ["recorded"]
    assert sessions.record(packet("interim", 900, 9), sub_id, ROUTER, USER, PHONE) == "duplicate"
    [session] = sessions.partition(sub_id).sessions
    assert (session.state, int(session.total_octets), int(session.reports)) == ("stopped", 500, 2)


def test_a_packet_for_another_users_or_routers_subscription_writes_nothing() -> None:
    sub_id = subscription()

    assert sessions.record(packet("start", 0), sub_id, "rtr_other", USER, PHONE) == "not_owned"
    assert sessions.record(packet("interim", 10), sub_id, ROUTER, "m799999999", PHONE) == "not_owned"
    assert sessions.record(packet("interim", 10), unique("sub_"), ROUTER, USER, PHONE) == "not_owned"
    assert sessions.partition(sub_id).sessions == []
