"""Join rate limits: one counter item per IP or device and fixed window, counted with a
conditional ``ADD`` (the write is refused once the window is full), removed by DynamoDB TTL."""

from __future__ import annotations

import math

from chalicelib.core import db
from chalicelib.waitroom.models import items
from chalicelib.waitroom.models.items import RateWindow


def take(scope: str, key: str, limit: int, window: float, now: float) -> float | None:
    """Count one join for ``key`` in the current window: ``None`` if it fits, else the seconds
    until the window ends (the ``Retry-After``)."""
    start = int(now // window * window)
    item = RateWindow(*items.rate_key(scope, key, start))
    actions = [RateWindow.count.add(1), RateWindow.expires_at.set(int(start + window + 3600))]
    condition = RateWindow.count.does_not_exist() | (RateWindow.count < limit)
    if db.update_if(item, actions, condition):
        return None
    return max(1.0, math.ceil(start + window - now))
