"""When a doctor works, without AWS: a weekly schedule in the doctor's own IANA zone, dated
exceptions, and the slots they give in UTC.

A weekly schedule maps weekdays (``mon`` … ``sun``) to working hours, each ``[start, end)`` in
minutes after local midnight (``"24:00"`` ends a day). An exception replaces one local date's
hours: none is leave, others are that day's (extra or different) hours.

Time-zone changes are handled by turning each working interval's wall-clock ends into instants
first and stepping slots in real time from the start: on a spring-forward day 00:00-04:00 local
is three hours of slots, on a fall-back day five. A wall time the change skips (01:30 on a
London spring-forward day) counts as the time before the change, i.e. an hour later in real
terms (``zoneinfo``'s ``fold=0``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
Hours = tuple[tuple[int, int], ...]  # [start, end) minutes after local midnight
Placement = Literal["slot", "off_grid", "outside"]
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``ValueError`` if unknown)."""
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Africa/Nairobi)") from None


def minutes(text: str) -> int:
    """``"HH:MM"`` → minutes after midnight (``"24:00"`` → 1440)."""
    match = _HHMM.match(text)
    value = int(match.group(1)) * 60 + int(match.group(2)) if match else -1
    if not 0 <= value <= DAY_MINUTES:
        raise ValueError(f"{text!r} is not a time of day HH:MM (00:00 to 24:00)")
    return value


def hhmm(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"


def parse_hours(pairs: Iterable[Sequence[str]]) -> Hours:
    """Validated hours of one day: each start before its end, sorted, none overlapping."""
    hours = sorted((minutes(start), minutes(end)) for start, end in pairs)
    for start, end in hours:
        if start >= end:
            raise ValueError(f"{hhmm(start)}-{hhmm(end)}: a working interval starts before it ends")
    for (_, end), (start, _) in pairwise(hours):
        if start < end:
            raise ValueError(f"working intervals overlap at {hhmm(start)}")
    return tuple(hours)


def parse_weekly(weekly: Mapping[str, Iterable[Sequence[str]]]) -> dict[str, Hours]:
    unknown = set(weekly) - set(DAYS)
    if unknown:
        raise ValueError(f"unknown weekday(s) {sorted(unknown)}; use {', '.join(DAYS)}")
    return {day: parse_hours(weekly.get(day, ())) for day in DAYS}


def as_text(hours: Hours) -> list[list[str]]:
    """Hours as stored and shown: ``[["09:00", "17:00"], …]``."""
    return [[hhmm(start), hhmm(end)] for start, end in hours]


def local_dates(start: float, end: float, tz: ZoneInfo) -> list[date]:
    """Every local date that overlaps ``[start, end)``, with a day's margin each side (an
    interval of the day before may run into the range after a zone change)."""
    first = datetime.fromtimestamp(start, tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(max(start, end), tz).date() + timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _instant(day: date, minute: int, tz: ZoneInfo) -> float:
    day, minute = (day + timedelta(days=1), 0) if minute == DAY_MINUTES else (day, minute)
    return datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=tz).timestamp()


def hours_on(day: date, weekly: Mapping[str, Hours], exceptions: Mapping[date, Hours]) -> Hours:
    """The hours worked on local ``day``: its exception's if it has one, else its weekday's."""
    if day in exceptions:
        return exceptions[day]
    return tuple(weekly.get(DAYS[day.weekday()], ()))


def working_intervals(
    weekly: Mapping[str, Hours], exceptions: Mapping[date, Hours], tz: ZoneInfo, start: float, end: float
) -> list[tuple[float, float]]:
    """The working intervals, as UTC instants, of every local date around ``[start, end)``."""
    found = []
    for day in local_dates(start, end, tz):
        for first, last in hours_on(day, weekly, exceptions):
            begin, finish = _instant(day, first, tz), _instant(day, last, tz)
            if finish > begin:
                found.append((begin, finish))
    return sorted(found)


def slot_starts(intervals: Iterable[tuple[float, float]], slot_seconds: float) -> list[float]:
    """Whole slots from each interval's start, stepped in real time."""
    starts: set[float] = set()
    for begin, finish in intervals:
        at = begin
        while at + slot_seconds <= finish:
            starts.add(at)
            at += slot_seconds
    return sorted(starts)


def offered(
    intervals: Iterable[tuple[float, float]],
    slot_seconds: float,
    start: float,
    end: float,
    now: float,
    taken: Iterable[float] = (),
) -> list[float]:
    """The slots a patient may book in ``[start, end)``: inside working hours, not taken, not
    begun (a slot starting now or earlier is past)."""
    busy = set(taken)
    return [
        at for at in slot_starts(intervals, slot_seconds) if start <= at < end and at > now and at not in busy
    ]


def placement(at: float, intervals: Sequence[tuple[float, float]], slot_seconds: float) -> Placement:
    """Where ``at`` falls: on a slot, inside working hours but between slots, or outside them."""
    if at in slot_starts(intervals, slot_seconds):
        return "slot"
    if any(begin <= at < finish for begin, finish in intervals):
        return "off_grid"
    return "outside"


def local_text(at: float, tz: ZoneInfo) -> str:
    """``at`` in the doctor's zone, for messages: ``2026-03-29 09:00 BST``."""
    return f"{datetime.fromtimestamp(at, tz):%Y-%m-%d %H:%M %Z}"


def utc_date_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def local_day_bounds(day: date, tz: ZoneInfo) -> tuple[float, float]:
    """``[local midnight, next local midnight)`` of ``day`` as instants."""
    return _instant(day, 0, tz), _instant(day, DAY_MINUTES, tz)
