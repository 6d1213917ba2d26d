"""The live feed: event → console latency.

On the local stack's AWS endpoint with the event runtime and the local WebSocket gateway running
in this process (as bench/timers.py runs the runtime), one admin WebSocket client connected as
the console connects (``?token=``); events are put on the bus one at a time (``PutEvents``, as
the outbox drains) and each is timed from just before ``PutEvents`` to the moment its frame
reaches the client: the bus rule, the ``live`` queue, the runtime's poll, the broadcaster's
connection read and its ``@connections`` post, and the gateway's send. Median and p99 over
``--count`` events (100; ``--smoke``: 5), after one untimed warm-up event. A second connection
dies first without closing, so the warm-up broadcast also meets a gone connection (and removes it).

Run: ``make bench`` (or ``python -m bench.live --count 100``). Prints figures, asserts nothing.
On AWS the same path adds EventBridge's and SQS's delivery and Lambda's poll (typically tens of
ms each); the local runtime polls every 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import bench_run, emulator, figure, latency, parse_args, quiet, stack_options
from chalicelib.core.auth import dev_token
from chalicelib.core.aws import client
from chalicelib.core.config import get_settings
from infra.local.stack import accepts, free_port

ENV = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
SMOKE = {"count": 5}
WAIT_SECONDS = 30


def put(marker: str, n: int) -> None:
    settings = get_settings()
    detail = {"bench": marker, "n": n, "idempotency_key": f"{marker}-{n}"}
    entry = {
        "Source": "muda.bench",
        "DetailType": "LiveBenchEvent",
        "Detail": json.dumps(detail),
        "EventBusName": settings.event_bus,
    }
    response = client("events").put_events(Entries=[entry])
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"PutEvents refused: {response['Entries']}")


async def measure(url: str, count: int) -> list[float]:
    from websockets.asyncio.client import connect

    token = dev_token("bench-admin", ["admin"])
    marker = uuid.uuid4().hex[:8]
    # A connection that dies without a close frame: the first broadcast finds it gone.
    doomed = await connect(f"{url}/?token={token}")
    doomed.transport.abort()
    samples: list[float] = []
    async with connect(f"{url}/?token={token}") as ws:
        for n in range(-1, count):  # -1: a warm-up, untimed (the broadcaster's first client is built)
            started = time.perf_counter()
            await asyncio.to_thread(put, marker, n)
            deadline = started + WAIT_SECONDS
            while True:
                left = max(0.1, deadline - time.perf_counter())
                frame = json.loads(await asyncio.wait_for(ws.recv(), left))
                detail: dict[str, Any] = frame.get("event", {}).get("detail", {})
                if detail.get("bench") == marker and detail.get("n") == n:
                    if n >= 0:
                        samples.append(time.perf_counter() - started)
                    break
    return samples


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100, help="events timed, one at a time")
    args = parse_args(parser, argv, SMOKE)
    quiet()
    for name in ("websockets", "botocore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    port, management = free_port(), free_port()
    env = {**ENV, "MUDA_LIVE_MANAGEMENT_URL": f"http://127.0.0.1:{management}"}
    with (
        bench_run("live", args),
        tempfile.TemporaryDirectory(prefix="muda-bench-live-") as tmp,
        emulator(env, Path(tmp), **stack_options(args)),
        gateway(port, management),
    ):
        from app import app
        from infra.local.runtime import Runtime

        runtime = Runtime(app)
        runtime.start()
        try:
            samples = asyncio.run(measure(f"ws://127.0.0.1:{port}", args.count))
        finally:
            runtime.stop()
        latency("event → console (PutEvents to the WebSocket frame)", samples)
        figure("events delivered", f"{len(samples)} of {args.count}")


@contextmanager
def gateway(port: int, management: int) -> Iterator[None]:
    """The local WebSocket gateway (the app's handlers) on its own event loop in this process."""
    from infra.local import websocket

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete,
        args=(websocket.run("127.0.0.1", port, management, stop),),
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not accepts(port) or not accepts(management):
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the WebSocket gateway did not start")
        time.sleep(0.05)
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(5)


if __name__ == "__main__":
    main()
