"""Class transitions on the local stack: how late each transition lands after its moment, and
how many AWS calls a transition costs, for many sessions starting within the same minute.

Sessions (half individual that nobody joins -> ABSENT, half group -> COMPLETED) start spread over
one minute, ``--lead`` seconds after the run begins, with durations scaled down (READY 30 s
before start, ABSENT 15 s after, 30-second classes with a 15 s buffer). Each session is created
in-process through the same service the API uses (one timer per moment), then the local event
runtime (in this process, as bench/timers.py runs it) fires them. Lateness is read back from
each session's status history (applied at - moment due).

Run: ``make bench`` or ``python -m bench.classes --count 1000``. Prints figures, asserts nothing.
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
from typing import Any

import botocore.client

from bench.common import emulator, summary

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


class Calls:
    """Every AWS call of this process by operation (table for DynamoDB), through botocore's one
    entry point, so clients built per transaction are counted too. ``emulation`` marks what the
    local runtime does in AWS's place (Lambda's SQS polling, Scheduler)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._original = botocore.client.BaseClient._make_api_call

    def __enter__(self) -> Calls:
        counter, original = self, self._original

        def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            if threading.current_thread() is threading.main_thread():
                label = f"bench {service}:{operation}"  # the bench polling for results
            elif threading.current_thread().name.startswith("scheduler") or operation in (
                "ReceiveMessage",
                "DeleteMessageBatch",
            ):
                label = f"emulation {service}:{operation}"
            else:
                table = params.get("TableName") or ""
                if operation == "TransactWriteItems":
                    table = "+".join(
                        sorted({next(iter(i.values()))["TableName"] for i in params["TransactItems"]})
                    )
                label = f"{service}:{operation}" + (f"({table.rsplit('-', 1)[-1]})" if table else "")
            with counter._lock:
                counter.counts[label] += 1
            return original(client, operation, params)

        botocore.client.BaseClient._make_api_call = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        botocore.client.BaseClient._make_api_call = self._original  # type: ignore[method-assign]


def create_all(count: int, lead: float, seed: int) -> list[str]:
    from chalicelib.classes import models, service

    academy = service.create_academy("bench", ACADEMY["preparation"], ACADEMY["buffer"], ACADEMY["tolerance"])
    rng = random.Random(seed)
    base = time.time() + lead
    plans = []
    for n in range(count):
        kind = "individual" if n % 2 == 0 else "group"
        plans.append((kind, [f"b{n}"], base + rng.uniform(0, 60)))

    def create(plan: tuple[str, list[str], float]) -> str:
        kind, students, start = plan
        # Credits put straight on the wallet: moto deep-copies a whole table for every transaction
        # (see docs/classes.md), and granting is not what is measured here.
        models.Wallet(
            f"STUDENT#{students[0]}", "CREDITS", student_id=students[0], credits=2, granted=2
        ).save()
        return service.create_session(
            academy, "bench-teacher", kind, students, "bench", start, DURATION_MINUTES, "bench"
        ).class_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(create, plans))


def wait_final(class_ids: list[str], timeout: float) -> list[Any]:
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
        time.sleep(5)
    else:
        print(f"  !! sessions still unsettled after {timeout:.0f} s")
    sessions = []
    for cid in class_ids:
        session = models.get_session(cid)
        if session is not None and session.settled:
            sessions.append(session)
    return sessions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--lead", type=float, default=300.0, help="first start this many seconds out")
    args = parser.parse_args()

    with emulator(ENV, Path(tempfile.mkdtemp(prefix="bench-classes-"))):
        from app import app
        from chalicelib.core.observability import logger, metrics
        from infra.local import classes as local_classes
        from infra.local.runtime import Runtime

        logger.setLevel("ERROR")  # a thousand "room deletion failed" (no LiveKit server here) would drown it
        metrics.add_metric = lambda **_: None  # type: ignore[method-assign]
        local_classes.provision()
        window = f"{args.lead:.0f}-{args.lead + 60:.0f} s out"
        print(
            f"classes: {args.count} sessions starting within one minute, {window}; local stack (moto_server)"
        )
        runtime = Runtime(app)
        try:
            with Calls() as calls:
                # Created before the runtime starts (the emulator is one process: its polling would
                # slow creation); the timers wait on their SQS delays meanwhile, as on AWS.
                t0, t0_wall = time.monotonic(), time.time()
                ids = create_all(args.count, args.lead, 1)
                created = time.monotonic() - t0
                creation_calls = Counter(calls.counts)
                runtime.start()
                sessions = wait_final(ids, args.lead + 60 + 60 + 300)
        finally:
            runtime.stop()

    each = created / max(1, len(ids)) * 1000
    print(f"  created {len(ids)} in {created:.1f} s ({each:.1f} ms each, 8 threads)")
    history = [(h.to_status, float(h.at) - float(h.due_at)) for s in sessions for h in s.history]
    by_status: dict[str, list[float]] = {}
    for status, late in history:
        by_status.setdefault(status, []).append(late)
    transitions = len(history)
    final = Counter(s.status for s in sessions)
    print(f"  final: {dict(final)}; transitions {transitions}")
    overall = summary([late for _, late in history])
    print(
        f"  lateness all        p50 {overall['p50'] * 1000:7.0f} ms  p99 {overall['p99'] * 1000:7.0f} ms  "
        f"max {overall['max'] * 1000:7.0f} ms"
    )
    for status in ("ready", "ongoing", "absent", "completed"):
        if status in by_status:
            s = summary(by_status[status])
            print(
                f"  lateness {status:11} p50 {s['p50'] * 1000:7.0f} ms  p99 {s['p99'] * 1000:7.0f} ms  "
                f"max {s['max'] * 1000:7.0f} ms"
            )
    run_calls = calls.counts - creation_calls
    ours = ("(classes)", "(timers)", "events:", "sqs:", "scheduler:", "secretsmanager:")
    mine = {
        k: v
        for k, v in run_calls.items()
        if not k.startswith(("emulation", "bench")) and (k.endswith(ours) or k.startswith(ours))
    }
    per_transition = sum(mine.values()) / max(1, transitions)
    per_create = sum(v for k, v in creation_calls.items() if not k.startswith(("emulation", "bench"))) / max(
        1, len(ids)
    )
    print(
        f"\n  AWS calls per transition (classes + timer service, excluding emulation): {per_transition:.2f}"
    )
    print(f"  AWS calls per session created (grant, session, its timers): {per_create:.2f}")
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
