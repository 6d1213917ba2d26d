"""Notifications API: your inbox, newest first, and marking items read."""

from __future__ import annotations

from chalicelib.core import clock
from chalicelib.core.errors import NotFound
from chalicelib.core.http import Api, Call
from chalicelib.notifications import models
from chalicelib.notifications.schemas import InboxPage, NotificationOut, NotificationPage

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


@api.route("/me/notifications", query=InboxPage, response=NotificationPage)
def my_notifications(call: Call) -> NotificationPage:
    """Your notifications, newest first (``?limit=`` 1-100, ``?before=<id>`` pages, ``?unread=true``)."""
    args: InboxPage = call.args
    items, cursor = models.page(call.user.sub, args.limit, args.before, args.unread)
    return NotificationPage(notifications=[_out(i) for i in items], next=cursor)


@api.route("/me/notifications/{notification_id}/read", "POST", response=NotificationOut)
def mark_read(call: Call, notification_id: str) -> NotificationOut:
    """Mark one of your notifications read (again is fine)."""
    if models.mark_read(call.user.sub, notification_id) is None:
        raise NotFound(f"no notification {notification_id}")
    item = models.InboxItem.get(models.user_key(call.user.sub), notification_id, consistent_read=True)
    return _out(item)
