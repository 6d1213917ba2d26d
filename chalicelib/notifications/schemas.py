"""Response models of the notifications API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


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
