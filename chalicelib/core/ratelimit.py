"""Fixed-window rate limits on DynamoDB: one counter item per key and window, counted with a
conditional ``ADD`` (refused once the window is full) and removed by the table's TTL.

A product keeps the counters in its own table, with a model of ``pk`` (the key), ``sk`` (the
window's start), ``count`` and ``expires_at`` (TTL); ``take`` is the one way to count.
"""

from __future__ import annotations

import math
from typing import Any

from chalicelib.core import db
from chalicelib.core.errors import TooManyRequests


def take(model: type[Any], key: str, limit: int, window: float, now: float) -> float | None:
    """Count one request for ``key`` in the current window: ``None`` if it fits, else the seconds
    until the window ends (the ``Retry-After``)."""
    start = int(now // window * window)
    item = model(f"RATE#{key}", str(start))
    actions = [model.count.add(1), model.expires_at.set(int(start + window + 3600))]
    condition = model.count.does_not_exist() | (model.count < limit)
    if db.update_if(item, actions, condition):
        return None
    return max(1.0, math.ceil(start + window - now))


def enforce(
    model: type[Any], checks: list[tuple[str, str, int]], window: float, now: float, doing: str
) -> None:
    """Count one request against each ``(what, key, limit)``; the first one full raises
    ``TooManyRequests`` ("too many <doing> from this <what>: try again in N s")."""
    for what, key, limit in checks:
        wait = take(model, key, limit, window, now)
        if wait is not None:
            raise TooManyRequests(f"too many {doing} from this {what}: try again in {int(wait)} s", wait)
