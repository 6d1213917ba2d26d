"""Local stack hooks of the hotspot (registered in its Domain, chalicelib.core.registry); the
Daraja simulator and secret are the payments domain's (``infra/local/payments.py``).

- ``seed(stack)``: the demo router (the RouterOS simulator that ``infra/local/routers.py``
  starts), three packages and a batch of vouchers for "1 hour", written through the hotspot
  service (again on a restart: found, not duplicated); prints the portal URL, a few unused codes
  with the batch's CSV and sheet, and how to pay "1 hour" by Paybill/Till from the simulator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
DEMO_VOUCHERS = {
    "label": "make run demo",
    "count": 5,
    "days": 365,
}  # of the first package, on the demo router
DEMO_PHONE = "254712345678"


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
    first = next(p for p in service.packages(router_id) if p.name == DEMO_PACKAGES[0]["name"])
    return [
        *lines,
        "  a demo router with packages 1 hour KES 10, 1 day KES 50, 1 GB week KES 200; its portal:",
        f"  export RID={router_id}",
        f'  export PORTAL="{portal}"',
        '  xdg-open "$PORTAL"   # or open it in a browser; the phone 0712 345 678 pays',
        *_vouchers(router_id, first),
        *_paybill(env, router_id, first),
    ]


def _vouchers(router_id: str, package: Any) -> list[str]:
    """The demo batch of "1 hour" vouchers (made once; again when used up, revoked or expired), and
    a few of its unused codes to type on the portal's "I have a voucher"."""
    from chalicelib.core import clock
    from chalicelib.hotspot.vouchers import logic, models
    from chalicelib.hotspot.vouchers import service as vouchers

    now = clock.now()

    def usable(item: Any) -> bool:
        return (
            item.label == DEMO_VOUCHERS["label"]
            and item.router_id == router_id
            and item.package_id == package.package_id
            and logic.batch_status(item.status, float(item.valid_until), now) == logic.ACTIVE
            and item.counts()["unused"] > 0
        )

    found = next((b for b in vouchers.batches(100, None)[0] if usable(b)), None)
    if found is None:
        until = datetime.fromtimestamp(now, UTC) + timedelta(days=DEMO_VOUCHERS["days"])
        found = vouchers.generate(
            package.package_id, router_id, DEMO_VOUCHERS["count"], until, DEMO_VOUCHERS["label"]
        )
    _, printed = models.batch_with_codes(found.batch_id)
    state = models.many(printed)
    unused = [c for c in printed if c in state and state[c].status in logic.REDEEMABLE][:3]
    return [
        f'  vouchers for 1 hour (tap "I have a voucher"): {", ".join(logic.grouped(c) for c in unused)};',
        "  the batch's codes as CSV and as a printable sheet (as admin):",
        f"  export BATCH={found.batch_id}",
        '  curl -s -H "Authorization: Bearer $ADMIN" $API/admin/vouchers/batches/$BATCH/codes.csv',
        '  curl -s -H "Authorization: Bearer $ADMIN" $API/admin/vouchers/batches/$BATCH/sheet > vouchers.html'
        " && xdg-open vouchers.html",
    ]


def _paybill(env: dict[str, str], router_id: str, package: Any) -> list[str]:
    """How to pay "1 hour" from the M-Pesa menu: the business number and account (Paybill) or the
    amount alone (Till), and the simulator's C2B simulate standing in for the buyer's phone."""
    from chalicelib.hotspot.service import paybill

    business = paybill.business()
    if business is None:
        return ["  Paybill/Till at the portal: off (MUDA_HOTSPOT_PAYBILL_KIND=off)"]
    number, price = business["business_number"], int(package.price)
    account = paybill.account_numbers(router_id, [package]).get(package.package_id)
    if business["kind"] == "paybill":
        how = f"Paybill: business number {number}, account {account}, KES {price}"
        ref = f', "BillRefNumber": "{account}"'
    else:
        how = f"Till (Buy Goods): till number {number}, KES {price} (the amount picks the package)"
        ref = ""
    daraja = env.get("MUDA_LOCAL_DARAJA_URL")
    keys = "$(jq -r '.consumer_key+\":\"+.consumer_secret' .cache/local/hotspot-daraja.json)"
    return [
        f'  1 hour by {how}; pay it as the phone 0712 345 678 would, then tap "I paid" on the portal',
        '  (the simulator\'s TransID is the receipt for "I already paid"):',
        f"  export DARAJA={daraja}",
        f'  export DARAJA_TOKEN=$(curl -s -u "{keys}" '
        '"$DARAJA/oauth/v1/generate?grant_type=client_credentials" | jq -r .access_token)',
        '  curl -s -X POST $DARAJA/mpesa/c2b/v1/simulate -H "Authorization: Bearer $DARAJA_TOKEN" '
        f"""-d '{{"ShortCode": "{number}", "Amount": {price}, "Msisdn": "{DEMO_PHONE}"{ref}}}' | jq""",
    ]
