"""``muda`` commands of the hotspot domain (added to the main group by chalicelib.ops.cli)."""

from __future__ import annotations

import click

from chalicelib.hotspot import service
from chalicelib.hotspot.vouchers.cli import vouchers


@click.group("hotspot")
def hotspot() -> None:
    """Hotspot payments and subscriptions."""


@hotspot.command("expire")
@click.option("--dry-run", is_flag=True, help="Only list what would be expired.")
@click.option("--verbose", is_flag=True, help="One line per subscription.")
def expire_cmd(dry_run: bool, verbose: bool) -> None:
    """Expire subscriptions past their end and resend lost deprovisions (reconcile from the data;
    safe to run any time, alongside the workers)."""
    done = service.reconcile_expiries(dry_run=dry_run)
    if verbose:
        for subscription_id, outcome in done:
            click.echo(f"{subscription_id}  {outcome}")
    expired = sum(1 for _, outcome in done if outcome == "expired")
    if dry_run:
        click.echo(f"due: {len(done)} (dry run, nothing changed)")
    else:
        click.echo(f"expired: {expired}, already handled: {len(done) - expired}")


hotspot.add_command(vouchers)

commands: list[click.Command] = [hotspot]
