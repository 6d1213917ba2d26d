"""The one race helper: callables run at once on their own threads, lined up by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def race(
    *jobs: Callable[[], Any] | Sequence[Callable[[], Any]], n: int | None = None, strict: bool = False
) -> list[Any]:
    """Run every job at once; each job's result, or the exception it raised, in order.

    ``race(f, g, h)`` or ``race([f, g, h])`` races different jobs; ``race(f, n=20)`` races 20
    calls of one. A barrier releases all threads together, so the interleaving is as tight as
    the interpreter allows. Losers of a conditional write that raise come back as exceptions
    for the test to read; with ``strict=True`` (races whose losers must answer, not raise) the
    first exception is raised once every job has finished.
    """
    flat: list[Callable[[], Any]] = []
    for job in jobs:
        flat.extend(job if isinstance(job, Sequence) else [job])
    if n is not None:
        if len(flat) != 1:
            raise ValueError("race(job, n=...) takes exactly one job")
        flat = flat * n
    barrier = threading.Barrier(len(flat))

    def run(job: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return job()
        except Exception as error:  # read by the test, or raised below when strict
            return error

    with ThreadPoolExecutor(max_workers=len(flat)) as pool:
        results = list(pool.map(run, flat))
    if strict:
        for result in results:
            if isinstance(result, Exception):
                raise result
    return results


def race_indexed(job: Callable[[int], Any], n: int, strict: bool = False) -> list[Any]:
    """``n`` racers of one job, each given its index (its own user, phone, receipt...)."""
    return race([lambda i=i: job(i) for i in range(n)], strict=strict)
