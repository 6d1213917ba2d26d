"""Request and response models of the notifications API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from chalicelib.core.schemas import Page


class NotificationOut(BaseModel):
    id: str
    type: str
    source: str
    message: str | None
    detail: dict[str, Any]
    occurred_at: datetime
    read: bool


class NotificationPage(BaseModel):
    notifications: list[NotificationOut]
    next: str | None  # pass as ?before= for the next (older) page


class InboxPage(Page):
    limit: int = Field(default=20, ge=1, le=100, description="How many notifications, at most.")
    before: str | None = Field(default=None, max_length=128, description="Cursor: a page's ``next``.")
    unread: bool = Field(default=False, description="Only those not read yet.")
