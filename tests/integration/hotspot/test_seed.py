"""The local stack's hotspot demo, seeded through the service."""

from __future__ import annotations

from types import SimpleNamespace

from chalice.test import Client

from chalicelib.hotspot import service
from infra.local import hotspot as local_hotspot


def test_seeding_twice_leaves_one_demo_router_with_its_packages(api: Client) -> None:
    """Given a stack whose RouterOS simulator is up
    When the hotspot seed runs, and runs again after a restart moved the simulator's port
    Then there is one demo router, pointed at the new port, selling the three demo packages."""
    env = {
        "MUDA_LOCAL_DARAJA_URL": "http://127.0.0.1:18080",
        "MUDA_LOCAL_ROUTER_HOST": "127.0.0.1",
        "MUDA_LOCAL_ROUTER_PORT": "8728",
        "MUDA_LOCAL_ROUTER_USERNAME": "muda-api",
        "MUDA_LOCAL_ROUTER_PASSWORD": "pw-1",
    }
    stack = SimpleNamespace(env=env, api_url="http://127.0.0.1:8000")

    first = local_hotspot.seed(stack)
    env["MUDA_LOCAL_ROUTER_PORT"] = "8729"
    second = local_hotspot.seed(stack)

    demo = [r for r in service.routers() if r.name == local_hotspot.DEMO_ROUTER]
    assert len(demo) == 1 and int(demo[0].port) == 8729
    assert sorted(p.name for p in service.packages(demo[0].router_id)) == sorted(
        p["name"] for p in local_hotspot.DEMO_PACKAGES
    )
    assert any(demo[0].router_id in line for line in first) and first == second
