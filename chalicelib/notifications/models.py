"""Inbox items: one per (event, recipient), written once, newest first per user.

``pk = USER#<sub>``, ``sk = <notification id>`` where the id is ``<occurred time key>-<event id>``
(``clock.time_key``): time-ordered (newest first is a reverse query) and derived from the event,
so a redelivered event writes nothing new.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.core import clock, db
from chalicelib.core.db import MudaModel

RETENTION_SECONDS = 90 * 24 * 3600


class InboxItem(MudaModel):
    table = "notifications"
    pk = UnicodeAttribute(hash_key=True)  # USER#<sub>
    sk = UnicodeAttribute(range_key=True)  # <occurred time key>-<event id>
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    source = UnicodeAttribute()
    message = UnicodeAttribute(null=True)
    detail = JSONAttribute(null=True)
    occurred_at = NumberAttribute()
    read = BooleanAttribute(default=False)
    read_at = NumberAttribute(null=True)
    expires_at = NumberAttribute()  # TTL: inboxes keep 90 days


def user_key(sub: str) -> str:
    return f"USER#{sub}"


def store(item: InboxItem) -> bool:
    """Write an inbox item once; ``False`` if this (event, user) is already there."""
    return db.put_if_absent(item)


def page(sub: str, limit: int, before: str | None, unread_only: bool) -> tuple[list[InboxItem], str | None]:
    """Newest first; ``before`` is the id the previous page ended at. Returns the next cursor."""
    condition = InboxItem.sk < before if before else None
    query = InboxItem.query(
        user_key(sub),
        condition,
        filter_condition=(InboxItem.read == False) if unread_only else None,  # noqa: E712
        scan_index_forward=False,
        page_size=limit,
    )
    items: list[InboxItem] = []
    for item in query:
        items.append(item)
        if len(items) == limit:
            break
    cursor = items[-1].sk if len(items) == limit else None
    return items, cursor


def mark_read(sub: str, notification_id: str) -> InboxItem | None:
    """Mark one item read (idempotent); ``None`` if the user has no such item."""
    item = InboxItem(user_key(sub), notification_id)
    actions = [InboxItem.read.set(True), InboxItem.read_at.set(InboxItem.read_at | clock.now())]
    return item if db.update_if(item, actions, InboxItem.sk.exists()) else None
