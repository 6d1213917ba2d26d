"""Local stack hooks of the RADIUS domain (registered in its Domain, chalicelib.core.registry).

- ``provision()``: the REST key FreeRADIUS calls Muda with, into Secrets Manager
  (``muda/<stage>/radius/rest``), generated on first run under ``.cache/local/`` with the demo
  router's RADIUS secret;
- ``start(stack)``: a second RouterOS simulator, the RADIUS-mode demo router, with its incoming
  RADIUS listener (Disconnect-Requests), and FreeRADIUS (``infra/radius/raddb``) when it is
  installed (``freeradius``/``radiusd``), both supervised; env for the seed and the tests
  (``MUDA_LOCAL_RADIUS_*``);
- ``seed(stack)``: the demo RADIUS-mode router and its packages; the banner shows how to log in
  with ``radclient``/``radtest``.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RADDB = ROOT / "infra" / "radius" / "raddb"
CONFIG_FILE = ROOT / ".cache" / "local" / "radius.json"
NAS_IDENTIFIER = "muda-radius-demo"
DEMO_ROUTER = "Demo RADIUS Hotspot"
DEMO_PACKAGES = [
    {"name": "1 hour", "price": 10, "validity_seconds": 3600, "rate_limit": "2M/2M", "shared_users": 1},
    {
        "name": "100 MB day",
        "price": 20,
        "validity_seconds": 86400,
        "limit_bytes_total": 100 * 1024 * 1024,
        "rate_limit": "5M/5M",
        "shared_users": 1,
    },
]
# make run's well-known ports (others get free ones): FreeRADIUS auth/acct, the router's API,
# control channel and incoming RADIUS (CoA/Disconnect).
AUTH_PORT, API_PORT, CONTROL_PORT, COA_PORT = 1812, 8738, 8781, 3799


def binary() -> str | None:
    """FreeRADIUS as Debian (``freeradius``) or upstream (``radiusd``) installs it."""
    return shutil.which("freeradius") or shutil.which("radiusd")


def config() -> dict[str, str]:
    """The REST key and the demo router's RADIUS secret and API password: generated once, kept
    out of the repository."""
    if not CONFIG_FILE.exists():
        CONFIG_FILE.parent.mkdir(parents=True, exist_ok=True)
        CONFIG_FILE.touch(mode=0o600)
        CONFIG_FILE.write_text(
            json.dumps(
                {
                    "key": secrets.token_hex(24),
                    "nas_secret": secrets.token_hex(12),
                    "router_password": secrets.token_hex(12),
                }
            )
        )
    return json.loads(CONFIG_FILE.read_text())


def provision() -> None:
    from chalicelib.core import secrets as stored
    from chalicelib.radius.settings import radius_settings

    stored.write(radius_settings().key_secret, {"key": config()["key"]})


def start(stack: Any) -> None:
    from infra.local.stack import accepts, wait_until

    conf = config()
    api, control, coa = stack.port(API_PORT), stack.port(CONTROL_PORT), stack.port(COA_PORT)
    stack._spawn(
        "routeros-radius",
        [
            sys.executable,
            "-m",
            "infra.local.routeros",
            "--port",
            str(api),
            "--control-port",
            str(control),
            "--radius-port",
            str(coa),
            f"--radius-secret={conf['nas_secret']}",
            f"--identity={NAS_IDENTIFIER}",
            "--username=muda-api",
            f"--password={conf['router_password']}",
        ],
    )

    def up() -> bool:
        stack.check_alive("routeros-radius")
        return accepts(api) and accepts(control)

    stack.env.update(
        {
            "MUDA_LOCAL_RADIUS_ROUTER_PORT": str(api),
            "MUDA_LOCAL_RADIUS_ROUTER_PASSWORD": conf["router_password"],
            "MUDA_LOCAL_RADIUS_ROUTER_CONTROL_URL": f"http://127.0.0.1:{control}",
            "MUDA_LOCAL_RADIUS_COA_PORT": str(coa),
            "MUDA_LOCAL_RADIUS_NAS_SECRET": conf["nas_secret"],
            "MUDA_LOCAL_RADIUS_NAS_IDENTIFIER": NAS_IDENTIFIER,
        }
    )
    freeradius = binary()
    if freeradius is None:
        wait_until(up, "RADIUS-mode router simulator", 30)
        return
    auth = stack.port(AUTH_PORT)
    acct = stack.port(AUTH_PORT + 1)
    run_dir = stack.log_dir / "radius"
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "radius.log"
    log.touch(mode=0o600)
    stack.env.update(
        {
            # what infra/radius/raddb reads
            "MUDA_RADIUS_API_URL": stack.api_url,
            "MUDA_RADIUS_KEY": conf["key"],
            "MUDA_RADIUS_NAS_SECRET": conf["nas_secret"],
            "MUDA_RADIUS_NAS_NETWORK": "127.0.0.0/8",
            "MUDA_RADIUS_LISTEN": "127.0.0.1",
            "MUDA_RADIUS_AUTH_PORT": str(auth),
            "MUDA_RADIUS_ACCT_PORT": str(acct),
            "MUDA_RADIUS_RUN_DIR": str(run_dir),
            "MUDA_RADIUS_REJECT_DELAY": stack.env.get("MUDA_RADIUS_REJECT_DELAY", "1"),
            # where the seed, the tests and the bench find it
            "MUDA_LOCAL_RADIUS_SERVER": f"127.0.0.1:{auth}",
            "MUDA_LOCAL_RADIUS_ACCT_SERVER": f"127.0.0.1:{acct}",
            "MUDA_LOCAL_RADIUS_LOG": str(log),
        }
    )
    mark = log.stat().st_size
    stack._spawn("freeradius", [freeradius, "-f", "-d", str(RADDB)])

    def ready() -> bool:
        stack.check_alive("freeradius")
        with log.open("rb") as text:
            text.seek(mark)
            return b"Ready to process requests" in text.read()

    # both start side by side
    wait_until(up, "RADIUS-mode router simulator", 30)
    wait_until(ready, "FreeRADIUS", 30)


def seed(stack: Any) -> list[str]:
    """The RADIUS-mode demo router and its packages, through the hotspot service (found again on a
    restart, and pointed at this run's simulator)."""
    from chalicelib.hotspot import service

    env = stack.env
    if not env.get("MUDA_LOCAL_RADIUS_ROUTER_PORT"):
        return []
    conf = config()
    fields = {
        "name": DEMO_ROUTER,
        "host": "127.0.0.1",
        "port": int(env["MUDA_LOCAL_RADIUS_ROUTER_PORT"]),
        "username": "muda-api",
        "login_url": f"{env.get('MUDA_LOCAL_DARAJA_URL', stack.api_url)}/hotspot-login",
        "mode": "radius",
        "nas_identifier": NAS_IDENTIFIER,
        "coa_port": int(env["MUDA_LOCAL_RADIUS_COA_PORT"]),
    }
    found = next((r for r in service.routers() if r.name == DEMO_ROUTER), None)
    if found is None:
        router_id = service.add_router(fields, conf["router_password"], conf["nas_secret"]).router_id
    else:
        router_id = found.router_id
        service.update_router(router_id, fields, conf["router_password"], conf["nas_secret"])
    sold = {p.name for p in service.packages(router_id)}
    for package in DEMO_PACKAGES:
        if package["name"] not in sold:
            service.add_package({**package, "router_ids": [router_id]})
    portal = f"{stack.api_url}/portal?router={router_id}&mac=AA:BB:CC:DD:EE:01&ip=10.5.50.24"
    lines = [
        "",
        f"RADIUS (docs/radius.md): a RADIUS-mode router, NAS-Identifier {NAS_IDENTIFIER}, its Disconnect "
        f"listener on udp 127.0.0.1:{env['MUDA_LOCAL_RADIUS_COA_PORT']}",
        f"  export RRID={router_id}",
        f'  export RPORTAL="{portal}"   # buy here; the status page shows the username and password',
        f"  export ROUTER_RADIUS_CONTROL={env['MUDA_LOCAL_RADIUS_ROUTER_CONTROL_URL']}",
    ]
    if not env.get("MUDA_LOCAL_RADIUS_SERVER"):
        return [
            *lines,
            "  FreeRADIUS is not installed (apt-get install freeradius freeradius-rest freeradius-utils)",
        ]
    server, acct, secret = (
        env["MUDA_LOCAL_RADIUS_SERVER"],
        env["MUDA_LOCAL_RADIUS_ACCT_SERVER"],
        conf["nas_secret"],
    )
    nas = f"NAS-Identifier={NAS_IDENTIFIER}"
    return [
        *lines,
        f"  FreeRADIUS on udp {server} (accounting {acct}); as the router:",
        f"  tail -f {env['MUDA_LOCAL_RADIUS_LOG']}",
        f"  export RSECRET={secret} U=m7XXXXXXXX P=<password>",
        f'  echo "User-Name=$U,User-Password=$P,{nas}" | radclient -x {server} auth $RSECRET',
        f'  echo "User-Name=$U,CHAP-Password=$P,{nas}" | radclient -x {server} auth $RSECRET',
        f"  radtest -t chap $U $P {server} 0 $RSECRET   # NAS-IP-Address only: for a router with nas_ip",
        f'  echo "Acct-Status-Type=Start,User-Name=$U,Acct-Session-Id=s1,{nas}" | radclient {acct} acct \\',
        "    $RSECRET",
    ]
