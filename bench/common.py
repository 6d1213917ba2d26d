"""What every bench shares, in one place: its command line (with a ``--smoke`` size), the header
and footer that say when and under what machine load it ran, the ``figure`` lines it reports,
the emulator it runs on, and AWS call counting.

A figure means little without the load it was taken under (this project's machines are shared),
so every bench prints the date, the core count and ``os.getloadavg()`` at its start and end.
Figures are printed as ``figure <label>: ...`` lines, which ``tests/bench`` checks for (never their
values: timings belong here, not in tests).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.client

# --- command line, header, footer -----------------------------------------------------------------


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None, smoke: dict[str, Any]) -> Any:
    """``parser``'s arguments plus ``--smoke``: ``smoke``'s sizes become the defaults (flags given
    explicitly still win), small enough to finish in seconds while taking the same code path."""
    sizes = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in smoke.items())
    parser.add_argument("--smoke", action="store_true", help=f"tiny sizes that finish in seconds: {sizes}")
    parser.add_argument(
        "--dynamodb",
        choices=("local", "moto"),
        help="the local stack's DynamoDB engine (default: the stack's): run twice to compare",
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--smoke" in argv:
        parser.set_defaults(**smoke)
    return parser.parse_args(argv)


def stack_options(args: Any) -> dict[str, Any]:
    """``LocalStack`` options from the command line, only those given."""
    return {"dynamodb": args.dynamodb} if args.dynamodb else {}


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


@contextmanager
def bench_run(name: str, args: Any) -> Iterator[None]:
    """Frame a bench's output: date, cores and load (1, 5, 15 min) before; load and wall time after."""
    started = time.monotonic()
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    size = "smoke size" if args.smoke else "full size"
    engine = f", DynamoDB: {args.dynamodb}" if args.dynamodb else ""
    print(
        f"bench {name}: {now}, {os.cpu_count()} cores, load {_load()} (1/5/15 min), {size}{engine}",
        flush=True,
    )
    yield
    took = time.monotonic() - started
    print(f"bench {name} done in {took:.0f} s: load at end {_load()} (1/5/15 min)", flush=True)


# --- figures ----------------------------------------------------------------------------------------


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median (``p50``), p99 and max; zeros for no values, so a starved run still reports."""
    if not values:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    return {"p50": statistics.median(values), "p99": pct(values, 99), "max": max(values)}


def figure(label: str, text: str) -> None:
    print(f"figure {label}: {text}", flush=True)


def latency(label: str, seconds: Sequence[float]) -> dict[str, float]:
    """One ``figure`` line: median, p99 and max in ms of durations given in seconds."""
    s = summary(seconds)
    if not seconds:
        figure(label, "no samples")
    else:
        figure(
            label,
            f"median {s['p50'] * 1000:.0f} ms, p99 {s['p99'] * 1000:.0f} ms, "
            f"max {s['max'] * 1000:.0f} ms (n {len(seconds)})",
        )
    return s


def ratio(label: str, ours: float, baseline: float, names: tuple[str, str] = ("muda", "baseline")) -> None:
    """A figure against the baseline measured in the same run."""
    quotient = f"{ours / baseline:.2f}" if baseline else "n/a"
    figure(label, f"{names[0]} {ours:.2f}, {names[1]} {baseline:.2f}, ratio {quotient}")


# --- the emulator -----------------------------------------------------------------------------------


@contextmanager
def emulator(env: dict[str, str], log_dir: Path, **stack: Any) -> Iterator[Any]:
    """The local stack's AWS endpoint(s) with the template provisioned, this process pointed at
    them; no API, no runtime (a bench runs the runtime in-process when it measures it).

    The one place the benches touch ``infra.local.stack`` beyond ``LocalStack`` as a context
    manager (hotspot's full stack). ``stack``: ``LocalStack`` options a bench passes through from
    its command line (e.g. ``dynamodb``), only when given."""
    from infra.local.stack import LocalStack, free_port

    os.environ.update(env)  # the bench's settings (log levels, metrics off) hold in-process too
    local = LocalStack(free_port(), free_port(), env=env, log_dir=log_dir, **stack)
    try:
        local.start_emulator()
        local.apply_env()
        local.provision()
        yield local
    finally:
        local.stop()


def quiet() -> None:
    """Keep the figures readable: no INFO logs, no EMF metric lines on stdout."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", "No application metrics to publish")

    from chalicelib.core.observability import logger, metrics

    logging.getLogger().setLevel(logging.WARNING)
    logger.setLevel("WARNING")
    metrics.add_metric = lambda **_: None  # type: ignore[method-assign]
    from functions.router_provisioner import handler  # its own EMF lines, from the runtime's health check

    handler._metrics = lambda *_, **__: None  # type: ignore[assignment]


# --- AWS calls ----------------------------------------------------------------------------------


class CallCounter:
    """Every AWS call this process makes, by operation (and table for DynamoDB), counted at
    botocore's one entry point so no client escapes, whoever built it (a refactor that adds a
    client or a connection cannot silently drop calls from a figure).

    Labels: ``emulation <service>:<op>`` for what the local runtime does in AWS's place (Lambda's
    SQS polling, Scheduler's bookkeeping); ``bench <service>:<op>`` for the bench's own calls when
    ``main_thread_is_bench`` (it only polls for results); else ``<service>:<op>(<table>)``, a
    transaction labelled with the tables it writes. Use as a context manager; windows inside."""

    def __init__(self, main_thread_is_bench: bool = False) -> None:
        self.calls: Counter[str] = Counter()
        self.main_thread_is_bench = main_thread_is_bench
        self._lock = threading.Lock()
        self._original = botocore.client.BaseClient._make_api_call

    def label(self, service: str, operation: str, params: dict[str, Any]) -> str:
        thread = threading.current_thread()
        op = f"{service}:{operation}"
        if self.main_thread_is_bench and thread is threading.main_thread():
            return f"bench {op}"
        if thread.name.startswith("scheduler") or operation in ("ReceiveMessage", "DeleteMessageBatch"):
            return f"emulation {op}"
        tables = {params.get("TableName") or ""}
        if operation.startswith("Transact"):
            tables = {next(iter(i.values())).get("TableName", "") for i in params.get("TransactItems", [])}
        elif operation.startswith("Batch"):
            tables = set(params.get("RequestItems", {}))
        short = "+".join(sorted(t.rsplit("-", 1)[-1] for t in tables if t))
        return f"{op}({short})" if short else op

    def __enter__(self) -> CallCounter:
        counter, original = self, self._original

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            label = counter.label(client.meta.service_model.service_name, operation, params)
            with counter._lock:
                counter.calls[label] += 1
            return original(client, operation, params)

        botocore.client.BaseClient._make_api_call = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        botocore.client.BaseClient._make_api_call = self._original  # type: ignore[method-assign]

    @contextmanager
    def window(self) -> Iterator[Counter[str]]:
        """The calls made inside the block."""
        with self._lock:
            before = Counter(self.calls)
        result: Counter[str] = Counter()
        yield result
        with self._lock:
            result.update(self.calls - before)
