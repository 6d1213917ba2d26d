"""The classes table: ``items`` (the items and the only place keys are built), and one module
per aggregate for its reads and conditional writes: ``academies``, ``sessions``, ``attendance``,
``credits``. The item classes and the two session reads tools use most are re-exported."""

from chalicelib.classes.models.items import (
    Academy,
    Attendance,
    ClassSession,
    CreditLedger,
    HistoryEntry,
    Wallet,
)
from chalicelib.classes.models.sessions import due_sessions, get_session

__all__ = [
    "Academy",
    "Attendance",
    "ClassSession",
    "CreditLedger",
    "HistoryEntry",
    "Wallet",
    "due_sessions",
    "get_session",
]
