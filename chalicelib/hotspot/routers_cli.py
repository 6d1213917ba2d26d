"""``muda routers ...``: router health from the operator's shell (the router side of the hotspot).

The checks are the provisioner Lambda's own (``functions.router_provisioner``, a package of this
repository): they record each router's status and emit RouterOffline/RouterOnline on a change,
exactly as the per-minute schedule does. The CLI hands the function its settings for the stage
it talks to, instead of the environment Lambda gives it.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from typing import Any

import click


def _check_routers() -> list[Any]:
    """Every router probed now by the provisioner's own check, on this CLI's stage."""
    from chalicelib.core.aws import endpoint_url
    from chalicelib.core.config import get_settings
    from functions.router_provisioner import handler
    from functions.router_provisioner.config import Settings

    settings = get_settings()
    stage = dataclasses.replace(
        Settings.from_env(),
        stage=settings.stage,
        region=settings.region,
        endpoint_url=endpoint_url(),
        dynamodb_endpoint_url=endpoint_url("dynamodb"),
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)  # the handler logs at INFO; a shell wants less
    return handler.check_routers(stage)


@click.group("routers")
def routers() -> None:
    """MikroTik routers of the hotspot."""


@routers.command("check")
def check() -> None:
    """Probe every router's API now; record and print its status (exit 1 if any is offline)."""
    results = _check_routers()
    if not results:
        click.echo("no routers registered")
        return
    click.echo(f"{'router':<18} {'status':<8} {'took':>6}  {'where':<28} detail")
    for health in results:
        status = "online" if health.online else "offline"
        change = f" (was {health.changed_from})" if health.changed_from else ""
        took = f"{health.seconds:>5.2f}s"
        click.echo(f"{health.router_id:<18} {status:<8} {took}  {health.where:<28} {health.detail}{change}")
    if not all(h.online for h in results):
        sys.exit(1)


commands: list[click.Command] = [routers]
