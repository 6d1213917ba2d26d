"""Voucher routes: batches (admin), redemption (the portal)."""

from __future__ import annotations

from chalicelib.core.http import Api

api = Api(__name__, tag="hotspot")
