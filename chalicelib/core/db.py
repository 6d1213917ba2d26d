"""PynamoDB wiring: every model binds its table name and endpoint from the settings.

Models subclass ``MudaModel`` and name their table by its short name (``table = "timers"``);
``rebind()`` re-reads the settings (tests that move the endpoint or stage).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pynamodb.connection import Connection
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
    for model in _models:
        _bind(model)


def connection() -> Connection:
    settings = get_settings()
    host = endpoint_url()
    if host:
        return Connection(region=settings.region, host=host)
    return Connection(region=settings.region)


def transaction() -> TransactWrite:
    """A ``TransactWrite`` on the stage's endpoint: all its conditions hold or nothing is written."""
    return TransactWrite(connection=connection())
