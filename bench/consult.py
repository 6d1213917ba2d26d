"""Consultations on the local stack (its AWS endpoint + the event runtime in-process), 2 s intervals.

1. AWS calls per tick: one due tick fired in-process, its calls counted by operation.
2. Tick lateness with N concurrent active sessions (default 500) at a 2 s interval: every
   session activated, each billed until its credits run out; lateness = when the tick's handler
   ran (the ledger's ``created_at``) minus ``activated_at + i·interval``.
3. Booking throughput: distinct slots booked by concurrent patients, and 100 patients racing
   for one slot; calls per booking.

The tables are on the local stack's DynamoDB engine (``--dynamodb local|moto`` picks one; moto's
only with the emulator's atomic transactions: stock moto reverts other requests' writes when a
transaction is cancelled, which this load hits on every duplicate tick and losing booking).

Run: ``make bench`` (or ``python -m bench.consult --sessions 500``; ``--smoke``: 4 sessions of 2
ticks, a few bookings). Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from bench.common import CallCounter, bench_run, emulator, figure, latency, parse_args, quiet, stack_options

ENV = {
    "MUDA_CONSULT_INTERVAL_SECONDS": "2",
    # idle check and request expiry within SQS's delay range: the bench measures ticks, not Scheduler
    "MUDA_CONSULT_IDLE_SECONDS": "600",
    "MUDA_CONSULT_PENDING_TIMEOUT_SECONDS": "600",
    "MUDA_TIMER_SWEEP_GRACE_SECONDS": "5",
    "MUDA_LOCAL_SCHEDULE_SECONDS": "5",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
CREDITS = 5  # default: 4 ticks that continue, then the one that takes the last credit and ends
SMOKE = {"sessions": 4, "bookings": 8, "workers": 4, "credits": 2, "racers": 10}


def principal(sub: str, role: str):  # type: ignore[no-untyped-def]
    from chalicelib.core.auth import Principal

    return Principal(sub=sub, roles=frozenset({role}))


ALWAYS = {day: [("00:00", "24:00")] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def register_doctors(ids: Sequence[str]) -> None:
    """The bench's doctors in the registry, active, at any hour (bookings and sessions need one)."""
    from chalicelib.consult.service import doctors
    from chalicelib.core.errors import Conflict

    for doctor_id in ids:
        with suppress(Conflict):
            doctors.register(
                doctor_id, {"name": doctor_id, "timezone": "UTC", "weekly": ALWAYS}, by="bench", approved=True
            )


def start_session(run: str, n: int, credits: int = CREDITS) -> str:
    from chalicelib.consult import models, service

    patient, doctor = f"{run}-p{n}", f"{run}-d{n % 50}"
    models.grant(patient, f"{run}-{n}", {"text": credits}, None, "bench")
    session = service.create_text_session(principal(patient, "patient"), doctor)
    service.send_message(session.session_id, principal(doctor, "doctor"), "hello")
    return session.session_id


def calls_per_tick(counter: CallCounter) -> Counter[str]:
    """Fire one due tick in-process (as the timers consumer would) and count its AWS calls."""
    from chalicelib.consult import models, service
    from chalicelib.core import timers

    register_doctors(["cpt-d0"])
    sid = start_session("cpt", 0)
    meter = models.Meter.of(models.get_session(sid))
    item = timers.get(service.TICK, service.tick_key(meter, 1))
    while time.time() < item.due_at:
        time.sleep(0.05)
    with counter.window() as calls:
        timers.fire(item.id, float(item.due_at))
    return calls


def lateness(run: str, count: int, workers: int, credits: int) -> tuple[list[float], int, float]:
    """Activate ``count`` sessions, wait until each has billed all its credits, read the ledgers."""
    from chalicelib.consult import models

    register_doctors([f"{run}-d{n}" for n in range(min(count, 50))])
    began = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        sids = list(pool.map(lambda n: start_session(run, n, credits), range(count)))
    setup = time.monotonic() - began
    # No session can end before its credits' intervals have run, and reading every open session
    # each second would be the bench's own load on the emulator under test (500 reads/s): wait
    # that long, then look every few seconds.
    billing = credits * float(ENV["MUDA_CONSULT_INTERVAL_SECONDS"])
    time.sleep(billing)
    deadline = time.monotonic() + 180  # a saturated emulator: report what finished
    open_ = set(sids)
    while open_ and time.monotonic() < deadline:
        with ThreadPoolExecutor(workers) as pool:
            done = [
                s
                for s, st in zip(list(open_), pool.map(models.get_session, list(open_)), strict=True)
                if st.status == "ended"
            ]
        open_ -= set(done)
        if open_:
            time.sleep(5)
    late: list[float] = []

    def read(sid: str) -> list[float]:
        session = models.get_session(sid)
        return [
            float(e.created_at)
            - (float(session.activated_at) + int(e.interval) * float(session.interval_seconds))
            for e in models.ledger_of_session(sid)
            if e.entry == "debit"
        ]

    with ThreadPoolExecutor(workers) as pool:
        for values in pool.map(read, sids):
            late.extend(values)
    for sid in sorted(open_)[:5]:  # what an unfinished session looks like (for the report)
        from chalicelib.consult import service
        from chalicelib.core import timers

        s = models.get_session(sid)
        ticks = [
            (t.key.rsplit(":", 1)[-1], t.state, t.attempts, (t.last_error or "")[:80])
            for t in timers.TimerItem.scan(timers.TimerItem.id.startswith(f"{service.TICK}#{sid}"))
        ]
        print(
            f"  unfinished {sid}: {s.status}, billed {s.billed}, metered_from {s.metered_from}, ticks {ticks}"
        )
    return late, len(open_), setup


def statements(run: str, count: int) -> tuple[list[float], int, int]:
    """Each lateness doctor's all-time earnings statement: how long it takes, and how many
    reconcile with the wallet (all must: the award and the wallet credit share a transaction)."""
    from chalicelib.consult.service import earnings

    took, ok, awards = [], 0, 0
    for n in range(min(count, 50)):
        began = time.monotonic()
        found = earnings.earnings(f"{run}-d{n}", None, None, "day")
        took.append(time.monotonic() - began)
        ok += bool(found.reconciles)
        awards += found.total.total.intervals
    return took, ok, awards


def week_of_slots(doctor_ids: list[str]) -> list[float]:
    """How long the free slots of a week take to compute (hours, exceptions, held appointments)."""
    from chalicelib.consult.models import doctors
    from chalicelib.consult.service import availability

    took = []
    for doctor_id in doctor_ids:
        doctor = doctors.get_doctor(doctor_id)
        began = time.monotonic()
        availability.free_slots(doctor, time.time(), time.time() + 7 * 86400)
        took.append(time.monotonic() - began)
    return took


def bookings(
    count: int, workers: int, racers: int, counter: CallCounter
) -> tuple[float, float, Counter[str], Counter[int]]:
    from chalicelib.consult import service
    from chalicelib.core.errors import Conflict

    base = (int(time.time()) // 1800 + 48) * 1800
    register_doctors([f"bk-d{n}" for n in range(20)] + ["bc-doctor"])
    with counter.window() as calls:
        began = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            list(
                pool.map(
                    lambda n: service.book(
                        principal(f"bk-p{n}", "patient"),
                        f"bk-d{n % 20}",
                        datetime.fromtimestamp(base + (n // 20) * 1800, tz=UTC),
                        None,
                    ),
                    range(count),
                )
            )
        distinct = count / (time.monotonic() - began)

    def contend(n: int) -> int:
        try:
            service.book(
                principal(f"bc-p{n}", "patient"), "bc-doctor", datetime.fromtimestamp(base, tz=UTC), None
            )
            return 201
        except Conflict:
            return 409

    began = time.monotonic()
    with ThreadPoolExecutor(racers) as pool:
        outcomes = Counter(pool.map(contend, range(racers)))
    contended = time.monotonic() - began
    return distinct, contended, calls, outcomes


def main(argv: Sequence[str] | None = None) -> None:
    quiet()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--bookings", type=int, default=400)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--credits", type=int, default=CREDITS, help="per session: its ticks")
    parser.add_argument("--racers", type=int, default=100, help="patients racing for one slot")
    args = parse_args(parser, argv, SMOKE)

    with (
        bench_run("consult", args),
        emulator(ENV, Path(tempfile.mkdtemp(prefix="bench-consult-")), **stack_options(args)),
        CallCounter() as counter,
    ):
        from app import app
        from chalicelib.core import db
        from infra.local.runtime import Runtime

        db.warm_up()
        print(f"consult: local stack, runtime in-process; 2 s interval, {args.credits} credits")
        tick_calls = calls_per_tick(counter)  # before the runtime starts: nothing else is calling
        runtime = Runtime(app)
        runtime.start()
        try:
            run = f"lt{int(time.time())}"
            late, unfinished, setup = lateness(run, args.sessions, args.workers, args.credits)
        finally:
            runtime.stop()
        distinct, contended, book_calls, outcomes = bookings(
            args.bookings, args.workers, args.racers, counter
        )
        statement_took, reconciled, awarded = statements(run, args.sessions)
        slots_took = week_of_slots([f"bk-d{n}" for n in range(20)])

        print("\nAWS calls of one tick ('(timers)' UpdateItems: the spine's claim and finish of the timer):")
        for op, n in sorted(tick_calls.items()):
            print(f"  {op:45}{n:>4}")
        own = {op: n for op, n in tick_calls.items() if op != "dynamodb:UpdateItem(timers)"}
        listed = ", ".join(f"{n} {op}" for op, n in sorted(own.items()))
        figure("AWS calls per tick, consult's own", f"{sum(own.values())} ({listed})")
        figure(
            f"{args.sessions} sessions x {args.credits} credits",
            f"activated in {setup:.1f} s; ticks billed {len(late)} "
            f"(expected {args.sessions * args.credits}); "
            f"sessions not ended in time: {unfinished}",
        )
        latency("tick lateness", late)
        figure(
            f"bookings, {args.bookings} distinct slots, {args.workers} threads", f"{distinct:.0f} bookings/s"
        )
        per = {op: round(n / args.bookings, 2) for op, n in sorted(book_calls.items())}
        print(f"  calls per booking: {per}")
        figure(f"{args.racers} racing for one slot", f"{dict(outcomes)} in {contended * 1000:.0f} ms")
        figure(
            "earnings statements (all time) reconciling with the wallet",
            f"{reconciled} of {len(statement_took)} doctors, {awarded} awards",
        )
        latency("earnings statement, all time", statement_took)
        latency("free slots of a week (doctor with bookings)", slots_took)


if __name__ == "__main__":
    main()
