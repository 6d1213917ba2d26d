"""The one source of "now": an injectable UTC clock, so tests drive time instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], float] = time.time


def now() -> float:
    """Seconds since the epoch (UTC) as a float."""
    return _now()


def utcnow() -> datetime:
    return datetime.fromtimestamp(_now(), tz=UTC)


def to_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def time_key(epoch: float) -> str:
    """The one sortable text form of an instant (sort keys, cursors, ids): fixed width with
    microseconds, so text order is time order (until the year 2286)."""
    return f"{epoch:017.6f}"


def set_clock(fn: Callable[[], float] | None) -> None:
    """Replace the clock (tests); ``None`` restores the system clock."""
    global _now
    _now = fn or time.time


class FrozenClock:
    """A clock that only moves when told to (``advance``)."""

    def __init__(self, start: float | None = None) -> None:
        self.t = float(int(time.time())) if start is None else start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
