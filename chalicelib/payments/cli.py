"""``muda payments`` commands (added to the main group by chalicelib.ops.cli)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from chalicelib.payments.models import callbacks
from chalicelib.payments.service import c2b, c2b_urls, recovery


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


@payments.command("register-c2b")
@click.option(
    "--response-type",
    type=click.Choice(["Completed", "Cancelled"]),
    default="Cancelled",
    help="What Safaricom does when validation cannot be reached.",
)
def register_c2b_cmd(response_type: str) -> None:
    """Register the shortcode's C2B validation and confirmation URLs with Daraja (run at deploy)."""
    click.echo(c2b_urls.register(response_type))


@payments.command("held")
def held_cmd() -> None:
    """C2B payments held for the operator (reference or amount matched nothing), with the reason."""
    for p in c2b.held():
        reason = (p.context or {}).get("reason")
        click.echo(f"{p.checkout_request_id}  KES {int(p.amount)}  ref={p.offer_id}  {p.phone}  {reason}")


commands: list[click.Command] = [payments]
