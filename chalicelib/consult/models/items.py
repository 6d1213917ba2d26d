"""Consult data in one table: the items, their indexes, and the ONLY place their keys are spelled.

Items (``pk`` / ``sk``):

- ``PLAN#<id>`` / ``PLAN`` — a plan (credits per kind, price); listed on gsi1 ``PLANS``.
- ``PATIENT#<id>`` / ``SUBSCRIPTION`` — credits per kind and status; ``GRANT#<reference>`` items
  record each subscription or top-up once (the reference is the business fact, e.g. a receipt).
- ``DOCTOR#<id>`` / ``WALLET`` — the doctor's earnings (``balance`` + ``paid_out`` = all awards);
  ``PROFILE`` the registry entry (status, modes, zone, weekly hours, ``version`` of what a booking
  checks; listed on gsi1 ``DOCTORS#<status>``); ``PRESENCE`` available/busy/offline (its own item,
  so heartbeats never contend with bookings); ``EXCEPTION#<local date>`` a dated change of hours;
  ``QUEUE#<time>#<session>`` a text request waiting for the doctor (their item classes are in
  ``doctor_items``; their keys are here).
- ``SESSION#<id>`` / ``SESSION`` — a text session or a call; ``MSG#<ulid>`` its messages;
  ``LEDGER#<interval>#debit|award`` its ledger: one debit and one award per billed interval, each
  created with ``attribute_not_exists`` so a second one cannot exist.
- ``APPT#<id>`` / ``APPT`` — an appointment; ``SLOT#<doctor>#<epoch>`` / ``LOCK`` the slot it holds.
- ``OPEN#<type>`` / ``<id>`` — a marker per open session/call/pending appointment, so the
  reconcile commands find what may be due without scanning the table.

gsi1 lists by doctor (``DOCTOR#<id>``), gsi2 by patient (``PATIENT#<id>``); sort keys are
prefixed by type (``SESSION#``, ``APPT#``, ``LEDGER#``) and then ordered by ``clock.time_key``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.consult import logic
from chalicelib.core.clock import time_key
from chalicelib.core.db import MudaModel

SLOT_LOCK_DAYS = 30  # a slot lock outlives its slot this long (TTL clean-up of past slots)


class ByDoctor(GlobalSecondaryIndex[Any]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ByPatient(GlobalSecondaryIndex[Any]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class _Item(MudaModel):
    """Attributes every consult item has; subclasses name the table."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)


class Plan(_Item):
    table = "consult"
    plan_id = UnicodeAttribute()
    name = UnicodeAttribute()
    text_sessions = NumberAttribute(default=0)
    voice_calls = NumberAttribute(default=0)
    video_calls = NumberAttribute(default=0)
    price = NumberAttribute(default=0)
    currency = UnicodeAttribute(default="KES")
    created_at = NumberAttribute()
    by_doctor = ByDoctor()  # gsi1 "PLANS"

    def credits(self) -> dict[str, int]:
        return {
            "text": int(self.text_sessions),
            "voice": int(self.voice_calls),
            "video": int(self.video_calls),
        }


class Subscription(_Item):
    table = "consult"
    patient_id = UnicodeAttribute()
    plan_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="active")
    text_sessions_remaining = NumberAttribute(default=0)
    voice_calls_remaining = NumberAttribute(default=0)
    video_calls_remaining = NumberAttribute(default=0)
    updated_at = NumberAttribute(null=True)

    def remaining(self, kind: str) -> int:
        return int(getattr(self, logic.CREDIT_FIELDS[kind]) or 0)

    @classmethod
    def credit(cls, kind: str) -> NumberAttribute:
        """The ``<kind>_remaining`` attribute (for update actions and conditions)."""
        return getattr(cls, logic.CREDIT_FIELDS[kind])


class Grant(_Item):
    """A subscription or top-up, once per reference."""

    table = "consult"
    patient_id = UnicodeAttribute()
    reference = UnicodeAttribute()
    plan_id = UnicodeAttribute(null=True)
    text_sessions = NumberAttribute(default=0)
    voice_calls = NumberAttribute(default=0)
    video_calls = NumberAttribute(default=0)
    granted_by = UnicodeAttribute()
    created_at = NumberAttribute()


class Wallet(_Item):
    table = "consult"
    doctor_id = UnicodeAttribute(null=True)
    balance = NumberAttribute(default=0)
    paid_out = NumberAttribute(null=True)  # moved out by payouts (balance -= x, paid_out += x)
    credits_earned = NumberAttribute(default=0)
    updated_at = NumberAttribute(null=True)


class LedgerEntry(_Item):
    table = "consult"
    session_id = UnicodeAttribute()
    interval = NumberAttribute()
    entry = UnicodeAttribute()  # debit | award
    kind = UnicodeAttribute()
    party_id = UnicodeAttribute()
    credits = NumberAttribute()
    amount = NumberAttribute()  # KES minor units (awards); 0 for debits
    created_at = NumberAttribute()
    by_doctor = ByDoctor()
    by_patient = ByPatient()


class Session(_Item):
    """A text session (kind ``text``) or a call (``voice``/``video``): one item, one engine."""

    table = "consult"
    session_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    doctor_id = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = NumberAttribute()
    metered_from = NumberAttribute(null=True)  # metering start: activated_at | connected_at
    activated_at = NumberAttribute(null=True)
    connected_at = NumberAttribute(null=True)
    ended_at = NumberAttribute(null=True)
    ended_reason = UnicodeAttribute(null=True)
    failure_reason = UnicodeAttribute(null=True)
    billed = NumberAttribute(default=0)  # auto_deductions_processed
    award = NumberAttribute()
    interval_seconds = NumberAttribute()
    patient_active_at = NumberAttribute(null=True)
    doctor_active_at = NumberAttribute(null=True)
    updated_at = NumberAttribute(null=True)
    routing = UnicodeAttribute(null=True)  # text requests: delivered | queued
    by_doctor = ByDoctor()
    by_patient = ByPatient()

    @property
    def last_activity(self) -> float | None:
        return logic.last_activity(self.patient_active_at, self.doctor_active_at, self.metered_from)


class Message(_Item):
    table = "consult"
    message_id = UnicodeAttribute()
    session_id = UnicodeAttribute()
    sender_id = UnicodeAttribute()
    sender_role = UnicodeAttribute()
    body = UnicodeAttribute()
    created_at = NumberAttribute()


class Appointment(_Item):
    table = "consult"
    appointment_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    doctor_id = UnicodeAttribute()
    scheduled_at = NumberAttribute()
    status = UnicodeAttribute()
    note = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    updated_at = NumberAttribute(null=True)
    previous_scheduled_at = NumberAttribute(null=True)
    proposed_by = UnicodeAttribute(null=True)
    cancelled_by = UnicodeAttribute(null=True)
    cancellation_reason = UnicodeAttribute(null=True)
    by_doctor = ByDoctor()
    by_patient = ByPatient()


class SlotLock(_Item):
    table = "consult"
    appointment_id = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)  # TTL: clean-up of past slots only


class OpenMarker(_Item):
    table = "consult"
    item_id = UnicodeAttribute()


# --- keys -------------------------------------------------------------------------------------

PLANS = "PLANS"  # gsi1 partition listing the plans


def plan_key(plan_id: str) -> tuple[str, str]:
    return f"PLAN#{plan_id}", "PLAN"


def subscription_key(patient_id: str) -> tuple[str, str]:
    return f"PATIENT#{patient_id}", "SUBSCRIPTION"


def grant_key(patient_id: str, reference: str) -> tuple[str, str]:
    return f"PATIENT#{patient_id}", f"GRANT#{reference}"


def wallet_key(doctor_id: str) -> tuple[str, str]:
    return f"DOCTOR#{doctor_id}", "WALLET"


def doctor_key(doctor_id: str) -> tuple[str, str]:
    return f"DOCTOR#{doctor_id}", "PROFILE"


def doctors_listed(status: str) -> str:
    """The gsi1 partition of the doctors in ``status``."""
    return f"DOCTORS#{status}"


def doctor_sort(name: str, doctor_id: str) -> str:
    return f"{name.casefold()}#{doctor_id}"


def presence_key(doctor_id: str) -> tuple[str, str]:
    return f"DOCTOR#{doctor_id}", "PRESENCE"


EXCEPTIONS, QUEUE = "EXCEPTION#", "QUEUE#"


def exception_key(doctor_id: str, day: str) -> tuple[str, str]:
    return f"DOCTOR#{doctor_id}", f"{EXCEPTIONS}{day}"


def queue_key(doctor_id: str, created_at: float, session_id: str) -> tuple[str, str]:
    return f"DOCTOR#{doctor_id}", f"{QUEUE}{time_key(created_at)}#{session_id}"


def session_key(session_id: str) -> tuple[str, str]:
    return f"SESSION#{session_id}", "SESSION"


def message_key(session_id: str, message_id: str) -> tuple[str, str]:
    return session_key(session_id)[0], f"MSG#{message_id}"


def appointment_key(appointment_id: str) -> tuple[str, str]:
    return f"APPT#{appointment_id}", "APPT"


def slot_key(doctor_id: str, at: float) -> tuple[str, str]:
    return f"SLOT#{doctor_id}#{int(at)}", "LOCK"


def party_key(role: str, sub: str) -> str:
    """The gsi partition of a party's lists: gsi1 ``DOCTOR#`` for doctors, gsi2 ``PATIENT#``."""
    return f"{'DOCTOR' if role == 'doctor' else 'PATIENT'}#{sub}"


Listed = TypeVar("Listed", Session, Appointment, LedgerEntry)


def party_list(model: type[Listed], role: str, sub: str, prefix: str, limit: int) -> list[Listed]:
    """A party's items of one type (sort-key ``prefix``), newest first: the doctor's on gsi1, the
    patient's on gsi2."""
    index = model.by_doctor if role == "doctor" else model.by_patient
    sk = model.gsi1sk if role == "doctor" else model.gsi2sk
    found = index.query(party_key(role, sub), sk.startswith(prefix), scan_index_forward=False, limit=limit)
    return list(found)


def appointment_sort(at: float, appointment_id: str = "") -> str:
    """An appointment's sort key in its parties' lists: by its time."""
    return f"APPT#{time_key(at)}#{appointment_id}"


# The sort-key prefixes of each kind of item in a party's lists / a session's partition.
SESSIONS, APPOINTMENTS, LEDGER, MESSAGES = "SESSION#", "APPT#", "LEDGER#", "MSG#"


def marker(kind: str, item_id: str) -> OpenMarker:
    return OpenMarker(f"OPEN#{kind}", item_id, item_id=item_id)


def open_ids(kind: str) -> Iterator[str]:
    """Ids of open items of a type (``session`` or ``appointment``), for the reconcile commands."""
    for item in OpenMarker.query(f"OPEN#{kind}"):
        yield item.item_id


# --- new items --------------------------------------------------------------------------------


def new_plan(plan_id: str, name: str, now: float, **fields: Any) -> Plan:
    return Plan(
        *plan_key(plan_id),
        plan_id=plan_id,
        name=name,
        created_at=now,
        gsi1pk=PLANS,
        gsi1sk=f"{name}#{plan_id}",
        **fields,
    )


def new_grant(
    patient_id: str, reference: str, credits: dict[str, int], plan_id: str | None, by: str, now: float
) -> Grant:
    return Grant(
        *grant_key(patient_id, reference),
        patient_id=patient_id,
        reference=reference,
        plan_id=plan_id,
        text_sessions=credits.get("text", 0),
        voice_calls=credits.get("voice", 0),
        video_calls=credits.get("video", 0),
        granted_by=by,
        created_at=now,
    )


def new_session(
    session_id: str, kind: str, patient_id: str, doctor_id: str, status: str, now: float, **fields: Any
) -> Session:
    listed = f"SESSION#{time_key(now)}#{session_id}"
    return Session(
        *session_key(session_id),
        session_id=session_id,
        kind=kind,
        patient_id=patient_id,
        doctor_id=doctor_id,
        status=status,
        created_at=now,
        billed=0,
        gsi1pk=party_key("doctor", doctor_id),
        gsi1sk=listed,
        gsi2pk=party_key("patient", patient_id),
        gsi2sk=listed,
        **fields,
    )


def new_message(session_id: str, message_id: str, **fields: Any) -> Message:
    return Message(
        *message_key(session_id, message_id), message_id=message_id, session_id=session_id, **fields
    )


def new_appointment(
    appointment_id: str, patient_id: str, doctor_id: str, at: float, **fields: Any
) -> Appointment:
    listed = appointment_sort(at, appointment_id)
    return Appointment(
        *appointment_key(appointment_id),
        appointment_id=appointment_id,
        patient_id=patient_id,
        doctor_id=doctor_id,
        scheduled_at=at,
        gsi1pk=party_key("doctor", doctor_id),
        gsi1sk=listed,
        gsi2pk=party_key("patient", patient_id),
        gsi2sk=listed,
        **fields,
    )


def slot_lock(doctor_id: str, at: float, appointment_id: str) -> SlotLock:
    return SlotLock(
        *slot_key(doctor_id, at),
        appointment_id=appointment_id,
        expires_at=int(at + SLOT_LOCK_DAYS * 86400),
    )


def ledger_pair(
    session_id: str, kind: str, patient_id: str, doctor_id: str, award: int, interval: int, now: float
) -> list[LedgerEntry]:
    """Interval ``interval``'s debit (the patient's) and award (the doctor's): keyed by the
    interval, so each can exist once; listed by time in each party's ledger."""
    common = {"session_id": session_id, "interval": interval, "kind": kind, "credits": 1, "created_at": now}
    partition, sk = session_key(session_id)[0], f"LEDGER#{interval:05d}"
    listed = f"LEDGER#{time_key(now)}#{session_id}#{interval:05d}"
    return [
        LedgerEntry(
            partition,
            f"{sk}#debit",
            entry="debit",
            party_id=patient_id,
            amount=0,
            gsi2pk=party_key("patient", patient_id),
            gsi2sk=listed,
            **common,
        ),
        LedgerEntry(
            partition,
            f"{sk}#award",
            entry="award",
            party_id=doctor_id,
            amount=award,
            gsi1pk=party_key("doctor", doctor_id),
            gsi1sk=listed,
            **common,
        ),
    ]
