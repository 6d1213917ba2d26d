"""Class transitions on the local stack: how late each transition lands after its moment, and
how many AWS calls a transition costs, for many sessions starting within the same minute.

Sessions (half individual that nobody joins -> ABSENT, half group -> COMPLETED) start spread over
one minute, ``--lead`` seconds after the run begins, with durations scaled down (READY 30 s
before start, ABSENT 15 s after, 30-second classes with a 15 s buffer). Each session is created
in-process through the same service the API uses (one timer per moment), then the local event
runtime (in this process, as bench/timers.py runs it) fires them. Lateness is read back from
each session's status history (applied at - moment due).

Run: ``make bench`` or ``python -m bench.classes --count 1000``; ``--smoke``: 4 sessions within 2 s,
every duration scaled by 0.03. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import CallCounter, bench_run, emulator, figure, latency, parse_args, quiet, stack_options

ENV = {
    "MUDA_TIMER_SWEEP_GRACE_SECONDS": "30",
    "MUDA_LOCAL_SCHEDULE_SECONDS": "10",
    "MUDA_TIMER_LEASE_SECONDS": "60",
    "MUDA_CLASSES_RECONCILE_GRACE_SECONDS": "60",
    "MUDA_CLASSES_LIVEKIT_TIMEOUT_SECONDS": "0.2",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
ACADEMY = {"preparation": 0.5, "buffer": 0.25, "tolerance": 0.25}
DURATION_MINUTES = 0.5
SMOKE = {"count": 4, "lead": 9.0, "window": 2.0, "scale": 0.03}


def create_all(count: int, lead: float, window: float, scale: float, seed: int) -> list[str]:
    from chalicelib.classes import models, service

    academy = service.create_academy(
        "bench", *(ACADEMY[k] * scale for k in ("preparation", "buffer", "tolerance"))
    )
    rng = random.Random(seed)
    base = time.time() + lead
    plans = []
    for n in range(count):
        kind = "individual" if n % 2 == 0 else "group"
        plans.append((kind, [f"b{n}"], base + rng.uniform(0, window)))

    def create(plan: tuple[str, list[str], float]) -> str:
        kind, students, start = plan
        # Credits put straight on the wallet: moto deep-copies a whole table for every transaction
        # (see docs/classes.md), and granting is not what is measured here.
        models.Wallet(
            f"STUDENT#{students[0]}", "CREDITS", student_id=students[0], credits=2, granted=2
        ).save()
        return service.create_session(
            academy, "bench-teacher", kind, students, "bench", start, DURATION_MINUTES * scale, "bench"
        ).class_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(create, plans))


def wait_final(class_ids: list[str], timeout: float, poll: float) -> list[Any]:
    """Wait until no session is left unsettled (the open index, a few queries a round: reading
    every session each round would itself saturate the emulator), then read them all once."""
    from chalicelib.classes import models

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not any(True for _ in models.due_sessions(time.time() + 10**6)):
                break
        except Exception as error:  # an emulator under load times out now and then
            print(f"  (poll failed: {type(error).__name__})")
        time.sleep(poll)
    else:
        print(f"  !! sessions still unsettled after {timeout:.0f} s")
    sessions = []
    for cid in class_ids:
        session = models.get_session(cid)
        if session is not None and session.settled:
            sessions.append(session)
    return sessions


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--lead", type=float, default=300.0, help="first start this many seconds out")
    parser.add_argument("--window", type=float, default=60.0, help="starts spread over this many seconds")
    parser.add_argument("--scale", type=float, default=1.0, help="factor on every class duration")
    args = parse_args(parser, argv, SMOKE)

    with (
        bench_run("classes", args),
        emulator(ENV, Path(tempfile.mkdtemp(prefix="bench-classes-")), **stack_options(args)),
    ):
        from app import app
        from chalicelib.core.observability import logger
        from infra.local import classes as local_classes
        from infra.local.runtime import Runtime

        quiet()
        logger.setLevel("ERROR")  # a thousand "room deletion failed" (no LiveKit server here) would drown it
        local_classes.provision()
        window = f"{args.lead:.0f}-{args.lead + args.window:.0f} s out"
        print(
            f"classes: {args.count} sessions starting within {args.window:.0f} s, {window}, durations "
            f"x{args.scale}; local stack"
        )
        runtime = Runtime(app)
        try:
            with CallCounter(main_thread_is_bench=True) as counter:
                # Created before the runtime starts (the emulator is one process: its polling would
                # slow creation); the timers wait on their SQS delays meanwhile, as on AWS.
                t0, t0_wall = time.monotonic(), time.time()
                ids = create_all(args.count, args.lead, args.window, args.scale, 1)
                created = time.monotonic() - t0
                creation_calls = Counter(counter.calls)
                runtime.start()
                last = args.lead + args.window + (DURATION_MINUTES + ACADEMY["buffer"]) * 60 * args.scale
                sessions = wait_final(ids, last + 300, 1.0 if args.smoke else 5.0)
        finally:
            runtime.stop()
        report(ids, sessions, created, t0_wall, creation_calls, counter.calls - creation_calls)


def report(
    ids: list[str],
    sessions: list[Any],
    created: float,
    t0_wall: float,
    creation_calls: Counter[str],
    run_calls: Counter[str],
) -> None:
    each = created / max(1, len(ids)) * 1000
    print(f"  created {len(ids)} in {created:.1f} s ({each:.1f} ms each, 8 threads)")
    history = [(h.to_status, float(h.at) - float(h.due_at)) for s in sessions for h in s.history]
    by_status: dict[str, list[float]] = {}
    for status, late in history:
        by_status.setdefault(status, []).append(late)
    transitions = len(history)
    final = Counter(s.status for s in sessions)
    figure("final states", f"{dict(final)}; transitions {transitions}")
    latency("lateness, all transitions", [late for _, late in history])
    for status in ("ready", "ongoing", "absent", "completed"):
        if status in by_status:
            latency(f"lateness to {status}", by_status[status])
    ours = (
        "(classes)",
        "(classes+outbox)",
        "(outbox)",
        "(timers)",
        "events:",
        "sqs:",
        "scheduler:",
        "secretsmanager:",
    )
    mine = {
        k: v
        for k, v in run_calls.items()
        if not k.startswith(("emulation", "bench")) and (k.endswith(ours) or k.startswith(ours))
    }
    per_transition = sum(mine.values()) / max(1, transitions)
    per_create = sum(v for k, v in creation_calls.items() if not k.startswith(("emulation", "bench"))) / max(
        1, len(ids)
    )
    figure("AWS calls per transition (classes + timer service, excluding emulation)", f"{per_transition:.2f}")
    figure("AWS calls per session created (grant, session, its timers)", f"{per_create:.2f}")
    print("  by operation, per transition ('emulation': done by Lambda/Scheduler on AWS, not by Muda;")
    print("  'other': consumers of the events and other domains' schedules running in the same runtime):")
    for op, n in sorted(run_calls.items()):
        if op.startswith("bench"):
            continue
        tag = "" if op in mine or op.startswith("emulation") else "other "
        print(f"    {tag + op:50}{n / max(1, transitions):>8.2f}")
    if sessions:
        first_ready = min(float(s.history[0].due_at) for s in sessions)
        if first_ready < t0_wall + created:
            print("  !! creation outlasted the first READY moment: raise --lead (early ones caught up late)")


if __name__ == "__main__":
    main()
