"""Bench helpers: a local emulator with the stack provisioned, AWS call counting, percentiles."""

from __future__ import annotations

import os
import statistics
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from infra.local.stack import LocalStack, free_port


@contextmanager
def emulator(env: dict[str, str], log_dir: Path) -> Iterator[LocalStack]:
    """moto_server on a free port, the template provisioned, this process pointed at it."""
    stack = LocalStack(free_port(), free_port(), env=env, log_dir=log_dir)
    try:
        stack.start_emulator()
        stack.apply_env()
        stack.provision()
        yield stack
    finally:
        stack.stop()


class CallCounter:
    """Counts AWS API calls by operation, through botocore's ``provide-client-params`` event."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._hooked: set[int] = set()

    def _count(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        """Label each call: ``emulation`` for what the local runtime does in AWS's place
        (Lambda's SQS polling, Scheduler's own bookkeeping), else the service, operation and table."""
        thread = threading.current_thread().name
        op = f"{model.service_model.service_name}:{model.name}"
        if thread.startswith("scheduler") or model.name in ("ReceiveMessage", "DeleteMessageBatch"):
            label = f"emulation {op}"
        else:
            table = params.get("TableName", "")
            label = f"{op}({table.rsplit('-', 1)[-1]})" if table else op
        with self._lock:
            self.calls[label] += 1

    def hook(self, botocore_client: Any) -> None:
        if id(botocore_client) not in self._hooked:
            self._hooked.add(id(botocore_client))
            botocore_client.meta.events.register("provide-client-params", self._count)

    def hook_all(self, services: list[str], models: list[Any]) -> None:
        from chalicelib.core.aws import client

        for service in services:
            self.hook(client(service))
        for model in models:
            self.hook(model._get_connection().connection.client)

    @contextmanager
    def window(self) -> Iterator[Counter[str]]:
        """The calls made inside the block."""
        before = Counter(self.calls)
        result: Counter[str] = Counter()
        yield result
        result.update(self.calls - before)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(values), "p99": pct(values, 99), "max": max(values)}


def setenv(env: dict[str, str]) -> None:
    os.environ.update(env)
