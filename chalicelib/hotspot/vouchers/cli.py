"""``muda hotspot vouchers``: batches from the shell, for an operator without the console."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from chalicelib.core.errors import MudaError
from chalicelib.hotspot.vouchers import service

T = TypeVar("T")


@click.group("vouchers")
def vouchers() -> None:
    """Voucher batches: generate, list, export, print, revoke."""


def _run(fn: Callable[..., T], *args: Any) -> T:
    """The service's answer, or its refusal as a click error (exit 1, its code and message)."""
    try:
        return fn(*args)
    except MudaError as error:
        raise click.ClickException(f"{error.code}: {error.message}") from None


@vouchers.command("generate")
@click.option("--package", "package_id", required=True, help="The package the codes buy.")
@click.option("--router", "router_id", default=None, help="Its router (default: every router it is sold on).")
@click.option("--count", type=click.IntRange(1, 1000), required=True)
@click.option("--expires", type=click.DateTime(), required=True, help="Last instant a code is taken (UTC).")
@click.option("--label", default=None, help="e.g. the agent it goes to.")
def generate_cmd(
    package_id: str, router_id: str | None, count: int, expires: datetime, label: str | None
) -> None:
    """Generate a batch; prints its id."""
    batch = _run(service.generate, package_id, router_id, count, expires.replace(tzinfo=UTC), label)
    click.echo(batch.batch_id)


@vouchers.command("list")
@click.option("--limit", type=click.IntRange(1, 200), default=20)
def list_cmd(limit: int) -> None:
    """Batches, newest first, with their counts."""
    for item in service.batches(limit, None)[0]:
        out = service.view(item)
        counts = " ".join(f"{k}={v}" for k, v in out["counts"].items())
        name, until = out["package_name"], out["expires_at"]
        click.echo(f"{out['batch_id']}  {out['status']:<7}  {name}  until {until}  {counts}")


@vouchers.command("csv")
@click.argument("batch_id")
def csv_cmd(batch_id: str) -> None:
    """Every code of a batch as CSV, on stdout."""
    click.echo(_run(service.csv_text, batch_id), nl=False)


@vouchers.command("sheet")
@click.argument("batch_id")
def sheet_cmd(batch_id: str) -> None:
    """The printable sheet (HTML, A4), on stdout: ``… sheet vb_… > sheet.html``."""
    click.echo(_run(service.sheet, batch_id))


@vouchers.command("revoke")
@click.argument("batch_id")
def revoke_cmd(batch_id: str) -> None:
    """Refuse every code of a batch not used yet."""
    out = _run(service.revoke_batch, batch_id)
    click.echo(f"{out['batch_id']}  {out['status']}  revoked={out['counts']['revoked']}")
