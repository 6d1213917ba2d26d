"""The backstop and the explainer: sessions whose moments passed unmoved, and why a session is
where it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.classes import logic
from chalicelib.classes.models import attendance, sessions
from chalicelib.classes.service.sessions import MOMENT_TIMER, advance, session_or_404
from chalicelib.core import clock, timers
from chalicelib.core.observability import logger


@dataclass
class Reconciled:
    class_id: str
    status_before: str
    steps: list[str] = field(default_factory=list)
    status_after: str = ""


def reconcile(grace: float, dry_run: bool = False) -> list[Reconciled]:
    """Every unsettled session whose next moment passed ``grace`` seconds ago: advance it (or,
    with ``dry_run``, say what would happen). Safe beside the workers: the same conditional
    writes as the timers, so whoever comes second changes nothing."""
    now = clock.now()
    report = []
    for session in sessions.due_sessions(now - grace):
        planned = [f"{t.from_status} -> {t.to_status}" for t in logic.due_transitions(session.state, now)]
        if session.status in logic.FINAL and not session.settled:
            planned.append("settle")
        entry = Reconciled(session.class_id, session.status, planned, session.status)
        if not dry_run and planned:
            entry.status_after = advance(session, "reconcile").status
        report.append(entry)
    if report and not dry_run:
        logger.warning("classes reconcile moved sessions", extra={"count": len(report)})
    return report


def explain(class_id: str) -> dict[str, Any]:
    """Where a session is and why: its moments, its timers, its history, what comes next."""
    session = session_or_404(class_id)
    now = clock.now()
    timer_rows = []
    for moment, due in session.schedule.timer_moments().items():
        key = logic.timer_key(class_id, moment, int(session.version))
        item = timers.get(MOMENT_TIMER, key)
        timer_rows.append(
            {"moment": moment, "due_at": due, "key": key, "state": item.state if item else "none"}
        )
    return {
        "session": session,
        "moments": session.schedule.moments(),
        "timers": timer_rows,
        "history": list(session.history),
        "attendance": attendance.attendance(class_id),
        "why": _why(session, now),
    }


def _why(session: Any, now: float) -> str:
    pending = logic.due_transitions(session.state, now)
    due = logic.next_due(session.state)
    if pending:
        steps = ", ".join(f"{t.from_status} -> {t.to_status}" for t in pending)
        return f"overdue: {steps} (run update-statuses)"
    if due is not None:
        upcoming = logic.next_transition(session.state, due)
        target = upcoming.to_status if upcoming else "?"
        return (
            f"{session.status} until {clock.to_datetime(due).isoformat()} ({due - now:+.0f}s), then {target}"
        )
    if not session.settled:
        return f"{session.status}: final, settlement pending (credits, room)"
    return f"{session.status}: final and settled"
