"""Hotspot API routes."""

from __future__ import annotations

from chalicelib.core.http import Api

api = Api(__name__, tag="hotspot")
