"""The classes use cases, shared by the API, the timer handler, the reconcile, the CLI and the
local seed, split by flow: ``sessions`` (academies, sessions, transitions, settlement),
``meeting`` (LiveKit credentials, join tokens, rooms), ``attendance`` (joins and leaves, the
LiveKit webhook), ``credits``, ``reconcile`` (the backstop and ``explain``)."""

from chalicelib.classes.service.attendance import (
    WebhookResult,
    attendance_of,
    livekit_webhook,
    record_attendance,
)
from chalicelib.classes.service.credits import get_wallet, grant_credits, ledger
from chalicelib.classes.service.meeting import (
    JoinGrant,
    close_meeting,
    join_grant,
    livekit_credentials,
    participant_role,
)
from chalicelib.classes.service.reconcile import Reconciled, explain, reconcile
from chalicelib.classes.service.sessions import (
    MOMENT_TIMER,
    academy_or_404,
    advance,
    arm,
    cancel,
    create_academy,
    create_session,
    disarm,
    on_moment,
    reschedule,
    session_or_404,
    sessions_of_teacher,
    settle,
    update_academy,
)

__all__ = [
    "MOMENT_TIMER",
    "JoinGrant",
    "Reconciled",
    "WebhookResult",
    "academy_or_404",
    "advance",
    "arm",
    "attendance_of",
    "cancel",
    "close_meeting",
    "create_academy",
    "create_session",
    "disarm",
    "explain",
    "get_wallet",
    "grant_credits",
    "join_grant",
    "ledger",
    "livekit_credentials",
    "livekit_webhook",
    "on_moment",
    "participant_role",
    "reconcile",
    "record_attendance",
    "reschedule",
    "session_or_404",
    "sessions_of_teacher",
    "settle",
    "update_academy",
]
