"""The inbox on moto: events from the bus become one item per recipient (once), read newest first."""

from __future__ import annotations

import json
import uuid

from chalicelib.core import events
from chalicelib.notifications.handlers import deliver
from tests.integration.consult.conftest import deliver_notifications


def envelope(recipients: list, occurred: str, message: str | None = "hello", **detail) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "source": "muda.test",
        "detail-type": "Tested",
        "time": occurred[:19] + "Z",
        "detail": {"occurred_at": occurred, "recipients": recipients, "message": message, **detail},
    }


def test_published_event_reaches_each_recipients_inbox_once(users) -> None:
    """Given an event addressed to two users, each finds it in their inbox; a redelivery of the
    same event adds nothing; a third user sees nothing."""
    a, b = users["patient"], users["doctor"]
    deliver_notifications()  # what earlier tests on this stage left on the queue
    events.publish(
        "test", "Tested", {"recipients": [a.sub, b.sub, a.sub], "message": "Your call failed", "x": 1}
    )
    assert deliver_notifications() == 2
    status, page = a("GET", "/me/notifications")
    assert status == 200
    (item,) = page["notifications"]
    assert (item["type"], item["source"], item["message"], item["read"]) == (
        "Tested",
        "muda.test",
        "Your call failed",
        False,
    )
    assert item["detail"] == {"x": 1, "occurred_at": item["detail"]["occurred_at"]}
    assert len(b("GET", "/me/notifications")[1]["notifications"]) == 1
    assert users["stranger"]("GET", "/me/notifications")[1]["notifications"] == []


def test_redelivery_and_events_without_recipients_store_nothing(users) -> None:
    e = envelope([users["patient"].sub], "2026-01-01T10:00:00.000001+00:00")
    assert deliver(e) == 1
    assert deliver(json.loads(json.dumps(e))) == 0
    assert (
        deliver({"id": "x", "source": "muda.ops", "detail-type": "ProbePublished", "detail": {"marker": 1}})
        == 0
    )
    assert deliver({**e, "id": "y", "detail": {"recipients": "not-a-list"}}) == 0


def test_newest_first_with_pages_unread_filter_and_mark_read(users) -> None:
    me = users["patient"]
    for n in range(5):
        deliver(envelope([me.sub], f"2026-01-01T10:00:0{n}.000000+00:00", message=f"m{n}"))
    status, first = me("GET", "/me/notifications?limit=2")
    assert [n["message"] for n in first["notifications"]] == ["m4", "m3"] and first["next"]
    second = me("GET", f"/me/notifications?limit=2&before={first['next']}")[1]
    assert [n["message"] for n in second["notifications"]] == ["m2", "m1"]
    target = first["notifications"][0]["id"]
    status, read = me("POST", f"/me/notifications/{target}/read")
    assert status == 200 and read["read"] is True
    assert me("POST", f"/me/notifications/{target}/read")[0] == 200  # again is fine
    unread = me("GET", "/me/notifications?unread=true&limit=10")[1]["notifications"]
    assert [n["message"] for n in unread] == ["m3", "m2", "m1", "m0"]
    assert users["stranger"]("POST", f"/me/notifications/{target}/read")[0] == 404
    assert me("GET", "/me/notifications?limit=0")[0] == 400
    assert me("GET", "/me/notifications?unread=maybe")[0] == 400


def test_inbox_needs_a_token(api) -> None:
    assert api.http.get("/me/notifications").status_code == 401
