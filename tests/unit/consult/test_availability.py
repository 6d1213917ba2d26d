"""Working hours and slots without AWS: Nairobi (no DST), London on both change days, exceptions,
past slots, and where a booking time falls."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.consult import availability as av

NAIROBI, LONDON = av.zone("Africa/Nairobi"), av.zone("Europe/London")
HALF_HOUR = 1800.0
WEEKDAYS_9_TO_5 = av.parse_weekly({d: [("09:00", "17:00")] for d in ("mon", "tue", "wed", "thu", "fri")})


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def day_slots(weekly, tz, day: date, exceptions=None, now: float = 0.0, taken=()) -> list[str]:
    start, end = av.local_day_bounds(day, tz)
    intervals = av.working_intervals(weekly, exceptions or {}, tz, start, end)
    return [
        f"{datetime.fromtimestamp(at, UTC):%H:%M}"
        for at in av.offered(intervals, HALF_HOUR, start, end, now, taken)
    ]


def test_nairobi_hours_are_three_hours_ahead_of_utc_all_year() -> None:
    """Given 09:00-17:00 in Nairobi (UTC+3, no DST), a Monday in January and one in July both
    offer 16 slots from 06:00 to 13:30 UTC; a Saturday offers none."""
    for monday in (date(2026, 1, 5), date(2026, 7, 6)):
        slots = day_slots(WEEKDAYS_9_TO_5, NAIROBI, monday)
        assert (len(slots), slots[0], slots[-1]) == (16, "06:00", "13:30")
    assert day_slots(WEEKDAYS_9_TO_5, NAIROBI, date(2026, 1, 10)) == []


def test_london_slots_follow_the_clock_change_days() -> None:
    """Given 09:00-17:00 in London, the Friday before and the Monday after the spring change
    offer 09:00 (GMT) and 08:00 (BST) UTC; the October change moves them back."""
    assert day_slots(WEEKDAYS_9_TO_5, LONDON, date(2026, 3, 27))[0] == "09:00"
    assert day_slots(WEEKDAYS_9_TO_5, LONDON, date(2026, 3, 30))[0] == "08:00"
    assert day_slots(WEEKDAYS_9_TO_5, LONDON, date(2026, 10, 23))[0] == "08:00"
    assert day_slots(WEEKDAYS_9_TO_5, LONDON, date(2026, 10, 26))[0] == "09:00"


@pytest.mark.parametrize(
    ("day", "count", "first", "last"),
    [
        (date(2026, 3, 29), 6, "00:00", "02:30"),  # spring forward: 00:00-04:00 local is 3 real hours
        (date(2026, 10, 25), 10, "23:00", "03:30"),  # fall back: 5 real hours, 01:xx local twice
    ],
)
def test_london_change_days_are_measured_in_real_time(day: date, count: int, first: str, last: str) -> None:
    """Given Sunday hours 00:00-04:00 in London, on the change days themselves the slots are
    stepped in real time from local midnight to 04:00 local: one hour fewer or more."""
    weekly = av.parse_weekly({"sun": [("00:00", "04:00")]})
    slots = day_slots(weekly, LONDON, day)
    assert (len(slots), slots[0], slots[-1]) == (count, first, last)
    assert len(set(slots)) == count


def test_a_leave_day_is_empty_and_extra_hours_replace_the_weekday() -> None:
    """Given a leave exception on a Tuesday and extra hours on a Saturday, the Tuesday offers
    nothing and the Saturday offers exactly its extra hours; other days are as usual."""
    exceptions = {date(2026, 1, 6): (), date(2026, 1, 10): av.parse_hours([("10:00", "11:00")])}
    assert day_slots(WEEKDAYS_9_TO_5, NAIROBI, date(2026, 1, 6), exceptions) == []
    assert day_slots(WEEKDAYS_9_TO_5, NAIROBI, date(2026, 1, 10), exceptions) == ["07:00", "07:30"]
    assert len(day_slots(WEEKDAYS_9_TO_5, NAIROBI, date(2026, 1, 7), exceptions)) == 16


def test_past_and_taken_slots_are_never_offered() -> None:
    """Given now is 10:15 Nairobi time on a working day and the 11:00 slot is taken, the first
    slot offered is 10:30 (the one in progress is past) and 11:00 is missing."""
    now = utc(2026, 1, 5, 7, 15)
    slots = day_slots(WEEKDAYS_9_TO_5, NAIROBI, date(2026, 1, 5), now=now, taken=[utc(2026, 1, 5, 8, 0)])
    assert slots[0] == "07:30" and "08:00" not in slots and "07:00" not in slots


def test_placement_tells_a_slot_from_between_slots_and_outside_hours() -> None:
    start, end = av.local_day_bounds(date(2026, 1, 5), NAIROBI)
    intervals = av.working_intervals(WEEKDAYS_9_TO_5, {}, NAIROBI, start, end)
    assert av.placement(utc(2026, 1, 5, 6, 0), intervals, HALF_HOUR) == "slot"
    assert av.placement(utc(2026, 1, 5, 6, 15), intervals, HALF_HOUR) == "off_grid"
    assert av.placement(utc(2026, 1, 5, 13, 30), intervals, HALF_HOUR) == "slot"  # 16:30-17:00
    assert av.placement(utc(2026, 1, 5, 14, 0), intervals, HALF_HOUR) == "outside"  # 17:00: closed
    assert av.placement(utc(2026, 1, 5, 5, 30), intervals, HALF_HOUR) == "outside"


@pytest.mark.parametrize(
    "hours",
    [
        [("10:00", "09:00")],
        [("09:00", "12:00"), ("11:00", "13:00")],
        [("9:00", "10:00")],
        [("24:30", "25:00")],
    ],
)
def test_bad_hours_are_refused(hours) -> None:
    with pytest.raises(ValueError):
        av.parse_hours(hours)


def test_bad_zones_and_days_are_refused() -> None:
    for name in ("Mars/Olympus", "", "../etc/passwd", "/etc/localtime"):
        with pytest.raises(ValueError):
            av.zone(name)
    with pytest.raises(ValueError):
        av.parse_weekly({"funday": [("09:00", "10:00")]})
    assert av.parse_hours([("00:00", "24:00")]) == ((0, 1440),)
