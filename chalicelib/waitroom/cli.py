"""``muda`` commands of the waitroom domain (added to the main group by chalicelib.ops.cli)."""

from __future__ import annotations

import click

commands: list[click.Command] = []
