"""The due-work runner (tests/support/due.py): what the frozen clock makes due reaches the app's
handlers at its moment, through the queues, in milliseconds of wall time."""

from __future__ import annotations

import pytest

from chalicelib.core import timers
from chalicelib.core.config import get_settings
from chalicelib.ops import models
from chalicelib.ops.handlers import PROBE
from tests.support.due import DueWork
from tests.support.ids import unique

pytestmark = pytest.mark.usefixtures("aws")


def fired(run: str) -> dict[str, tuple[float, float, int]]:
    """Each probe of ``run``: (due_at, first_fired_at, executions)."""
    return {p.sk: (p.due_at, p.first_fired_at, int(p.executions)) for p in models.probes(run)}


def test_sqs_and_scheduler_timers_fire_at_their_moment_once(clock, due: DueWork) -> None:
    """Given a timer due in 30 s, one in 10 min (both SQS delays) and one in 2 h (a Scheduler
    schedule, then the queue), when the clock runs 3 h on, each fired once, exactly at its due
    time, and the clock ends where it was sent."""
    run, start = unique("due"), clock.t
    for n, offset in enumerate((30, 600, 7200)):
        timers.schedule(PROBE, f"{run}.{n}", start + offset)
    assert timers.get(PROBE, f"{run}.2").via == "scheduler"

    due.advance(3 * 3600)

    assert fired(run) == {f"{run}.{n}": (start + o, start + o, 1) for n, o in enumerate((30, 600, 7200))}
    assert clock.t == start + 3 * 3600
    assert {d.queue for d in due.delivered() if run in d.body} == {get_settings().timers_queue}


def test_nothing_is_delivered_before_its_time(clock, due: DueWork) -> None:
    """Given a timer due in 10 min, a run to one second before leaves it pending; one more
    second fires it."""
    run, start = unique("due"), clock.t
    timers.schedule(PROBE, f"{run}.1", start + 600)

    due.advance(599)
    assert timers.get(PROBE, f"{run}.1").state == timers.PENDING and fired(run) == {}

    due.advance(1)
    assert timers.get(PROBE, f"{run}.1").state == timers.FIRED


def test_a_failing_timer_is_retried_after_the_queues_backoff(clock, due: DueWork) -> None:
    """Given a timer whose handler fails its first attempt, the message comes back after the
    handler's first back-off (5 s, a visibility timeout on the frozen clock) and then fires."""
    run, start = unique("due"), clock.t
    timers.schedule(PROBE, f"{run}.1", start + 60, {"fail_times": 1})

    due.advance(120)

    [probe] = models.probes(run)
    assert (probe.first_fired_at, probe.last_fired_at, int(probe.executions)) == (start + 60, start + 65, 2)
    item = timers.get(PROBE, f"{run}.1")
    assert (item.state, int(item.attempts)) == (timers.FIRED, 2)
    assert [d.failed for d in due.delivered("timers") if run in d.body] == [True, False]


def test_rate_handlers_run_when_asked(clock, due: DueWork) -> None:
    """Given a timer whose message was lost, the sweeper (an @app.schedule handler) re-sends it
    once the grace has passed, and the next run delivers it."""
    run, start = unique("due"), clock.t
    timers.schedule(PROBE, f"{run}.1", start)
    [lost] = [m for m in due_messages() if run in m]
    assert lost  # delay 0: visible now; take it off the queue as if SQS lost it
    clock.advance(get_settings().timer_sweep_grace_seconds + 1)

    assert due.run_schedules(["timers_sweep"])["timers_sweep"]["resent"] >= 1
    due.run()

    assert int(models.probes(run)[0].executions) == 1


def due_messages() -> list[str]:
    from tests.support.queues import drain

    return [m["Body"] for m in drain("timers")]


def test_the_consumers_last_second_wait_moves_the_frozen_clock(clock, due: DueWork) -> None:
    """Given a timer due half a second from now (SQS delays are whole seconds, so its message is
    visible at once), the consumer waits out the half second on the frozen clock, not the wall
    clock, and fires it at its due time."""
    run, start = unique("due"), clock.t
    timers.schedule(PROBE, f"{run}.1", start + 0.5)

    due.run()

    assert fired(run) == {f"{run}.1": (start + 0.5, start + 0.5, 1)}
