"""Run due work in process, by the frozen clock: the integration tier's event runtime.

On AWS, time moves work along: an SQS message's delay runs out, a Scheduler one-time schedule
comes due, a failed message's visibility timeout ends, and Lambda's event source feeds the
handler. ``DueWork`` does the same on in-process moto, synchronously, with the test's
``FrozenClock``, so ticks, class moments, expiries and retries take milliseconds:

    due = DueWork(clock)
    due.advance(600)            # or due.run(until=epoch)
    assert due.delivered("timers")

How time reaches moto: ``moto_clock()`` makes moto's SQS read the app's clock
(``chalicelib.core.clock.now``) instead of the wall clock, so ``DelaySeconds``, visibility
timeouts and the handlers' retry back-off (``change_message_visibility``) all run out when the
frozen clock says so -- not after real seconds (and a message is visible from its
``visible_at`` on, so ``VisibilityTimeout=0`` releases it without the clock moving). Nothing
else is faked: the messages are the ones the code under test sent, and the handlers are the app's own, fed
``infra.local.runtime.sqs_event`` events as the local runtime feeds them.

``run(until)`` steps the clock through every moment something becomes due on the way (a message
turning visible, a schedule's ``at``), in order, delivering at each, then leaves the clock at
``until``. Each invocation carries one record: in-process moto is not thread-safe, and the
timers handler runs a batch's records on threads. Scheduler schedules are delivered as
Scheduler does (the target input sent to the target queue, then the schedule deleted:
``ActionAfterCompletion=DELETE``). The timers consumer's wait for a message's last second
(``time.sleep``) moves the frozen clock. ``@app.schedule`` rate handlers (sweepers, backstops)
run only when asked: ``run_schedules()``.

A test that moves the clock by hand (``clock.t = ...``) and then calls ``run()`` skips the
moments in between: a Scheduler schedule whose ``at`` passed meanwhile is delivered late, as
after an outage. Use ``run(until=...)``/``advance()`` to have everything happen on time.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from chalice.app import ScheduledEventConfig, SQSEventConfig

from chalicelib.core import clock as core_clock
from chalicelib.core import timers as core_timers
from chalicelib.core.aws import client, queue_arn, queue_url
from chalicelib.core.config import get_settings
from infra.local.runtime import LambdaContext, functions, scheduled_event
from tests.support.queues import invoke, receive

_AT = re.compile(r"at\((.+)\)")


def _visible(message: Any) -> bool:
    """Visible from ``visible_at`` on (moto says strictly after: with a frozen clock a message
    released with ``VisibilityTimeout=0`` would stay hidden until the clock moved)."""
    return core_clock.now() * 1000 >= message.visible_at


@contextlib.contextmanager
def moto_clock() -> Iterator[None]:
    """While active, moto's SQS tells time by the app's clock (frozen in tests, else the wall)."""
    with (
        mock.patch("moto.sqs.models.unix_time_millis", lambda: core_clock.now() * 1000),
        mock.patch("moto.sqs.models.Message.visible", property(_visible)),
    ):
        yield


class _WaitOnClock:
    """``time`` for the timers consumer, whose ``sleep`` (waiting out a message's last second:
    SQS delays are whole seconds) moves the frozen clock instead of the wall clock."""

    def __init__(self, clock: core_clock.FrozenClock) -> None:
        self.clock = clock

    def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def frozen_clock() -> core_clock.FrozenClock:
    """The FrozenClock the test installed (the ``clock`` fixture), for helpers not handed it."""
    installed = core_clock._now
    if not isinstance(installed, core_clock.FrozenClock):
        raise RuntimeError("due work runs on a frozen clock: use the `clock` fixture")
    return installed


@dataclass(frozen=True)
class Delivery:
    """One handler invocation: which source, the record's body, at what clock, and whether the
    handler reported the record as failed."""

    source: str
    queue: str
    body: str
    at: float
    failed: bool


@dataclass
class _Source:
    name: str
    queue: str
    handler: Callable[[dict[str, Any], Any], Any]


@dataclass
class DueWork:
    """Deliver what is due by ``clock`` to the app's SQS handlers and the ``functions/`` Lambdas.

    ``queues``: only these (short names, e.g. ``("timers", "notifications")``); default every
    queue something consumes. Every delivery is kept in ``log``.
    """

    clock: core_clock.FrozenClock
    queues: Iterable[str] | None = None
    log: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        from app import app

        self.app = app
        wanted = None if self.queues is None else {get_settings().name(q) for q in self.queues}
        sources: list[_Source] = []
        for config in app.event_sources:
            if isinstance(config, SQSEventConfig):
                sources.append(_Source(config.name, config.queue, app.handler_map[config.name]))
        for function in functions():
            if function.queue:
                sources.append(_Source(function.name, function.queue, function.load()))
        self.sources = [s for s in sources if wanted is None or s.queue in wanted]

    # --- the API ---------------------------------------------------------------------------

    def advance(self, seconds: float) -> list[Delivery]:
        """Move the clock ``seconds`` on, delivering everything that comes due meanwhile."""
        return self.run(self.clock.t + seconds)

    def run(self, until: float | None = None, max_steps: int = 10_000) -> list[Delivery]:
        """Deliver what is due now, then step the clock to each later moment something comes
        due, up to ``until`` (default: now); the clock ends at ``until``. Returns this run's
        deliveries."""
        until = self.clock.t if until is None else until
        start = len(self.log)
        for _ in range(max_steps):
            self._settle()
            moment = self._next_moment(until)
            if moment is None:
                break
            self.clock.t = moment
        else:
            raise RuntimeError(f"due work did not settle in {max_steps} steps (a handler loops?)")
        self.clock.t = max(self.clock.t, until)
        self._settle()
        return self.log[start:]

    def delivered(self, queue: str | None = None) -> list[Delivery]:
        """Every delivery so far, or those of one queue (short name)."""
        if queue is None:
            return list(self.log)
        return [d for d in self.log if d.queue == get_settings().name(queue)]

    def run_schedules(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        """Run each ``@app.schedule`` handler once (what a rate tick does); their results."""
        wanted = None if names is None else set(names)
        results = {}
        for config in self.app.event_sources:
            if isinstance(config, ScheduledEventConfig) and (wanted is None or config.name in wanted):
                handler = self.app.handler_map[config.name]
                results[config.name] = handler(
                    scheduled_event(config.name, get_settings().region), LambdaContext(config.name)
                )
        return results

    # --- the machinery ---------------------------------------------------------------------

    def _settle(self) -> None:
        """Deliver due schedules and every visible message, until nothing more is visible."""
        while True:
            moved = self._fire_schedules()
            for source in self.sources:
                while messages := receive(source.queue, max_messages=1):
                    moved = True
                    with mock.patch.object(core_timers, "time", _WaitOnClock(self.clock)):
                        report = invoke(source.handler, source.queue, messages)
                    failed = {f["itemIdentifier"] for f in report["batchItemFailures"]}
                    self.log.extend(
                        Delivery(source.name, source.queue, m["Body"], self.clock.t, m["MessageId"] in failed)
                        for m in messages
                    )
            if not moved:
                return

    def _schedules(self) -> list[tuple[str, float, dict[str, Any]]]:
        scheduler, group = client("scheduler"), get_settings().scheduler_group
        found = []
        for page in scheduler.get_paginator("list_schedules").paginate(GroupName=group):
            for summary in page.get("Schedules", []):
                detail = scheduler.get_schedule(Name=summary["Name"], GroupName=group)
                match = _AT.fullmatch(detail["ScheduleExpression"])
                if match:
                    at = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC).timestamp()
                    found.append((summary["Name"], at, detail["Target"]))
        return found

    def _fire_schedules(self) -> bool:
        """Scheduler's part: each one-time schedule whose time has come sends its input to its
        target queue and is deleted."""
        scheduler, group = client("scheduler"), get_settings().scheduler_group
        fired = False
        for name, at, target in self._schedules():
            if at <= self.clock.t:
                queue = target["Arn"].rsplit(":", 1)[-1]
                client("sqs").send_message(QueueUrl=queue_url(queue), MessageBody=target.get("Input", "{}"))
                scheduler.delete_schedule(Name=name, GroupName=group)
                fired = True
        return fired

    def _next_moment(self, until: float) -> float | None:
        """The earliest instant after now and by ``until`` at which a message turns visible on a
        consumed queue or a schedule comes due."""
        from moto.sqs.models import sqs_backends

        now = self.clock.t
        candidates = [at for _, at, _ in self._schedules() if now < at <= until]
        region = get_settings().region
        for source in self.sources:
            account = queue_arn(source.queue).split(":")[4]
            queue = sqs_backends[account][region].queues[source.queue]
            for message in queue._messages:
                # visible once now >= visible_at (ms, see _visible), delayed while now < delayed_until
                turns = max(message.delayed_until, message.visible_at) / 1000
                if now < turns <= until:
                    candidates.append(turns)
        return min(candidates) if candidates else None
