"""``muda payments`` commands (added to the main group by chalicelib.ops.cli)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from chalicelib.payments.models import callbacks
from chalicelib.payments.service import recovery


@click.group("payments")
def payments() -> None:
    """M-Pesa payments of every product."""


@payments.command("query-pending")
def query_pending_cmd() -> None:
    """Run one round of the STK query of pushes with no result now (safe beside the workers)."""
    done = recovery.run()
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(done.items())) or "nothing due")


@payments.command("rejected")
@click.option("--day", default=None, help="UTC day YYYY-MM-DD (default today).")
def rejected_cmd(day: str | None) -> None:
    """Refused M-Pesa callbacks of a day (forged, malformed, unknown), newest first."""
    day = day or datetime.now(UTC).strftime("%Y-%m-%d")
    for item in callbacks.rejected(day):
        click.echo(f"{item.sk}  {item.endpoint or 'stk'}  {item.reason}  {item.checkout_request_id or '-'}")


commands: list[click.Command] = [payments]
