"""The one race helper: callables run at once on their own threads, lined up by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def race(jobs: Sequence[Callable[[], Any]] | Callable[[], Any], n: int | None = None) -> list[Any]:
    """Run every job at once; return each job's result or the exception it raised, in order.

    ``race([f, g, h])`` races different jobs; ``race(f, n=20)`` races ``n`` copies of one job
    (called with no argument). A barrier releases all threads together, so the interleaving is
    as tight as the interpreter allows: losers of a conditional write come back as exceptions
    for the test to read, never swallowed.
    """
    if callable(jobs):
        if n is None:
            raise ValueError("race(job, n=...) needs the number of racers")
        jobs = [jobs] * n
    jobs = list(jobs)
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return job()
        except Exception as error:  # the race's losers refuse; the test reads what happened
            return error

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def race_indexed(job: Callable[[int], Any], n: int) -> list[Any]:
    """``n`` racers of one job, each given its index (its own user, phone, receipt...)."""
    return race([lambda i=i: job(i) for i in range(n)])
