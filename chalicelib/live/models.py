"""Admin connections to the live feed: one item per WebSocket connection.

``pk = <connection id>``; ``expires_at`` is the table's TTL (the token's expiry or API
Gateway's 2-hour limit, whichever is first), so a connection whose ``$disconnect`` never ran
goes by itself; the broadcaster drops one it finds gone or expired sooner.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.core import db
from chalicelib.core.db import MudaModel


class Connection(MudaModel):
    table = "live"
    pk = UnicodeAttribute(hash_key=True)  # the API Gateway connection id
    sub = UnicodeAttribute()  # the admin who connected
    endpoint = UnicodeAttribute()  # the @connections management API that reaches it
    connected_at = NumberAttribute()
    expires_at = NumberAttribute()  # TTL


def add(connection: Connection) -> None:
    connection.save()


def forget(connection_id: str) -> None:
    """Remove a connection (idempotent: a gone one may be forgotten twice)."""
    Connection(connection_id).delete()


def get(connection_id: str) -> Connection | None:
    return db.get_or_none(Connection, connection_id)


def every() -> list[Connection]:
    """Every recorded connection: admins are few, a scan reads them all in one page or two."""
    return list(Connection.scan())
