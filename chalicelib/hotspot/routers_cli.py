"""``muda routers ...``: router health from the operator's shell (the router side of the hotspot).

The checks are the provisioner Lambda's own (``functions/router_provisioner``), imported from the
repository root; they record each router's status and emit RouterOffline/RouterOnline on a change,
exactly as the per-minute schedule does.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parents[2]


def _provisioner() -> Any:
    """The provisioner's handler module, pointed at the stage this CLI talks to.

    functions/ is not an installed package: it is importable from the repository root. Like on
    Lambda, the function takes its stage and endpoint from the environment; the CLI's own
    settings decide them (the local stage defaults to the emulator on :4566 with test keys)."""
    from chalicelib.core.aws import endpoint_url
    from chalicelib.core.config import get_settings

    settings = get_settings()
    os.environ.setdefault("MUDA_STAGE", settings.stage)
    os.environ.setdefault("AWS_DEFAULT_REGION", settings.region)
    endpoint = endpoint_url()
    if endpoint:
        os.environ.setdefault("AWS_ENDPOINT_URL", endpoint)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from functions.router_provisioner import handler

    logging.getLogger("botocore").setLevel(logging.WARNING)  # the handler logs at INFO; a shell wants less
    return handler


@click.group("routers")
def routers() -> None:
    """MikroTik routers of the hotspot."""


@routers.command("check")
def check() -> None:
    """Probe every router's API now; record and print its status (exit 1 if any is offline)."""
    results = _provisioner().check_routers()
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
