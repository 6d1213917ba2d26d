"""``muda routers ...``: router health from the operator's shell (the router side of the hotspot)."""

from __future__ import annotations

import click

commands: list[click.Command] = []
