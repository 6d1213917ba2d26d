"""Waiting-room data: ``items`` (the items and their keys), one module per aggregate for its reads
and conditional writes (``events``, ``sessions``), and the admission round (``admission``)."""

from chalicelib.waitroom.models import admission, events, items, sessions
from chalicelib.waitroom.models.items import EventItem, JoinMarker, SessionItem

__all__ = ["EventItem", "JoinMarker", "SessionItem", "admission", "events", "items", "sessions"]
