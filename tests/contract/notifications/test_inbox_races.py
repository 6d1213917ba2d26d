"""Inbox writes on DynamoDB Local: a redelivered event, racing itself, stores one item per user."""

from __future__ import annotations

import pytest

from chalicelib.notifications import models
from chalicelib.notifications.handlers import deliver
from tests.support.races import race

pytestmark = [pytest.mark.contract, pytest.mark.usefixtures("tables")]


def test_twenty_concurrent_deliveries_of_one_event_store_one_item_per_recipient() -> None:
    """Given one event for two users delivered 20 times at once, each user has exactly one item."""
    envelope = {
        "id": "evt-race-1",
        "source": "muda.consult",
        "detail-type": "CallFailed",
        "time": "2026-11-25T10:00:00Z",
        "detail": {"recipients": ["n-user-1", "n-user-2"], "message": "Your call failed"},
    }
    stored = race(lambda: deliver(envelope), n=20, strict=True)

    assert sum(stored) == 2
    for user in ("n-user-1", "n-user-2"):
        items, _ = models.page(user, 10, None, unread_only=False)
        assert [i.event_id for i in items] == ["evt-race-1"]
