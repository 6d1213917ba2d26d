"""Timer lateness and AWS calls per timer, against a 1-second polling baseline in the same run.

Muda: each timer armed on SQS (delay) or EventBridge Scheduler, claimed on delivery.
Baseline: the old systems' design, a poller that queries for due timers every second and fires
them (here: the same table and claim, no messages), so the two differ only in how a timer wakes.

Run: ``make bench`` (or ``python -m bench.timers --count 500``; ``--smoke``: a few timers, both
paths, in seconds). Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import (
    CallCounter,
    bench_run,
    emulator,
    figure,
    latency,
    parse_args,
    quiet,
    ratio,
    stack_options,
)
from chalicelib.core import clock, timers
from chalicelib.ops import models
from chalicelib.ops.handlers import PROBE

ENV = {
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
# What a timer costs: the timer service, the probe handler's write, the emulation of Lambda and
# Scheduler. Other domains' schedules run in the same runtime; their calls are summed apart.
TIMER_OPS = ("(timers)", "(ops)", "sqs:", "scheduler:", "emulation ")
# Due 2-4 s with SQS delays capped at 3 s: both paths fire, each run waits 4 s.
SMOKE = {"count": 6, "spread": 4.0, "sqs_max_delay": 3}


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
    figure("timers by path", str(dict(Counter(paths.values()))))
    figure("handlers run more than once", str(reruns))
    for path in sorted(set(paths.values())):
        latency(f"lateness via {path}", [p.first_fired_at - p.due_at for p in fired if paths[p.sk] == path])
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


def is_timer_op(label: str) -> bool:
    return label.startswith(TIMER_OPS) or label.endswith(TIMER_OPS)


def main(argv: Sequence[str] | None = None) -> None:
    quiet()  # EMF lines would drown the figures
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--spread", type=float, default=30.0, help="due 2..SPREAD seconds after scheduling")
    parser.add_argument(
        "--sqs-max-delay", type=int, default=5, help="timers due later go via Scheduler (AWS: 900)"
    )
    args = parse_args(parser, argv, SMOKE)
    env = ENV | {"MUDA_TIMER_SQS_MAX_DELAY": str(args.sqs_max_delay)}

    with (
        bench_run("timers", args),
        emulator(env, Path(tempfile.mkdtemp(prefix="bench-timers-")), **stack_options(args)),
        CallCounter() as counter,
    ):
        print(
            f"timers: {args.count} due 2-{args.spread:.0f} s out, beyond {args.sqs_max_delay} s via "
            "Scheduler (both paths measured); local stack"
        )
        late, calls = muda(args.count, args.spread, counter)
        base_late, base_calls = baseline(args.count, args.spread, counter)

        svc_m = per_timer(calls, args.count, SERVICE_OPS)
        svc_b = per_timer(base_calls, args.count, SERVICE_OPS)
        print()
        print("muda calls per timer by operation ('emulation': done by Lambda/Scheduler on AWS, not by Muda;")
        print("'(ops)': the probe handler's own write):")
        for op, n in sorted(calls.items()):
            if is_timer_op(op):
                print(f"  {op:40}{n / args.count:>8.2f}")
        others = sum(n for op, n in calls.items() if not is_timer_op(op))
        print(f"  {'(other domains, same runtime)':40}{others / args.count:>8.2f}")
        print()
        m, b = latency("lateness muda", late), latency("lateness 1 s poll baseline", base_late)
        for key, name in (("p50", "median"), ("p99", "p99"), ("max", "max")):
            ratio(f"lateness {name} (ms)", m[key] * 1000, b[key] * 1000, ("muda", "1 s poll"))
        ratio("AWS calls per timer, timer service", svc_m, svc_b, ("muda", "1 s poll"))


if __name__ == "__main__":
    main()
