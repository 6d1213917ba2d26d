"""Local stack hooks of the live feed (registered in its Domain, chalicelib.core.registry).

- ``start(stack)``: the local WebSocket gateway (``infra.local.websocket``) as a supervised
  process of its own, on 8010 (its ``@connections`` API on 8011) for ``make run``, free ports
  otherwise; the API and the runtime are told where it is: ``MUDA_LIVE_WEBSOCKET_URL`` (the
  console page connects there) and ``MUDA_LIVE_MANAGEMENT_URL`` (the broadcaster posts there).
- ``seed(stack)``: the console's address for the banner.
"""

from __future__ import annotations

import sys
from typing import Any

DEMO_PORT, DEMO_MANAGEMENT_PORT = 8010, 8011


def start(stack: Any) -> None:
    from infra.local.stack import accepts, wait_until

    port = stack.port(DEMO_PORT)
    management = stack.port(DEMO_MANAGEMENT_PORT)
    # Before the spawn: the gateway runs the $connect handler, which records this URL.
    stack.env.update(
        {
            "MUDA_LIVE_WEBSOCKET_URL": f"ws://127.0.0.1:{port}",
            "MUDA_LIVE_MANAGEMENT_URL": f"http://127.0.0.1:{management}",
        }
    )
    argv = [sys.executable, "-m", "infra.local.websocket", "--port", str(port)]
    stack._spawn("websocket", [*argv, "--management-port", str(management)])

    def up() -> bool:
        stack.check_alive("websocket")
        return accepts(port) and accepts(management)

    wait_until(up, "WebSocket gateway", 60)


def seed(stack: Any) -> list[str]:
    return [
        "",
        f"Operations console (docs/console.md): {stack.api_url}/admin  (paste $ADMIN to sign in;",
        f"  live feed over {stack.env['MUDA_LIVE_WEBSOCKET_URL']}, the local WebSocket gateway)",
    ]
