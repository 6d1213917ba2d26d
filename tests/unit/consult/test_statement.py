"""Earnings grouped without AWS: local days, ISO weeks and months, per mode, and the CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from chalicelib.consult import availability, statement
from chalicelib.consult.statement import Award

NAIROBI = availability.zone("Africa/Nairobi")


def at(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


AWARDS = [
    Award(at(2026, 1, 4, 22, 0), "text", 1, 500),  # Mon 5 Jan 01:00 in Nairobi
    Award(at(2026, 1, 5, 10, 0), "voice", 1, 1000),
    Award(at(2026, 1, 11, 20, 59), "text", 1, 500),  # Sun 11 Jan 23:59 Nairobi: same ISO week
    Award(at(2026, 2, 1, 9, 0), "video", 1, 1500),
]


def test_days_are_local_days() -> None:
    """Given an award at 22:00 UTC on 4 Jan, it belongs to 5 Jan in Nairobi."""
    periods, total = statement.group_awards(AWARDS, NAIROBI, "day")
    assert [str(p.start) for p in periods] == ["2026-01-05", "2026-01-11", "2026-02-01"]
    first = periods[0]
    assert (first.total.intervals, first.total.amount) == (2, 1500)
    assert {m: f.amount for m, f in first.by_mode.items()} == {"text": 500, "voice": 1000}
    assert (total.total.intervals, total.total.credits, total.total.amount) == (4, 4, 3500)


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    weeks, _ = statement.group_awards(AWARDS, NAIROBI, "week")
    assert [(p.start, p.end, p.total.amount) for p in weeks] == [
        (date(2026, 1, 5), date(2026, 1, 12), 2000),
        (date(2026, 1, 26), date(2026, 2, 2), 1500),
    ]
    months, _ = statement.group_awards(AWARDS, NAIROBI, "month")
    assert [(p.start, p.end, p.total.amount) for p in months] == [
        (date(2026, 1, 1), date(2026, 2, 1), 2000),
        (date(2026, 2, 1), date(2026, 3, 1), 1500),
    ]
    assert statement.period_of(date(2026, 12, 15), "month") == (date(2026, 12, 1), date(2027, 1, 1))


def test_csv_rows_sum_to_the_total_row() -> None:
    """Given the statement as CSV, the period rows of each mode add up to that mode's total row,
    and the last row is the overall total."""
    periods, total = statement.group_awards(AWARDS, NAIROBI, "week")
    rows = list(csv.DictReader(io.StringIO(statement.to_csv("doc-1", "KES", periods, total))))
    body = [r for r in rows if r["period_start"] != "total"]
    totals = {r["mode"]: r for r in rows if r["period_start"] == "total"}
    for mode in ("text", "voice", "video"):
        assert sum(int(r["amount"]) for r in body if r["mode"] == mode) == int(totals[mode]["amount"])
    assert rows[-1]["mode"] == "all" and int(rows[-1]["amount"]) == 3500 and int(rows[-1]["intervals"]) == 4
    assert {r["currency"] for r in rows} == {"KES"} and {r["doctor_id"] for r in rows} == {"doc-1"}
