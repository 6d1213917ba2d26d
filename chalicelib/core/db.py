"""PynamoDB wiring: every model binds its table name and endpoint from the settings.

Models subclass ``MudaModel`` and name their table by its short name (``table = "timers"``);
``rebind()`` re-reads the settings (tests that move the endpoint or stage).
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.core.aws import endpoint_url
from chalicelib.core.config import get_settings

_models: list[type[MudaModel]] = []


class MudaModel(Model):
    """Base of every Muda table model."""

    table: ClassVar[str] = ""

    class Meta:
        table_name = "unbound"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.table:
            cls.Meta = type("Meta", (), {})  # own Meta: never share a table name with the base
            _models.append(cls)
            _bind(cls)


def _bind(model: type[MudaModel]) -> None:
    settings = get_settings()
    meta = model.Meta
    meta.table_name = settings.name(model.table)
    meta.region = settings.region
    meta.host = endpoint_url()
    meta.max_retry_attempts = 5
    meta.connect_timeout_seconds = 10
    meta.read_timeout_seconds = 30
    meta.max_pool_connections = 50
    meta.extra_headers = None
    meta.aws_access_key_id = meta.aws_secret_access_key = meta.aws_session_token = None
    if meta.host:
        meta.aws_access_key_id = "test"
        meta.aws_secret_access_key = "test"
    model._connection = None


def warm_up() -> None:
    """Build every model's client now. Lazily, a burst of threads on a cold process each builds
    its own (PynamoDB's client property is not guarded), seconds of CPU under the GIL."""
    for model in _models:
        model._get_connection().connection.client  # noqa: B018 - property builds the client


def rebind() -> None:
    global _connection
    for model in _models:
        _bind(model)
    _connection = None


_connection: Connection | None = None
_connection_lock = threading.Lock()


def connection() -> Connection:
    """One cached connection for transactions: building a botocore client costs ~0.1 s of CPU, far
    more than the transaction itself, so it is built once per process (under a lock, since
    PynamoDB's lazy client property is not guarded)."""
    global _connection
    with _connection_lock:
        if _connection is None:
            host = endpoint_url()
            built = Connection(
                region=get_settings().region,
                host=host,
                max_retry_attempts=5,
                max_pool_connections=50,
                # An emulator endpoint takes any key; the models are bound the same way.
                aws_access_key_id="test" if host else None,
                aws_secret_access_key="test" if host else None,
            )
            built.client  # noqa: B018 - the property builds the client
            _connection = built
        return _connection


CONDITION_FAILED = "ConditionalCheckFailedException"
REFUSED = "ConditionalCheckFailed"  # a transaction action's cancellation code


def condition_failed(error: Exception) -> bool:
    """A PynamoDB write refused by its condition: the expected outcome of a duplicate or a lost
    race (a no-op to acknowledge), as opposed to any other failure (to raise)."""
    return getattr(error, "cause_response_code", None) == CONDITION_FAILED


def cancellation_codes(error: TransactWriteError) -> list[str | None]:
    """Why each action of a cancelled transaction failed (``"ConditionalCheckFailed"`` or ``None``),
    in the order PynamoDB sent them (grouped by type: condition checks, deletes, puts, updates)."""
    return [r.code if r else None for r in (error.cancellation_reasons or [])]


def transaction() -> TransactWrite:
    """A ``TransactWrite`` on the stage's endpoint: all its conditions hold or nothing is written."""
    return TransactWrite(connection=connection())
