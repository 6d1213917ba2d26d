"""Per-user notification inboxes fed from the bus (GET /me/notifications)."""

from chalicelib.core.registry import Domain, register

DOMAIN = register(
    Domain(
        "notifications",
        tables=("notifications",),
        queues=("notifications",),
        modules=("chalicelib.notifications.api", "chalicelib.notifications.handlers"),
        cli=("chalicelib.notifications.cli",),
        local=("infra.local.notifications",),
    )
)
