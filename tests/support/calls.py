"""Counting AWS calls at botocore's one entry point, so every client counts (PynamoDB's too)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.client


@contextmanager
def counted() -> Iterator[Counter[str]]:
    """Every AWS call made inside the block, by ``service:Operation``."""
    calls: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def count(client: Any, operation: str, params: dict[str, Any]) -> Any:
        calls[f"{client.meta.service_model.service_name}:{operation}"] += 1
        return original(client, operation, params)

    botocore.client.BaseClient._make_api_call = count  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
