"""Timer lateness and AWS calls per timer, against a 1-second polling baseline in the same run.

Muda: each timer armed on SQS (delay) or EventBridge Scheduler, claimed on delivery.
Baseline: the old systems' design, a poller that queries for due timers every second and fires
them (here: the same table and claim, no messages), so the two differ only in how a timer wakes.

Run: ``make bench`` (or ``python -m bench.timers --count 500``). Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import CallCounter, emulator, summary
from chalicelib.core import clock, timers
from chalicelib.ops import models
from chalicelib.ops.handlers import PROBE

ENV = {
    "MUDA_TIMER_SQS_MAX_DELAY": "5",  # beyond 5 s via Scheduler, so both paths are measured
    "MUDA_TIMER_SCHEDULER_LEAD_SECONDS": "2",
    "MUDA_TIMER_SWEEP_GRACE_SECONDS": "5",
    "MUDA_LOCAL_SCHEDULE_SECONDS": "5",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
SERVICE_OPS = (
    "dynamodb:PutItem(timers)",
    "dynamodb:UpdateItem(timers)",
    "dynamodb:Query(timers)",
    "sqs:",
    "scheduler:",
)


def wait_for(run: str, count: int, timeout: float) -> list[models.ProbeItem]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fired = models.probes(run)
        if len(fired) >= count:
            return fired
        time.sleep(0.5)
    raise TimeoutError(f"only {len(models.probes(run))}/{count} timers of {run} fired")


def schedule_all(run: str, count: int, spread: float, seed: int) -> None:
    rng = random.Random(seed)
    for n in range(count):
        timers.schedule(PROBE, models.probe_key(run, n), clock.now() + rng.uniform(2, spread))


def measure(
    prefix: str, count: int, spread: float, counter: CallCounter
) -> tuple[list[models.ProbeItem], Counter[str]]:
    """Schedule a run of probe timers and wait for all; the AWS calls made meanwhile."""
    run = f"{prefix}{int(time.time())}"
    with counter.window() as calls:
        schedule_all(run, count, spread, 1)
        fired = wait_for(run, count, spread + 120)
    return fired, calls


def muda(count: int, spread: float, counter: CallCounter) -> tuple[list[float], Counter[str]]:
    from app import app
    from infra.local.runtime import Runtime

    runtime = Runtime(app)
    runtime.start()
    try:
        fired, calls = measure("bm", count, spread, counter)
        paths = {p.sk: timers.get(PROBE, p.sk).via for p in fired}
    finally:
        runtime.stop()
    reruns = sum(p.executions > 1 for p in fired)
    print(f"  via: {dict(Counter(paths.values()))}; handlers run more than once: {reruns}")
    for path in sorted(set(paths.values())):
        ms = {
            k: round(v * 1000)
            for k, v in summary([p.first_fired_at - p.due_at for p in fired if paths[p.sk] == path]).items()
        }
        print(f"  {path:10} lateness p50 {ms['p50']} ms, p99 {ms['p99']} ms, max {ms['max']} ms")
    return [p.first_fired_at - p.due_at for p in fired], calls


def baseline(count: int, spread: float, counter: CallCounter) -> tuple[list[float], Counter[str]]:
    """Timers written without messages, fired by a poller that looks every second."""
    stop = threading.Event()

    def poll() -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:  # a fair pool of concurrent firings
            while not stop.wait(1.0):
                list(
                    pool.map(
                        lambda item: timers.fire(item.id, float(item.due_at)), list(timers.overdue(grace=0))
                    )
                )

    original = timers._arm
    timers._arm = lambda item, now: None  # type: ignore[assignment]
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        fired, calls = measure("bl", count, spread, counter)
    finally:
        stop.set()
        poller.join()
        timers._arm = original  # type: ignore[assignment]
    return [p.first_fired_at - p.due_at for p in fired], calls


def per_timer(calls: Counter[str], count: int, only: tuple[str, ...] | None = None) -> float:
    return sum(v for k, v in calls.items() if only is None or k.startswith(only)) / count


def main() -> None:
    from chalicelib.core.observability import logger, metrics

    logger.setLevel("WARNING")
    metrics.add_metric = lambda **_: None  # type: ignore[method-assign]  # EMF lines would drown the figures
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--spread", type=float, default=30.0, help="due 2..SPREAD seconds after scheduling")
    args = parser.parse_args()

    with emulator(ENV, Path(tempfile.mkdtemp(prefix="bench-timers-"))):
        counter = CallCounter()
        counter.hook_all(["sqs", "scheduler"], [timers.TimerItem, models.ProbeItem])
        print(f"timers: {args.count} due 2-{args.spread:.0f} s out, local stack (moto_server), 2 cores")
        late, calls = muda(args.count, args.spread, counter)
        base_late, base_calls = baseline(args.count, args.spread, counter)

    m, b = summary(late), summary(base_late)
    print()
    print(f"{'':28}{'muda':>10}{'1 s poll':>10}{'ratio':>8}")
    for key in ("p50", "p99", "max"):
        label = f"lateness {key} (ms)"
        print(f"{label:28}{m[key] * 1000:>10.0f}{b[key] * 1000:>10.0f}{m[key] / b[key]:>8.2f}")
    svc_m, svc_b = per_timer(calls, args.count, SERVICE_OPS), per_timer(base_calls, args.count, SERVICE_OPS)
    print(f"{'AWS calls/timer, timer svc':28}{svc_m:>10.2f}{svc_b:>10.2f}{svc_m / svc_b:>8.2f}")
    print()
    print("muda calls per timer by operation ('emulation': done by Lambda/Scheduler on AWS, not by Muda;")
    print("'(ops)': the probe handler's own write):")
    for op, n in sorted(calls.items()):
        print(f"  {op:40}{n / args.count:>8.2f}")


if __name__ == "__main__":
    main()
