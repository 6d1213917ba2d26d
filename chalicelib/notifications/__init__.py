"""Per-user notification inboxes fed from the bus (GET /me/notifications)."""
