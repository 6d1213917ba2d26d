"""The router health check: status kept on the router record, an event only on a change."""

from __future__ import annotations

from functions.router_provisioner import handler
from infra.local.routeros import RouterSimulator
from tests.integration.routers.conftest import hotspot_item, register_router


def kinds(bus_events) -> list[str]:
    return [e["detail-type"] for e in bus_events() if e["source"] == "muda.hotspot"]


def test_health_check_emits_offline_and_online_once_per_change(registered: RouterSimulator, bus_events):
    """Given a registered router of unknown status
    When checks run while it is up, up, down, down, up
    Then its status follows (online, offline, online) with last_seen_at set, and exactly one
    RouterOffline and one RouterOnline are emitted (none for unknown -> online)."""
    assert handler.health_check({}, None) == {"routers": 1, "online": 1}
    handler.health_check({}, None)
    router = hotspot_item("ROUTER#rtr_test1", "ROUTER")
    assert router["status"] == "online" and router["last_seen_at"] > 0
    assert kinds(bus_events) == []

    registered.set_faults(down=True)
    assert handler.health_check({}, None)["online"] == 0
    handler.health_check({}, None)
    router = hotspot_item("ROUTER#rtr_test1", "ROUTER")
    assert router["status"] == "offline"
    assert "refused the connection" in router["status_error"]

    registered.set_faults(down=False)
    handler.health_check({}, None)
    assert hotspot_item("ROUTER#rtr_test1", "ROUTER")["status"] == "online"
    assert kinds(bus_events) == ["RouterOffline", "RouterOnline"]
    offline = next(e for e in bus_events() if e["detail-type"] == "RouterOffline")
    assert offline["detail"]["router_id"] == "rtr_test1" and offline["detail"]["name"] == "Demo router"


def test_health_check_reads_every_router_and_reports_a_refused_login(registered: RouterSimulator, bus_events):
    """Given two routers, the second of which refuses the API login
    When the check runs
    Then the first is online, the second offline with the login reason, and only it raised an event."""
    with RouterSimulator(username="muda", password="other") as second:
        register_router(second, "rtr_test2", "Second")
        second.set_faults(refuse_login=True)

        results = {h.router_id: h for h in handler.check_routers()}

    assert results["rtr_test1"].online and not results["rtr_test2"].online
    assert "login refused" in results["rtr_test2"].detail
    assert hotspot_item("ROUTER#rtr_test2", "ROUTER")["status"] == "offline"
    assert kinds(bus_events) == ["RouterOffline"]
