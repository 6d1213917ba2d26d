"""Consult's data: ``items`` (the items and the only place keys are spelled) and one module per
aggregate for its reads and conditional writes — ``credits`` (plans, subscriptions, wallets),
``sessions``, ``billing`` (the metering write and its ledger), ``appointments``.

Re-exported here: the item classes and the reads tests and tools use most."""

from chalicelib.consult.models.appointments import get_appointment, slot_holder
from chalicelib.consult.models.billing import Meter, ledger_of_session
from chalicelib.consult.models.credits import get_subscription, get_wallet, grant
from chalicelib.consult.models.doctor_items import Doctor, Presence, ScheduleException
from chalicelib.consult.models.doctors import get_doctor, get_presence
from chalicelib.consult.models.items import (
    Appointment,
    LedgerEntry,
    Message,
    Plan,
    Session,
    SlotLock,
    Subscription,
    Wallet,
)
from chalicelib.consult.models.sessions import get_session, messages, touch

__all__ = [
    "Appointment",
    "Doctor",
    "LedgerEntry",
    "Message",
    "Meter",
    "Plan",
    "Presence",
    "ScheduleException",
    "Session",
    "SlotLock",
    "Subscription",
    "Wallet",
    "get_appointment",
    "get_doctor",
    "get_presence",
    "get_session",
    "get_subscription",
    "get_wallet",
    "grant",
    "ledger_of_session",
    "messages",
    "slot_holder",
    "touch",
]
