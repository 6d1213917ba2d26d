"""A doctor's earnings statement, without AWS: the ledger's awards grouped by local day, ISO week
(Monday first) or month in the doctor's zone, per mode, and as CSV.

Every award is one billed interval (one credit); its amount is what the wallet was credited in
the same transaction, so the statement of all time equals what the wallet ever received:
``balance + paid_out``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Group = Literal["day", "week", "month"]
MODES = ("text", "voice", "video")


@dataclass(frozen=True)
class Award:
    """One ledger award: when it was billed, its mode, credits and amount."""

    at: float
    kind: str
    credits: int
    amount: int


@dataclass
class Figures:
    intervals: int = 0
    credits: int = 0
    amount: int = 0

    def add(self, award: Award) -> None:
        self.intervals += 1
        self.credits += award.credits
        self.amount += award.amount


@dataclass
class Period:
    start: date
    end: date  # exclusive
    total: Figures = field(default_factory=Figures)
    by_mode: dict[str, Figures] = field(default_factory=dict)

    def add(self, award: Award) -> None:
        self.total.add(award)
        self.by_mode.setdefault(award.kind, Figures()).add(award)


def period_of(day: date, group: Group) -> tuple[date, date]:
    """The period containing local ``day``: ``[start, end)`` dates."""
    if group == "day":
        return day, day + timedelta(days=1)
    if group == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following


def group_awards(awards: Iterable[Award], tz: ZoneInfo, group: Group) -> tuple[list[Period], Period]:
    """Non-empty periods in time order, and the total over all of them."""
    periods: dict[date, Period] = {}
    total = Period(date.min, date.max)
    for award in awards:
        start, end = period_of(datetime.fromtimestamp(award.at, tz).date(), group)
        periods.setdefault(start, Period(start, end)).add(award)
        total.add(award)
    return [periods[start] for start in sorted(periods)], total


def to_csv(doctor_id: str, currency: str, periods: list[Period], total: Period) -> str:
    """One row per period and mode, then a total row per mode and overall (amounts in minor units)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["doctor_id", "period_start", "period_end", "mode", "intervals", "credits", "amount", "currency"]
    )
    for period in periods:
        for mode in MODES:
            if mode in period.by_mode:
                f = period.by_mode[mode]
                writer.writerow(
                    [doctor_id, period.start, period.end, mode, f.intervals, f.credits, f.amount, currency]
                )
    for mode in MODES:
        if mode in total.by_mode:
            f = total.by_mode[mode]
            writer.writerow([doctor_id, "total", "", mode, f.intervals, f.credits, f.amount, currency])
    t = total.total
    writer.writerow([doctor_id, "total", "", "all", t.intervals, t.credits, t.amount, currency])
    return out.getvalue()
