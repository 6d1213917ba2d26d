"""Waiting room on the local stack: AWS calls per admitted user with 1k and
with 100k queued, and the time from a slot freeing to the next user admitted.

- joins/s and join latency at 1 and N counter shards: ``bench/waitroom_joins.py``;
- calls per admitted user: an event with cap 100 is filled, then ``--cycles`` times the oldest
  checkout completes (``service.complete``: verify the token, release the slot, admit the next
  inline); every AWS call of the bench process is counted by operation. The line behind is seeded
  *directly* (PynamoDB ``batch_write``: BatchWriteItem, 25 places a call, plus one UpdateItem of
  the ticket counter), because 100k joins through the emulator take too long; the places are the
  same items a join writes;
- slot freed → next admitted: inline (the completion's own attempt: from the release's commit to
  the next user's ``admitted_at``) and through the checkout-expiry timer on the event runtime
  (from ``checkout_expires_at`` to the next ``admitted_at``).

The tables are on the local stack's DynamoDB engine (DynamoDB Local unless the stack says
otherwise): moto's sorted every table on every Query, O(n log n) per call, which made 100k places
unmeasurable without a patch to the emulator.

Run: ``make bench`` (or ``python -m bench.waitroom --large 100000``; ``--smoke``: a cap of 5, lines
of 20 and 40). Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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

ENV = {
    "MUDA_WAITROOM_ABANDON_AFTER_SECONDS": "86400",  # seeded places stay live however long seeding takes
    "MUDA_TIMER_SQS_MAX_DELAY": "900",
    "MUDA_LOCAL_SCHEDULE_SECONDS": "60",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
SMOKE = {"cap": 5, "small": 20, "large": 40, "cycles": 5, "expiries": 8}


# --- measurements -----------------------------------------------------------------------------


def new_event(event_id: str, cap: int, **fields: Any) -> Any:
    from chalicelib.waitroom import service
    from chalicelib.waitroom.schemas import CreateEvent

    body = {"id": event_id, "name": event_id, "status": "active", "max_concurrent": cap, **fields}
    return service.create_event(CreateEvent(**body))


def seed_line(event_id: str, count: int) -> float:
    """``count`` queued places written straight to the table, as joins would write them."""
    from chalicelib.core import clock
    from chalicelib.waitroom import logic
    from chalicelib.waitroom.models import items

    now = clock.now()
    started = time.perf_counter()
    with items.SessionItem.batch_write() as batch:
        for ticket in range(1, count + 1):
            batch.save(
                items.place(
                    event_id,
                    "n",
                    ticket,
                    user_id=f"seed-{ticket}",
                    status=logic.QUEUED,
                    joined_at=now,
                    last_seen=now,
                    expires_at=int(now + 86400),
                )
            )
    items.shard(event_id, 0).update(actions=[items.ShardItem.next.set(count)])
    return time.perf_counter() - started


def bench_queue_length(
    length: int, cap: int, cycles: int, counter: CallCounter
) -> tuple[Counter[str], list[float]]:
    """Calls per admitted user (each a completion that admits the next) with ``length`` queued."""
    from chalicelib.waitroom import logic, service
    from chalicelib.waitroom.models import events, items, sessions

    event_id = f"line-{length}-{int(time.time())}"
    new_event(event_id, cap, shards=1)  # one counter: the seeded tickets are 1..length
    took = seed_line(event_id, length)
    print(f"  seeded {length} places in {took:.0f} s (BatchWriteItem)")
    service.admit(event_id)  # fill the slots
    admitted = sorted(
        (
            s
            for s in items.SessionItem.query(
                items.queue_pk(event_id, "n"), items.SessionItem.sk <= items.ticket_key(cap)
            )
        ),
        key=lambda s: s.ticket,
    )
    assert sum(s.status == logic.ADMITTED for s in admitted) == cap
    freed: list[float] = []
    original_release = sessions.release

    def timed_release(*args: Any, **kwargs: Any) -> bool:
        done = original_release(*args, **kwargs)
        freed.append(time.time())
        return done

    sessions.release = timed_release  # type: ignore[assignment]
    latencies = []
    try:
        with counter.window() as calls:
            for session in admitted[:cycles]:
                service.complete(session.session_id, session.token)
        for n in range(min(cycles, len(admitted))):
            nxt = sessions.get_session(event_id, "n", cap + n + 1)
            latencies.append(float(nxt.admitted_at) - freed[n])
    finally:
        sessions.release = original_release  # type: ignore[assignment]
    event = events.get_event(event_id)
    assert event.admitted == cap + cycles and event.processing == cap, "every completion admitted one"
    return calls, latencies


def bench_expiry_path(users: int) -> list[float]:
    """Checkouts left to expire (3 s window) through the event runtime's timers (in this process,
    as bench/timers.py runs it): due → next admitted."""
    from app import app
    from chalicelib.core.auth import Principal
    from chalicelib.waitroom import service
    from chalicelib.waitroom.models import sessions as places
    from infra.local.runtime import Runtime

    event_id = f"expiry-{int(time.time())}"
    new_event(event_id, 5, checkout_minutes=0.05, shards=1)
    runtime = Runtime(app)
    runtime.start()
    try:
        sessions = [service.join(event_id, f"x{n}")[0] for n in range(users)]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            views = [service.poll(s.session_id, Principal(s.user_id, frozenset())) for s in sessions[-5:]]
            if all(v.status in ("admitted", "expired") for v in views):
                break
            time.sleep(0.5)
    finally:
        runtime.stop()
    found = {int(s.ticket): places.get_session(event_id, "n", int(s.ticket)) for s in sessions}
    return [
        float(found[t + 5].admitted_at) - float(found[t].checkout_expires_at)
        for t in range(1, users - 4)
        if found[t + 5].admitted_at and found[t].checkout_expires_at
    ]


def per_user(calls: Counter[str], n: int) -> float:
    return sum(v for k, v in calls.items() if not k.startswith("emulation")) / n


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cap", type=int, default=100, help="concurrent checkouts of the measured events")
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--expiries", type=int, default=30)
    args = parse_args(parser, argv, SMOKE)
    logs = Path(tempfile.mkdtemp(prefix="bench-waitroom-"))
    with (
        bench_run("waitroom", args),
        emulator(ENV, logs, **stack_options(args)),
        CallCounter() as counter,
    ):
        quiet()
        print("waitroom: local stack")
        results = {}
        for length in (args.small, args.large):
            print(f"queue of {length}, {args.cap} slots:")
            calls, latencies = bench_queue_length(length, args.cap, args.cycles, counter)
            results[length] = (calls, latencies)
            figure(f"AWS calls per admitted user, {length} queued", f"{per_user(calls, args.cycles):.2f}")
            latency(f"slot freed -> next admitted inline, {length} queued", latencies)
        small, large = (per_user(results[n][0], args.cycles) for n in (args.small, args.large))
        ratio(
            f"AWS calls per admitted user, {args.large} vs {args.small} queued (goal <= 1.1)",
            large,
            small,
            (f"{args.large}", f"{args.small}"),
        )
        print("calls per admitted user by operation:")
        ops = sorted(set(results[args.small][0]) | set(results[args.large][0]))
        for op in ops:
            a, b = (results[n][0].get(op, 0) / args.cycles for n in (args.small, args.large))
            print(f"  {op:45}{a:>8.2f}{b:>8.2f}")
        expiry = bench_expiry_path(args.expiries)
        latency("slot freed -> next admitted via the expiry timer (window end -> admitted)", expiry)
        if expiry:
            print(f"  mean {statistics.mean(expiry) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
