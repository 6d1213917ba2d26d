"""Notifications API: your inbox, newest first, and marking items read."""

from __future__ import annotations

from chalicelib.core import clock
from chalicelib.core.errors import BadRequest, NotFound
from chalicelib.core.http import Api, Call
from chalicelib.notifications import models
from chalicelib.notifications.schemas import NotificationOut, NotificationPage

api = Api(__name__, tag="notifications")


def _out(item: models.InboxItem) -> NotificationOut:
    return NotificationOut(
        id=item.sk,
        type=item.event_type,
        source=item.source,
        message=item.message,
        detail=item.detail or {},
        occurred_at=clock.to_datetime(float(item.occurred_at)),
        read=bool(item.read),
    )


@api.route("/me/notifications", response=NotificationPage)
def my_notifications(call: Call) -> NotificationPage:
    """Your notifications, newest first (``?limit=`` 1-100, ``?before=<id>`` pages, ``?unread=true``)."""
    raw = call.query.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise BadRequest("limit must be a whole number from 1 to 100", code="invalid_limit")
    unread = call.query.get("unread", "false").lower()
    if unread not in ("true", "false"):
        raise BadRequest("unread must be true or false", code="invalid_unread")
    items, cursor = models.page(call.principal.sub, int(raw), call.query.get("before"), unread == "true")  # type: ignore[union-attr]
    return NotificationPage(notifications=[_out(i) for i in items], next=cursor)


@api.route("/me/notifications/{notification_id}/read", "POST", response=NotificationOut)
def mark_read(call: Call, notification_id: str) -> NotificationOut:
    """Mark one of your notifications read (again is fine)."""
    if models.mark_read(call.principal.sub, notification_id) is None:  # type: ignore[union-attr]
        raise NotFound(f"no notification {notification_id}")
    item = models.InboxItem.get(models.user_key(call.principal.sub), notification_id, consistent_read=True)  # type: ignore[union-attr]
    return _out(item)
