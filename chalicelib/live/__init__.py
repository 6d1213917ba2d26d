"""Live: the operations console (``/admin``) and its live event feed over a WebSocket API.

Every ``muda.*`` event reaches the ``live`` queue by a bus rule; the broadcaster posts it to
every admin connection through API Gateway's management API (``@connections``). Locally
``infra/local/websocket.py`` plays API Gateway's part for the same handlers.
"""

from chalicelib.core.registry import Domain, register

DOMAIN = register(
    Domain(
        "live",
        tables=("live",),
        queues=("live",),
        modules=("chalicelib.live.api", "chalicelib.live.handlers"),
        local=("infra.local.live",),
    )
)
