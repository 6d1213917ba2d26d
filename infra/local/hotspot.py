"""Local stack hooks of the hotspot (registered in its Domain, chalicelib.core.registry); the
Daraja simulator and secret are the payments domain's (``infra/local/payments.py``).

- ``seed(stack)``: the demo router (the RouterOS simulator that ``infra/local/routers.py``
  starts) and three packages, written through the hotspot service (again on a restart: found,
  not duplicated); prints the portal URL.
"""

from __future__ import annotations

from typing import Any

DEMO_MAC = "AA:BB:CC:DD:EE:FF"
DEMO_ROUTER = "Demo Cafe WiFi"
DEMO_PACKAGES = [
    {"name": "1 hour", "price": 10, "validity_seconds": 3600, "rate_limit": "2M/2M", "shared_users": 1},
    {"name": "1 day", "price": 50, "validity_seconds": 86400, "rate_limit": "5M/5M", "shared_users": 2},
    {
        "name": "1 GB week",
        "price": 200,
        "validity_seconds": 7 * 86400,
        "limit_bytes_total": 1073741824,
        "rate_limit": "10M/10M",
        "shared_users": 1,
    },
]


def seed(stack: Any) -> list[str]:
    """The demo router and its packages, written through the hotspot service in this process (as
    the admin API would); a stack started again finds them and only points the router at the
    simulator's current address."""
    from chalicelib.hotspot import service

    env = stack.env
    lines = [
        "",
        f"Hotspot (docs/hotspot.md): the Daraja simulator on {env.get('MUDA_LOCAL_DARAJA_URL')} "
        "(0700000001 cancels, ...02 times out, ...03 wrong PIN, ...09 sends no callback)",
    ]
    if not env.get("MUDA_LOCAL_ROUTER_HOST"):
        return [*lines, "  no demo router: the RouterOS simulator is not running (MUDA_LOCAL_ROUTER_* unset)"]
    fields = {
        "name": DEMO_ROUTER,
        "host": env["MUDA_LOCAL_ROUTER_HOST"],
        "port": int(env["MUDA_LOCAL_ROUTER_PORT"]),
        "username": env["MUDA_LOCAL_ROUTER_USERNAME"],
        "login_url": f"{env['MUDA_LOCAL_DARAJA_URL']}/hotspot-login",
    }
    password = env["MUDA_LOCAL_ROUTER_PASSWORD"]
    found = next((r for r in service.routers() if r.name == DEMO_ROUTER), None)
    if found is None:
        router_id = service.add_router(fields, password).router_id
    else:
        router_id = found.router_id
        service.update_router(router_id, fields, password)
    sold = {p.name for p in service.packages(router_id)}
    for package in DEMO_PACKAGES:
        if package["name"] not in sold:
            service.add_package({**package, "router_ids": [router_id]})
    portal = f"{stack.api_url}/portal?router={router_id}&mac={DEMO_MAC}&ip=10.5.50.23"
    return [
        *lines,
        "  a demo router with packages 1 hour KES 10, 1 day KES 50, 1 GB week KES 200; its portal:",
        f"  export RID={router_id}",
        f'  export PORTAL="{portal}"',
        '  xdg-open "$PORTAL"   # or open it in a browser; the phone 0712 345 678 pays',
    ]
