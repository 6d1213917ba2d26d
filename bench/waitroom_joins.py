"""Waiting room joins on the local stack: joins/s and join latency with one ticket counter and
with N counter shards, in one run, and the figure for AWS on paper.

Simulated users join one event through the service (``service.join``, what the page's join
route calls) from ``--threads`` threads; each join is timed from its call to its return. Per
run: joins/s, median/p99/max latency, AWS calls per join (counter races re-read and retry),
distinct places, and the fairness actually seen (how far any join that started after another
returned was placed ahead of it) against the stated window (shards x slack places).

The tables are on the local stack's DynamoDB engine (DynamoDB Local unless ``--dynamodb moto``).

Run: ``make bench`` (or ``python -m bench.waitroom_joins --joins 3000 --shards 8``; ``--smoke``:
40 joins from 4 threads). Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import CallCounter, bench_run, emulator, figure, latency, parse_args, quiet, stack_options

ENV = {
    "MUDA_TIMER_SQS_MAX_DELAY": "900",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
SMOKE = {"joins": 40, "threads": 4}
# DynamoDB's documented per-partition ceilings (a partition key's items live on one partition).
WCU_PER_PARTITION, RCU_PER_PARTITION = 1000, 3000


def run_joins(shards: int, joins: int, threads: int, counter: CallCounter) -> None:
    from chalicelib.waitroom import logic, service
    from chalicelib.waitroom.schemas import CreateEvent

    event_id = f"joins-{shards}-{int(time.time() * 1000)}"
    service.create_event(
        CreateEvent(id=event_id, name=event_id, status="active", max_concurrent=1, shards=shards)
    )
    service.join(event_id, "warm-up")  # clients built, the event's shard count known

    def join(n: int) -> tuple[float, float, int]:
        started = time.perf_counter()
        session, _ = service.join(event_id, f"fan-{n}")
        return started, time.perf_counter(), int(session.ticket)

    with counter.window() as calls, ThreadPoolExecutor(threads) as pool:
        began = time.perf_counter()
        done = list(pool.map(join, range(joins)))
        took = time.perf_counter() - began
    label = f"{shards} shard{'s' if shards > 1 else ''}"
    per_join = sum(calls.values()) / joins
    figure(f"joins/s, {label} ({joins} joins, {threads} threads)", f"{joins / took:.0f} joins/s")
    latency(f"join latency, {label}", [end - start for start, end, _ in done])
    updates = sum(v for k, v in calls.items() if k.startswith("dynamodb:UpdateItem")) / joins
    figure(f"AWS calls per join, {label}", f"{per_join:.2f} (counter writes {updates:.2f})")
    tickets = [t for _, _, t in done]
    window = logic.fairness_window(shards, service.settings().shard_slack)
    figure(
        f"fairness, {label}",
        f"{len(set(tickets))} distinct places of {joins}; overtaken by at most "
        f"{overtaking(done)} places (stated window: fewer than {window})",
    )


def ceiling(joins: int, threads: int) -> None:
    """The emulator's own bound on this machine now: single-item writes/s from the same threads
    (a join makes about three calls, one of them a transaction)."""
    from chalicelib.core import db
    from chalicelib.waitroom.models import items

    def write(n: int) -> None:
        db.update_if(items.shard(f"ceiling-{n % 64}", 0), [items.ShardItem.next.add(1)], None)

    with ThreadPoolExecutor(threads) as pool:
        began = time.perf_counter()
        list(pool.map(write, range(joins)))
        took = time.perf_counter() - began
    figure(f"emulator ceiling ({threads} threads)", f"{joins / took:.0f} single-item UpdateItem/s")


def overtaking(done: Sequence[tuple[float, float, int]]) -> int:
    """The most places any join was put ahead of one that had returned before it started."""
    by_end = sorted(done, key=lambda d: d[1])
    ends = [end for _, end, _ in by_end]
    highest = list(itertools.accumulate((t for _, _, t in by_end), max))
    worst = 0
    for start, _, ticket in done:
        if finished := bisect.bisect_left(ends, start):
            worst = max(worst, highest[finished - 1] - ticket)
    return worst


def paper(shards: int) -> None:
    """What DynamoDB's per-partition limits allow one event on AWS (no emulator involved)."""
    # Per join: the shard's counter (1 WCU, its own partition key), the place (2 WCU: a
    # transactional put; the shard's queue partition), the marker (2 WCU, one partition key per
    # user: spread), and one eventually consistent read of the event item (0.5 RCU, shared by
    # every join and poll of the event).
    counters = shards * WCU_PER_PARTITION / 1
    places = shards * WCU_PER_PARTITION / 2
    event_reads = RCU_PER_PARTITION / 0.5
    bound = min(counters, places, event_reads)
    figure(
        f"joins/s per event on AWS on paper, {shards} shards",
        f"{bound:,.0f} (min of: counters {counters:,.0f}, queue partitions {places:,.0f}, "
        f"event item reads {event_reads:,.0f} shared with polls); 1 shard: "
        f"{min(WCU_PER_PARTITION / 2, event_reads):,.0f}",
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--joins", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--shards", type=int, default=8, help="N of the sharded run (the other has 1)")
    args = parse_args(parser, argv, SMOKE)
    logs = Path(tempfile.mkdtemp(prefix="bench-waitroom-joins-"))
    with (
        bench_run("waitroom_joins", args),
        emulator(ENV, logs, **stack_options(args)),
        CallCounter() as counter,
    ):
        quiet()
        print("waitroom joins: local stack")
        for shards in (1, args.shards):
            run_joins(shards, args.joins, args.threads, counter)
        ceiling(args.joins, args.threads)  # after the joins: DynamoDB Local's JVM is warm by then
        paper(args.shards)


if __name__ == "__main__":
    main()
