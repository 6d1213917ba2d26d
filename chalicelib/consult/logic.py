"""Consultation rules without AWS: intervals, what an end bills, slots, expiry, who may act.

One metering engine serves text sessions and connected calls: a session is metered from its
``started`` instant (``activated_at`` for text, ``connected_at`` for calls); interval *i* (1-based)
covers ``[started + (i-1)·interval, started + i·interval)`` and its tick is due at
``started + i·interval`` — computed from the start, never from the previous tick's run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

DOMAIN = "consult"  # the events' source: ``muda.consult``

Kind = Literal["text", "voice", "video"]
KINDS: tuple[Kind, ...] = ("text", "voice", "video")
CREDIT_FIELDS: dict[str, str] = {
    "text": "text_sessions_remaining",
    "voice": "voice_calls_remaining",
    "video": "video_calls_remaining",
}

# Session states. Text: pending -> active -> ended (or pending -> cancelled | expired).
# Calls: connecting -> connected -> ended, or connecting -> failed.
PENDING, ACTIVE, ENDED, CANCELLED, EXPIRED = "pending", "active", "ended", "cancelled", "expired"
CONNECTING, CONNECTED, FAILED = "connecting", "connected", "failed"
METERING = (ACTIVE, CONNECTED)
OPEN = (PENDING, ACTIVE, CONNECTING, CONNECTED)
TERMINAL = (ENDED, CANCELLED, EXPIRED, FAILED)

# Why a session ended.
CREDITS_EXHAUSTED, MANUAL, IDLE, SUBSCRIPTION_INACTIVE, NOT_CONNECTED = (
    "credits_exhausted",
    "manual",
    "idle",
    "subscription_inactive",
    "not_connected",
)
CONNECTION_TIMEOUT_REASON = "Connection timeout after {seconds} seconds"

# Appointment states; a slot is taken while its appointment is in one of HOLDING.
A_PENDING, A_CONFIRMED, A_RESCHEDULE, A_CANCELLED, A_COMPLETED = (
    "pending",
    "confirmed",
    "reschedule_proposed",
    "cancelled",
    "completed",
)
HOLDING = (A_PENDING, A_CONFIRMED, A_RESCHEDULE)
SLOT_TAKEN_MESSAGE = "This time slot is already booked. Please select a different time."
EXPIRED_PAST = "scheduled time has passed"
EXPIRED_STALE = "pending for more than 24 hours"

SUBSCRIPTION_STATUSES = ("active", "expired", "suspended")


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """A consult event addressed to users' inboxes (``recipients``, ``message``). It is emitted in
    the transaction of the state change it reports, so it exists if and only if that change does."""

    aggregate: str  # ``session#<id>`` | ``appointment#<id>``: the outbox's order
    name: str
    detail: dict[str, Any]
    recipients: tuple[str, ...]
    message: str

    def event(self) -> tuple[str, str, str, dict[str, Any]]:
        """``tx.emit``'s arguments."""
        body = {**self.detail, "recipients": list(self.recipients), "message": self.message}
        return self.aggregate, DOMAIN, self.name, body


def session_notice(session_id: str, name: str, recipients: list[str], message: str, **detail: Any) -> Notice:
    return Notice(
        f"session#{session_id}", name, {"session_id": session_id, **detail}, tuple(recipients), message
    )


def appointment_notice(
    appointment_id: str, name: str, recipients: list[str], message: str, **detail: Any
) -> Notice:
    return Notice(
        f"appointment#{appointment_id}",
        name,
        {"appointment_id": appointment_id, **detail},
        tuple(recipients),
        message,
    )


# --- metering ---------------------------------------------------------------------------------


def tick_due(started: float, interval: int, seconds: float) -> float:
    """When interval ``interval`` ends and is billed: ``started + interval·seconds``."""
    return started + interval * seconds


def interval_at(started: float, at: float, seconds: float) -> int:
    """The 1-based interval that contains instant ``at`` (0 before the start)."""
    if at < started:
        return 0
    return math.floor((at - started) / seconds) + 1


def elapsed_intervals(started: float, now: float, seconds: float) -> int:
    """Intervals wholly in the past at ``now`` (their ticks are due)."""
    return max(0, math.floor((now - started) / seconds))


def end_target(reason: str, started: float, now: float, seconds: float, last_activity: float | None) -> int:
    """How many intervals a session ending now must have billed in all.

    Manual end bills through the interval in progress (the old system's "1 additional session
    deduction"). Idle end bills what is owed — every elapsed interval — plus the interval of the
    last activity, never an in-progress interval nobody used. Any other end bills what elapsed.
    """
    owed = elapsed_intervals(started, now, seconds)
    if reason == MANUAL:
        return interval_at(started, now, seconds)
    if reason == IDLE and last_activity is not None:
        return max(owed, interval_at(started, last_activity, seconds))
    return owed


def last_activity(*stamps: float | None) -> float | None:
    values = [s for s in stamps if s is not None]
    return max(values) if values else None


def idle_due(started: float, last: float | None, idle_seconds: float) -> float:
    return (last if last is not None else started) + idle_seconds


# --- appointments -----------------------------------------------------------------------------


def appointment_expiry(created_at: float, scheduled_at: float, pending_seconds: float) -> tuple[float, str]:
    """When a pending appointment expires and why: its time passes or it has waited too long."""
    stale = created_at + pending_seconds
    if scheduled_at <= stale:
        return scheduled_at, EXPIRED_PAST
    return stale, EXPIRED_STALE


def expiry_reason(reason: str) -> str:
    return f"Automatically expired - {reason}"


def party_role(patient_id: str, doctor_id: str, sub: str) -> str | None:
    """``patient`` or ``doctor`` if ``sub`` is a party of the session/appointment."""
    if sub == patient_id:
        return "patient"
    if sub == doctor_id:
        return "doctor"
    return None


# --- reconcile (the operator commands) ----------------------------------------------------------


def session_due(
    *,
    kind: str,
    status: str,
    now: float,
    created_at: float,
    metered_from: float | None,
    billed: int,
    interval_seconds: float,
    last_activity: float | None,
    idle_seconds: float,
    pending_timeout: float,
    connect_timeout: float,
) -> tuple[str, str] | None:
    """What a reconcile pass must do to a session now — ``(action, description)`` — or ``None``.

    Actions: ``bill`` (elapsed intervals not billed), ``idle`` (end for inactivity),
    ``expire`` (unanswered text request), ``fail`` (call not connected in time).
    """
    if status in METERING and metered_from is not None:
        if kind == "text" and now >= idle_due(metered_from, last_activity, idle_seconds):
            return "idle", f"end for inactivity (no activity for {idle_seconds:g} s)"
        owed = elapsed_intervals(metered_from, now, interval_seconds)
        if owed > billed:
            first, last = billed + 1, owed
            span = f"interval {first}" if first == last else f"intervals {first}-{last}"
            return "bill", f"bill {span}"
        return None
    if status == PENDING and now >= created_at + pending_timeout:
        return "expire", "expire unanswered request"
    if status == CONNECTING and now >= created_at + connect_timeout:
        return "fail", f"fail: not connected within {connect_timeout:g} s"
    return None
