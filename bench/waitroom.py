"""Waiting room on the local stack (moto_server): joins/s, AWS calls per admitted user with 1k and
with 100k queued, and the time from a slot freeing to the next user admitted.

- joins: simulated users join through the service (``service.join``, what the API route calls)
  from 8 threads against moto_server;
- calls per admitted user: an event with cap 100 is filled, then ``--cycles`` times the oldest
  checkout completes (``service.complete``: verify the token, release the slot, admit the next
  inline); every AWS call of the bench process is counted by operation. The line behind is seeded
  *directly* (PynamoDB ``batch_write``: BatchWriteItem, 25 places a call, plus one UpdateItem of
  the ticket counter), because 100k joins through the emulator take too long; the places are the
  same items a join writes;
- slot freed → next admitted: inline (the completion's own attempt: from the release's commit to
  the next user's ``admitted_at``) and through the checkout-expiry timer on the event runtime
  (from ``checkout_expires_at`` to the next ``admitted_at``).

The bench's emulator is the local stack's (``infra/local/emulator.py``: atomic transactions
without moto's whole-table copy, one DynamoDB lock) plus one change with DynamoDB's semantics:
moto sorts the whole table on every Query, O(table size log table size) per call, so 100k places
could not be measured at all (``_patch_moto_queries``).

Run: ``make bench`` (or ``python -m bench.waitroom --large 100000``). Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import CallCounter, summary

ENV = {
    "MUDA_WAITROOM_ABANDON_AFTER_SECONDS": "86400",  # seeded places stay live however long seeding takes
    "MUDA_TIMER_SQS_MAX_DELAY": "900",
    "MUDA_LOCAL_SCHEDULE_SECONDS": "60",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
CAP = 100


# --- the bench's emulator ---------------------------------------------------------------------


def _patch_moto_queries() -> None:
    """A table Query in moto sorts *every item of the table* and then the partition, O(n log n) per
    call. For a plain forward Query with a Limit on a string sort key, hand it just the partition's
    ``limit + 1`` smallest matching items (what it would have returned, and one more so it still
    reports a LastEvaluatedKey)."""
    import heapq
    import threading

    from moto.dynamodb.models.table import Table

    local = threading.local()
    original_all_items, original_query = Table.all_items, Table.query

    def all_items(self: Any) -> list[Any]:
        preselected = getattr(local, "items", None)
        return preselected if preselected is not None else original_all_items(self)

    def query(
        self: Any, hash_key: Any, range_comparison: Any, range_objs: Any, limit: Any, *args: Any, **kw: Any
    ) -> Any:
        exclusive_start_key, forward = args[0], args[1]
        index_name = args[3] if len(args) > 3 else kw.get("index_name")
        partition = self.items.get(hash_key) if self.range_key_attr and not index_name else None
        # Limit is applied before any filter on DynamoDB too, so the preselection changes nothing.
        if (
            partition is not None
            and limit
            and forward
            and not exclusive_start_key
            and self.range_key_type == "S"
        ):
            matching = [
                item
                for item in partition.values()
                if not range_comparison or item.range_key.compare(range_comparison, range_objs)
            ]
            local.items = heapq.nsmallest(int(limit) + 1, matching, key=lambda item: item.range_key.value)
        try:
            return original_query(self, hash_key, range_comparison, range_objs, limit, *args, **kw)
        finally:
            local.items = None

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]


def emulator_main(argv: list[str]) -> None:
    _patch_moto_queries()
    sys.argv = ["moto_server", *argv]
    from infra.local import emulator

    emulator.main()


# --- measurements -----------------------------------------------------------------------------


def start_stack(log_dir: Path) -> Any:
    from infra.local.stack import LocalStack, _reachable, free_port, wait_until

    stack = LocalStack(free_port(), free_port(), env=ENV, log_dir=log_dir)
    port = str(stack.emulator_port)
    stack._spawn(
        "emulator", [sys.executable, "-m", "bench.waitroom", "--emulator", "-H", "127.0.0.1", "-p", port]
    )
    wait_until(lambda: _reachable(f"{stack.endpoint}/moto-api/"), "moto_server", 30)
    stack.apply_env()
    stack.provision()
    return stack


def new_event(event_id: str, **fields: Any) -> Any:
    from chalicelib.waitroom import service
    from chalicelib.waitroom.schemas import CreateEvent

    body = {"id": event_id, "name": event_id, "status": "active", "max_concurrent": CAP, **fields}
    return service.create_event(CreateEvent(**body))


def bench_joins(count: int, counter: CallCounter) -> None:
    from chalicelib.waitroom import service

    event = new_event(f"joins-{int(time.time())}", max_concurrent=10)
    with counter.window() as calls, ThreadPoolExecutor(8) as pool:
        started = time.perf_counter()
        list(pool.map(lambda n: service.join(event.event_id, f"j{n}"), range(count)))
        elapsed = time.perf_counter() - started
    print(
        f"joins: {count} in {elapsed:.1f} s = {count / elapsed:.0f} joins/s (8 threads), "
        f"{sum(calls.values()) / count:.2f} AWS calls/join"
    )


def seed_line(event_id: str, count: int) -> float:
    """``count`` queued places written straight to the table, as joins would write them."""
    from chalicelib.core import clock
    from chalicelib.waitroom import logic, models

    now = clock.now()
    started = time.perf_counter()
    with models.SessionItem.batch_write() as batch:
        for ticket in range(1, count + 1):
            batch.save(
                models.SessionItem(
                    models.queue_pk(event_id, "n"),
                    logic.ticket_key(ticket),
                    session_id=logic.session_id(event_id, "n", ticket),
                    event_id=event_id,
                    user_id=f"seed-{ticket}",
                    lane="n",
                    ticket=ticket,
                    status=logic.QUEUED,
                    joined_at=now,
                    last_seen=now,
                    expires_at=int(now + 86400),
                )
            )
    models.EventItem(*models.event_key(event_id)).update(actions=[models.EventItem.next_n.set(count)])
    return time.perf_counter() - started


def bench_queue_length(length: int, cycles: int, counter: CallCounter) -> tuple[Counter[str], list[float]]:
    """Calls per admitted user (each a completion that admits the next) with ``length`` queued."""
    from chalicelib.waitroom import logic, models, service

    event_id = f"line-{length}-{int(time.time())}"
    new_event(event_id)
    took = seed_line(event_id, length)
    print(f"  seeded {length} places in {took:.0f} s (BatchWriteItem)")
    service.admit(event_id)  # fill the 100 slots
    admitted = sorted(
        (
            s
            for s in models.SessionItem.query(
                models.queue_pk(event_id, "n"), models.SessionItem.sk <= logic.ticket_key(CAP)
            )
        ),
        key=lambda s: s.ticket,
    )
    assert sum(s.status == logic.ADMITTED for s in admitted) == CAP
    freed: list[float] = []
    original_release = models.release

    def timed_release(*args: Any, **kwargs: Any) -> bool:
        done = original_release(*args, **kwargs)
        freed.append(time.time())
        return done

    models.release = timed_release  # type: ignore[assignment]
    latencies = []
    try:
        with counter.window() as calls:
            for session in admitted[:cycles]:
                service.complete(session.session_id, session.token)
        for n in range(min(cycles, len(admitted))):
            nxt = models.get_session(event_id, "n", CAP + n + 1)
            latencies.append(float(nxt.admitted_at) - freed[n])
    finally:
        models.release = original_release  # type: ignore[assignment]
    event = models.get_event(event_id)
    assert event.admitted == CAP + cycles and event.processing == CAP, "every completion admitted one"
    return calls, latencies


def bench_expiry_path(users: int, stack: Any) -> list[float]:
    """Checkouts left to expire (3 s window) through the runtime's timers: due → next admitted."""
    from chalicelib.core.auth import Principal
    from chalicelib.waitroom import models, service

    event_id = f"expiry-{int(time.time())}"
    new_event(event_id, max_concurrent=5, checkout_minutes=0.05)
    stack.start_runtime()
    sessions = [service.join(event_id, f"x{n}")[0] for n in range(users)]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        views = [service.poll(s.session_id, Principal(s.user_id, frozenset())) for s in sessions[-5:]]
        if all(v.status in ("admitted", "expired") for v in views):
            break
        time.sleep(0.5)
    found = {int(s.ticket): models.get_session(event_id, "n", int(s.ticket)) for s in sessions}
    return [
        float(found[t + 5].admitted_at) - float(found[t].checkout_expires_at)
        for t in range(1, users - 4)
        if found[t + 5].admitted_at and found[t].checkout_expires_at
    ]


def per_user(calls: Counter[str], n: int) -> float:
    return sum(v for k, v in calls.items() if not k.startswith("emulation")) / n


def main() -> None:
    if "--emulator" in sys.argv:
        emulator_main([a for a in sys.argv[1:] if a != "--emulator"])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--joins", type=int, default=500)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--expiries", type=int, default=30)
    args = parser.parse_args()
    from bench.common import setenv

    setenv(ENV)
    stack = start_stack(Path(tempfile.mkdtemp(prefix="bench-waitroom-")))
    try:
        from chalicelib.core import timers
        from chalicelib.core.observability import logger, metrics
        from chalicelib.waitroom import models

        logger.setLevel("WARNING")
        metrics.add_metric = lambda **_: None  # type: ignore[method-assign]
        counter = CallCounter()
        counter.hook_all(
            ["sqs", "events", "secretsmanager", "scheduler"],
            [models.EventItem, models.SessionItem, models.JoinMarker, timers.TimerItem],
        )
        print("waitroom: local stack (moto_server, patched as above), 2 shared cores")
        bench_joins(args.joins, counter)
        results = {}
        for length in (args.small, args.large):
            print(f"queue of {length}:")
            calls, latencies = bench_queue_length(length, args.cycles, counter)
            results[length] = (calls, latencies)
            ms = {k: round(v * 1000, 1) for k, v in summary(latencies).items()}
            print(
                f"  {per_user(calls, args.cycles):.2f} AWS calls per admitted user "
                f"(completion + admission of the next); slot freed -> next admitted p50 {ms['p50']} ms, "
                f"p99 {ms['p99']} ms"
            )
        small, large = (per_user(results[n][0], args.cycles) for n in (args.small, args.large))
        print(f"ratio {args.large} / {args.small} queued: {large / small:.3f} (goal <= 1.1)")
        print("calls per admitted user by operation:")
        ops = sorted(set(results[args.small][0]) | set(results[args.large][0]))
        for op in ops:
            a, b = (results[n][0].get(op, 0) / args.cycles for n in (args.small, args.large))
            print(f"  {op:45}{a:>8.2f}{b:>8.2f}")
        expiry = bench_expiry_path(args.expiries, stack)
        if expiry:
            ms = {k: round(v * 1000) for k, v in summary(expiry).items()}
            print(
                f"expiry path ({len(expiry)} checkouts, timer on the runtime): window end -> next admitted "
                f"p50 {ms['p50']} ms, p99 {ms['p99']} ms, mean {statistics.mean(expiry) * 1000:.0f} ms"
            )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
