"""`muda routers check` from the operator's shell."""

from __future__ import annotations

from click.testing import CliRunner

from chalicelib.hotspot.routers_cli import routers
from infra.local.routeros import RouterSimulator
from tests.integration.routers.conftest import hotspot_item


def test_routers_check_prints_and_records_each_status(registered: RouterSimulator):
    """Given a registered router that is up
    When `muda routers check` runs, and again after the router went down
    Then it prints online (exit 0), then offline with the reason (exit 1), and records both."""
    runner = CliRunner()
    first = runner.invoke(routers, ["check"])
    assert first.exit_code == 0, first.output
    assert "rtr_test1" in first.output and "online" in first.output and "RouterOS 7." in first.output

    registered.set_faults(down=True)
    second = runner.invoke(routers, ["check"])
    assert second.exit_code == 1
    assert (
        "offline" in second.output
        and "refused the connection" in second.output
        and "(was online)" in second.output
    )
    assert hotspot_item("ROUTER#rtr_test1", "ROUTER")["status"] == "offline"


def test_routers_check_without_routers(provisioner: None):
    result = CliRunner().invoke(routers, ["check"])
    assert (result.exit_code, result.output.strip()) == (0, "no routers registered")
