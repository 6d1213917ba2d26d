"""Consult use cases: what the API routes, the timer handlers, the CLI and the demo seed call.

The routes and handlers stay thin; the rules are in ``logic``, the conditional writes in
``models``; here they are put in order, with the timers around them, one module per flow:
``credits`` (plans, grants, wallets), ``metering`` (ticks, settling, idle), ``sessions`` (text
sessions and calls), ``appointments``, ``doctors`` (the registry), ``availability`` (hours and
slots), ``presence`` (online status, the request queue), ``earnings`` (statements). This
package re-exports each flow's entry points.
"""

from chalicelib.consult.service import availability, doctors, earnings, presence
from chalicelib.consult.service.appointments import (
    accept_reschedule,
    appointments_of,
    book,
    cancel_appointment,
    complete,
    confirm,
    expire_appointment,
    load_appointment,
    propose_reschedule,
)
from chalicelib.consult.service.common import (
    APPOINTMENT_EXPIRY,
    CONNECT_TIMEOUT,
    IDLE,
    PENDING_TIMEOUT,
    PRESENCE_LAPSE,
    TICK,
)
from chalicelib.consult.service.credits import (
    create_plan,
    ledger,
    list_plans,
    set_status,
    subscribe,
    subscription,
    top_up,
    wallet,
)
from chalicelib.consult.service.metering import START_GRACE_SECONDS, idle_check, settle, tick, tick_key
from chalicelib.consult.service.presence import lapse as lapse_presence
from chalicelib.consult.service.sessions import (
    call_connected,
    create_text_session,
    end_session,
    expire_pending,
    fail_call,
    load_session,
    messages,
    record_activity,
    send_message,
    session_ledger,
    sessions_of,
    start_call,
)

__all__ = [
    "APPOINTMENT_EXPIRY",
    "CONNECT_TIMEOUT",
    "IDLE",
    "PENDING_TIMEOUT",
    "PRESENCE_LAPSE",
    "START_GRACE_SECONDS",
    "TICK",
    "accept_reschedule",
    "appointments_of",
    "availability",
    "book",
    "call_connected",
    "cancel_appointment",
    "complete",
    "confirm",
    "create_plan",
    "create_text_session",
    "doctors",
    "earnings",
    "end_session",
    "expire_appointment",
    "expire_pending",
    "fail_call",
    "idle_check",
    "lapse_presence",
    "ledger",
    "list_plans",
    "load_appointment",
    "load_session",
    "messages",
    "presence",
    "propose_reschedule",
    "record_activity",
    "send_message",
    "session_ledger",
    "sessions_of",
    "set_status",
    "settle",
    "start_call",
    "subscribe",
    "subscription",
    "tick",
    "tick_key",
    "top_up",
    "wallet",
]
