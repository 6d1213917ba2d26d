"""Local stack hooks of the router side of the hotspot: the RouterOS simulator (infra.local.stack).

- ``provision()``: after the template is deployed (secrets, generated keys);
- ``start(stack)``: before the API starts (simulator processes, env for the API/runtime);
- ``seed(stack) -> list[str]``: demo data once everything runs; returns banner lines.

``start`` runs the RouterOS simulator (``infra.local.routeros``) as its own process: the demo
router on 127.0.0.1:8728 for ``make run``, a free port for other stacks (the e2e tier) or when
8728 is taken. The hotspot's seed hook registers it through the admin API from the env set here:
``MUDA_LOCAL_ROUTER_HOST/PORT/USERNAME/PASSWORD`` (password generated on first run under
``.cache/local/``) and ``MUDA_LOCAL_ROUTER_CONTROL_URL`` (the simulator's fault switches).
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PASSWORD_FILE = ROOT / ".cache" / "local" / "routeros-password"
USERNAME = "muda-api"
DEMO_PORT, DEMO_CONTROL_PORT = 8728, 8780


def router_password() -> str:
    """The simulated router's API password: generated once, kept out of the repository."""
    if not PASSWORD_FILE.exists():
        PASSWORD_FILE.parent.mkdir(parents=True, exist_ok=True)
        PASSWORD_FILE.touch(mode=0o600)
        PASSWORD_FILE.write_text(secrets.token_urlsafe(18))
    return PASSWORD_FILE.read_text().strip()


def start(stack: Any) -> None:
    from infra.local.stack import accepts, wait_until

    port = stack.port(DEMO_PORT)
    control = stack.port(DEMO_CONTROL_PORT)
    password = router_password()
    argv = [sys.executable, "-m", "infra.local.routeros", "--port", str(port), "--control-port", str(control)]
    # ``--password=…`` in one word: a generated password may begin with "-", which argparse would
    # read as an option (the simulator then exits 2 and the stack waits for nothing).
    stack._spawn("routeros", [*argv, f"--username={USERNAME}", f"--password={password}"])

    def up() -> bool:
        stack.check_alive("routeros")
        return accepts(port) and accepts(control)

    wait_until(up, "RouterOS simulator", 30)
    stack.env.update(
        {
            "MUDA_LOCAL_ROUTER_HOST": "127.0.0.1",
            "MUDA_LOCAL_ROUTER_PORT": str(port),
            "MUDA_LOCAL_ROUTER_USERNAME": USERNAME,
            "MUDA_LOCAL_ROUTER_PASSWORD": password,
            "MUDA_LOCAL_ROUTER_CONTROL_URL": f"http://127.0.0.1:{control}",
        }
    )


def seed(stack: Any) -> list[str]:
    env = stack.env
    return [
        "",
        f"Hotspot routers (docs/routers.md): the RouterOS simulator on {env['MUDA_LOCAL_ROUTER_HOST']}:"
        f"{env['MUDA_LOCAL_ROUTER_PORT']} (user {env['MUDA_LOCAL_ROUTER_USERNAME']})",
        f"  export ROUTER_CONTROL={env['MUDA_LOCAL_ROUTER_CONTROL_URL']}",
        "  curl -s $ROUTER_CONTROL/state | jq '.faults, .menus'     # what is on the router",
        "  curl -s -X POST $ROUTER_CONTROL/faults -d '{\"down\": true}'   # pull its plug",
    ]
