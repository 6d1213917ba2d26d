"""The metering engine, text sessions and connected calls alike: ticks, settling (manual end,
idle end, reconcile) and the idle timer.

Ticks are scheduled after the write they follow: tick *i+1* after tick *i* commits, and a re-run
of tick *i* re-ensures it — so ended sessions leave no chain of strays. Tick 1 is the exception
(intent first): it exists before the start it meters is written.
"""

from __future__ import annotations

from chalicelib.consult import logic
from chalicelib.consult.logic import Notice
from chalicelib.consult.models import billing, credits, sessions
from chalicelib.consult.models.billing import SESSION_ACTION, SUBSCRIPTION_ACTION, Meter
from chalicelib.consult.models.items import Session
from chalicelib.consult.service.common import IDLE, RETRIES, TICK, drop_timer, log, reread_until_written
from chalicelib.consult.settings import settings
from chalicelib.core import clock, db, timers
from chalicelib.core.observability import MetricUnit, metrics

START_GRACE_SECONDS = 60  # how long tick 1 waits for the start (activation, connection) it was scheduled for


def tick_key(meter: Meter, interval: int) -> str:
    return f"{meter.session_id}:{round(meter.started_at * 1000)}:{interval}"


def schedule_tick(meter: Meter, interval: int, due: float | None = None) -> None:
    due = logic.tick_due(meter.started_at, interval, meter.interval_seconds) if due is None else due
    timers.schedule(TICK, tick_key(meter, interval), due, {**meter.payload(), "interval": interval})


def schedule_idle(session_id: str, due: float) -> None:
    timers.schedule(IDLE, f"{session_id}:{round(due * 1000)}", due, {"session_id": session_id})


def start_metering(session: Session, now: float) -> Meter:
    """The meter of a session about to start at ``now``: tick 1 is scheduled before the start
    is written (intent first); a start that loses its race drops it (``drop_stray_tick``)."""
    meter = Meter.of(session, started_at=now)
    schedule_tick(meter, 1)
    if session.kind == "text":
        schedule_idle(session.session_id, logic.idle_due(now, None, settings().idle_seconds))
    return meter


def drop_stray_tick(meter: Meter) -> None:
    """A start that lost its race cancels the tick it scheduled — unless the winner started at
    the very same instant, in which case that tick is the winner's too."""
    current = sessions.get_session(meter.session_id)
    if current is None or current.metered_from != meter.started_at:
        drop_timer(TICK, tick_key(meter, 1))


def _billed(meter: Meter, first: int, count: int, **extra: object) -> None:
    for interval in range(first, first + count):
        log("auto-deduction processed", meter.session_id, meter.kind, interval=interval, credits=1, **extra)
    if count:
        metrics.add_metric(name="ConsultDeductions", unit=MetricUnit.Count, value=count)


def tick(meter: Meter, interval: int) -> str:
    """Bill interval ``interval`` at its due time: one TransactWrite in the common case, reading
    nothing (the meter rides in the timer) and emitting nothing. ``keep=1`` makes the write
    succeed only if a credit remains afterwards, so the tick that takes the last credit is the
    one that ends the session."""
    now = clock.now()
    try:
        db.retry_on_conflict(
            lambda: billing.bill(meter, interval - 1, 1, end_reason=None, keep=1, now=now), attempts=RETRIES
        )
    except db.Refused as refused:
        if refused.by(SESSION_ACTION):
            return _tick_skipped(meter, interval)
        if refused.by(SUBSCRIPTION_ACTION):
            return _last_tick(meter, interval, now)
        raise
    schedule_tick(meter, interval + 1)
    _billed(meter, interval, 1, award=meter.award)
    return "billed"


def _tick_skipped(meter: Meter, interval: int) -> str:
    """The session moved on without this tick (billed already, ended, restarted): nothing to do,
    except re-ensuring the next tick in case this is the re-run of a tick that died after its
    commit and before scheduling it."""
    session = sessions.get_session(meter.session_id)
    if (
        session is not None
        and session.status in logic.METERING
        and session.metered_from == meter.started_at
        and int(session.billed) == interval - 1
    ):
        # What refused the write moved before this read (the start, or the tick before,
        # committed in between): the interval is still owed, so bill it now. Each repeat needs
        # another move of the session, so this ends.
        return tick(meter, interval)
    if (
        session is not None
        and interval == 1
        and session.status in (logic.PENDING, logic.CONNECTING)
        and clock.now() < meter.started_at + START_GRACE_SECONDS
    ):
        # Intent first: tick 1 exists before the start is written, and on a slow write (or a
        # short interval) it can come first. Look again shortly; a start that never lands
        # (lost race, crash) leaves the session unstarted past the grace, and the tick lapses.
        schedule_tick(meter, 1, due=clock.now() + 1)
        log("auto-deduction deferred - session not started yet", meter.session_id, meter.kind, interval=1)
        return "deferred"
    if (
        session is not None
        and session.status in logic.METERING
        and session.metered_from == meter.started_at
        and int(session.billed) >= interval
    ):
        schedule_tick(meter, int(session.billed) + 1)
    log("auto-deduction skipped - already processed", meter.session_id, meter.kind, interval=interval)
    return "skipped"


def _last_tick(meter: Meter, interval: int, now: float) -> str:
    """Fewer than two credits (or an inactive subscription): bill the last one and end, or end
    without billing when there is none."""

    def step() -> str:
        subscription = credits.get_subscription(meter.patient_id)
        active = subscription is not None and subscription.status == "active"
        count = 1 if subscription is not None and active and subscription.remaining(meter.kind) >= 1 else 0
        reason = logic.CREDITS_EXHAUSTED if active or subscription is None else logic.SUBSCRIPTION_INACTIVE
        billed = interval - 1 + count
        try:
            billing.bill(
                meter,
                interval - 1,
                count,
                end_reason=reason,
                now=now,
                notice=ended_notice(meter, billed, reason),
            )
        except db.Refused as refused:
            if refused.by(SESSION_ACTION):
                return _tick_skipped(meter, interval)
            raise
        _billed(meter, interval, count, award=meter.award)
        _ended(meter, billed, reason)
        return "ended"

    return reread_until_written(step)


def ended_notice(meter: Meter, billed: int, reason: str) -> Notice:
    what = "text session" if meter.kind == "text" else f"{meter.kind} call"
    return logic.session_notice(
        meter.session_id,
        "SessionEnded",
        [meter.patient_id, meter.doctor_id],
        f"Your {what} has ended ({reason.replace('_', ' ')}); {billed} credit(s) used.",
        kind=meter.kind,
        reason=reason,
        intervals_billed=billed,
    )


def _ended(meter: Meter, billed: int, reason: str) -> None:
    """After an end committed (its SessionEnded with it): the next tick is not needed."""
    log("session ending processed", meter.session_id, meter.kind, intervals_billed=billed, reason=reason)
    drop_timer(TICK, tick_key(meter, billed + 1))


def settle(session_id: str, reason: str | None) -> Session | None:
    """Bring a metered session's billing up to date; with ``reason``, end it.

    Manual end bills through the interval in progress, idle end what is owed (see
    ``logic.end_target``), ``None`` (reconcile) every elapsed interval — each as far as credits
    allow. Every attempt is one TransactWrite conditioned on the session's billed count, so a
    racing tick, a second end or the auto-end make it retry on fresh data, never bill twice.
    """
    cfg = settings()

    def step() -> Session | None:
        session = sessions.get_session(session_id)
        if session is None or session.status not in logic.METERING:
            return session
        meter = Meter.of(session)
        now = clock.now()
        billed = int(session.billed)
        target = logic.end_target(
            reason or "reconcile", meter.started_at, now, meter.interval_seconds, session.last_activity
        )
        owed = max(0, target - billed)
        subscription = credits.get_subscription(session.patient_id)
        active = subscription is not None and subscription.status == "active"
        available = subscription.remaining(session.kind) if subscription is not None and active else 0
        count = min(owed, available, cfg.max_intervals_per_end)
        end = reason
        if end is None and (count < owed or (count and available == count)):
            end = logic.CREDITS_EXHAUSTED if active else logic.SUBSCRIPTION_INACTIVE
        if end is None and count == 0:
            schedule_tick(meter, billed + 1)  # nothing owed: just make sure the next tick exists
            return session
        notice = ended_notice(meter, billed + count, end) if end else None
        billing.bill(meter, billed, count, end_reason=end, now=now, notice=notice)
        _billed(meter, billed + 1, count, award=meter.award, reason=end)
        if end == logic.MANUAL:
            log("session ended manually", meter.session_id, meter.kind, intervals_billed=billed + count)
        if end:
            _ended(meter, billed + count, end)
        else:
            schedule_tick(meter, billed + count + 1)
        return sessions.get_session(session_id)

    return reread_until_written(step)


def idle_check(session_id: str) -> str:
    """The idle timer: end the session if nobody was active for ``idle_seconds``, else look again
    when that could first be true (activity only writes a timestamp; this timer re-arms itself)."""
    session = sessions.get_session(session_id)
    if session is None or session.status != logic.ACTIVE or session.metered_from is None:
        return "skipped"
    due = logic.idle_due(float(session.metered_from), session.last_activity, settings().idle_seconds)
    if clock.now() >= due:
        settle(session_id, logic.IDLE)
        return "ended"
    schedule_idle(session_id, due)
    return "rearmed"
