"""Consult rules without AWS: interval arithmetic, what an end bills, slots, expiry, reconcile."""

from __future__ import annotations

import pytest

from chalicelib.consult import logic

T0, IV = 1_000_000.0, 600.0


def test_tick_i_is_due_from_the_start_never_from_the_previous_tick() -> None:
    """Given a start, tick i is due at start + i·interval whatever the earlier ticks did."""
    assert [logic.tick_due(T0, i, IV) for i in (1, 2, 3, 100)] == [T0 + 600, T0 + 1200, T0 + 1800, T0 + 60000]


@pytest.mark.parametrize(
    ("at", "interval"),
    [(T0 - 1, 0), (T0, 1), (T0 + 599.999, 1), (T0 + 600, 2), (T0 + 1199, 2), (T0 + 1200, 3)],
)
def test_interval_at_is_half_open(at: float, interval: int) -> None:
    assert logic.interval_at(T0, at, IV) == interval


@pytest.mark.parametrize(
    ("reason", "now", "last", "target"),
    [
        ("manual", T0 + 1, None, 1),  # ending in interval 1 bills it
        ("manual", T0 + 900, None, 2),  # elapsed 1 + in progress 2
        ("manual", T0 + 1200, None, 3),  # exactly at a boundary the next interval has begun
        ("idle", T0 + 300 + 1800, T0 + 300, 3),  # owed: 3 elapsed; the idle in-progress one is free
        ("idle", T0 + 500, T0 + 450, 1),  # short idle: the interval with activity is billed
        ("credits_exhausted", T0 + 900, None, 1),  # other ends: what elapsed
    ],
)
def test_end_target(reason: str, now: float, last: float | None, target: int) -> None:
    assert logic.end_target(reason, T0, now, IV, last) == target


def test_appointment_expires_at_the_earlier_of_its_time_and_24_hours() -> None:
    day = 24 * 3600.0
    assert logic.appointment_expiry(T0, T0 + 3600, day) == (T0 + 3600, logic.EXPIRED_PAST)
    assert logic.appointment_expiry(T0, T0 + 3 * day, day) == (T0 + day, logic.EXPIRED_STALE)
    assert logic.expiry_reason(logic.EXPIRED_PAST) == "Automatically expired - scheduled time has passed"


def test_party_role() -> None:
    assert logic.party_role("p", "d", "p") == "patient"
    assert logic.party_role("p", "d", "d") == "doctor"
    assert logic.party_role("p", "d", "x") is None


def due(**overrides) -> tuple[str, str] | None:
    args = {
        "kind": "text",
        "status": "active",
        "now": T0 + 1300,
        "created_at": T0 - 10,
        "metered_from": T0,
        "billed": 0,
        "interval_seconds": IV,
        "last_activity": T0 + 1200,
        "idle_seconds": 1800,
        "pending_timeout": 1800,
        "connect_timeout": 90,
    }
    return logic.session_due(**{**args, **overrides})


def test_reconcile_decisions() -> None:
    assert due() == ("bill", "bill intervals 1-2")
    assert due(billed=1) == ("bill", "bill interval 2")
    assert due(billed=2) is None
    assert due(last_activity=T0, now=T0 + 1800) == ("idle", "end for inactivity (no activity for 1800 s)")
    assert due(kind="voice", status="connected", last_activity=None, now=T0 + 5000, billed=8) is None
    assert due(status="pending", metered_from=None, now=T0 + 1790) == ("expire", "expire unanswered request")
    assert due(status="pending", metered_from=None, now=T0 + 1780) is None
    assert due(kind="video", status="connecting", metered_from=None, now=T0 + 80)[0] == "fail"
    assert due(kind="video", status="connecting", metered_from=None, now=T0 + 79) is None
    assert due(status="ended") is None


def test_a_notice_is_the_outbox_event_of_its_aggregate_with_recipients_and_message() -> None:
    """Given a CallFailed notice, its event is keyed by the session (the outbox's order), comes
    from the consult domain, and carries the detail plus recipients and message for the inbox."""
    notice = logic.session_notice("call_1", "CallFailed", ["pat-1"], "Your call failed.", kind="voice")
    assert notice.event() == (
        "session#call_1",
        "consult",
        "CallFailed",
        {"session_id": "call_1", "kind": "voice", "recipients": ["pat-1"], "message": "Your call failed."},
    )
    expired = logic.appointment_notice("apt_1", "AppointmentExpired", ["pat-1"], "Expired.", reason="r")
    assert expired.event()[0] == "appointment#apt_1" and expired.event()[3]["appointment_id"] == "apt_1"
