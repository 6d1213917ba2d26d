"""Consult data in one table, and the conditional writes that make each change happen once.

Items (``pk`` / ``sk``):

- ``PLAN#<id>`` / ``PLAN`` — a plan (credits per kind, price); listed on gsi1 ``PLANS``.
- ``PATIENT#<id>`` / ``SUBSCRIPTION`` — credits per kind and status; ``GRANT#<reference>`` items
  record each subscription or top-up once (the reference is the business fact, e.g. a receipt).
- ``DOCTOR#<id>`` / ``WALLET`` — the doctor's earnings.
- ``SESSION#<id>`` / ``SESSION`` — a text session or a call; ``MSG#<ulid>`` its messages;
  ``LEDGER#<interval>#debit|award`` its ledger: one debit and one award per billed interval, each
  created with ``attribute_not_exists`` so a second one cannot exist.
- ``APPT#<id>`` / ``APPT`` — an appointment; ``SLOT#<doctor>#<epoch>`` / ``LOCK`` the slot it holds.
- ``OPEN#<type>`` / ``<id>`` — a marker per open session/call/pending appointment, so the
  reconcile commands find what may be due without scanning the table.

gsi1 lists by doctor (``DOCTOR#<id>``), gsi2 by patient (``PATIENT#<id>``); sort keys are
prefixed by type (``SESSION#``, ``APPT#``, ``LEDGER#``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.transactions import TransactWrite

from chalicelib.consult import logic
from chalicelib.core import clock, db
from chalicelib.core.db import MudaModel

CONFLICT = "TransactionConflict"


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


def _stamp(epoch: float) -> str:
    """A sortable text form of an instant (sort keys)."""
    return f"{epoch:017.6f}"


def session_key(session_id: str) -> tuple[str, str]:
    return f"SESSION#{session_id}", "SESSION"


def appointment_key(appointment_id: str) -> tuple[str, str]:
    return f"APPT#{appointment_id}", "APPT"


def slot_key(doctor_id: str, at: float) -> tuple[str, str]:
    return f"SLOT#{doctor_id}#{int(at)}", "LOCK"


def subscription_key(patient_id: str) -> tuple[str, str]:
    return f"PATIENT#{patient_id}", "SUBSCRIPTION"


def wallet_key(doctor_id: str) -> tuple[str, str]:
    return f"DOCTOR#{doctor_id}", "WALLET"


def marker(kind: str, item_id: str) -> OpenMarker:
    return OpenMarker(f"OPEN#{kind}", item_id, item_id=item_id)


# --- transactions -----------------------------------------------------------------------------


class Tx:
    """A TransactWrite whose actions carry labels, so a refusal says *which* condition failed.

    PynamoDB sends a transaction's actions grouped (condition checks, deletes, puts, updates), not
    in the order they were added, and DynamoDB's cancellation reasons follow the sent order; the
    labels are kept in that same grouping.
    """

    def __init__(self, tx: TransactWrite) -> None:
        self.tx = tx
        self.groups: dict[str, list[str]] = {"delete": [], "put": [], "update": []}

    def save(self, item: MudaModel, condition: Any = None, label: str = "") -> None:
        self.tx.save(item, condition=condition)
        self.groups["put"].append(label)

    def update(self, item: MudaModel, actions: list[Any], condition: Any = None, label: str = "") -> None:
        self.tx.update(item, actions=actions, condition=condition)
        self.groups["update"].append(label)

    def delete(self, item: MudaModel, condition: Any = None, label: str = "") -> None:
        self.tx.delete(item, condition=condition)
        self.groups["delete"].append(label)

    @property
    def labels(self) -> list[str]:
        return self.groups["delete"] + self.groups["put"] + self.groups["update"]


class Cancelled(Exception):
    """A transaction was refused; ``reasons`` maps each labelled action to its code."""

    def __init__(self, reasons: dict[str, str | None], conflict: bool = False) -> None:
        super().__init__(reasons)
        self.reasons = reasons
        self._conflict = conflict

    def failed(self, label: str) -> bool:
        return self.reasons.get(label) == db.REFUSED

    @property
    def conflict(self) -> bool:
        return self._conflict or CONFLICT in self.reasons.values()


def _transaction() -> TransactWrite:
    return db.transaction()


def transact(build: Callable[[Tx], None]) -> None:
    """Run one TransactWrite; raise ``Cancelled`` (which labelled condition refused) if refused."""
    recorder: Tx | None = None
    try:
        with _transaction() as tx:
            recorder = Tx(tx)
            build(recorder)
    except TransactWriteError as error:
        labels = recorder.labels if recorder else []
        if error.cause_response_code == "TransactionCanceledException":
            codes = db.cancellation_codes(error)
            reasons: dict[str, str | None] = {}
            for label, code in zip(labels, codes, strict=False):
                if label and reasons.get(label) != db.REFUSED:
                    reasons[label] = code
            raise Cancelled(reasons, conflict=not any(codes)) from None
        if error.cause_response_code == "TransactionConflictException":
            raise Cancelled({}, conflict=True) from None
        raise


def _conditional(fn: Callable[[], Any]) -> bool:
    """Run a conditional write; ``False`` when its condition refused it."""
    try:
        fn()
        return True
    except (PutError, UpdateError) as error:
        if db.condition_failed(error):
            return False
        raise


# --- reads ------------------------------------------------------------------------------------


def get_session(session_id: str) -> Session | None:
    try:
        return Session.get(*session_key(session_id), consistent_read=True)
    except Session.DoesNotExist:
        return None


def get_appointment(appointment_id: str) -> Appointment | None:
    try:
        return Appointment.get(*appointment_key(appointment_id), consistent_read=True)
    except Appointment.DoesNotExist:
        return None


def get_subscription(patient_id: str) -> Subscription | None:
    try:
        return Subscription.get(*subscription_key(patient_id), consistent_read=True)
    except Subscription.DoesNotExist:
        return None


def get_wallet(doctor_id: str) -> Wallet | None:
    try:
        return Wallet.get(*wallet_key(doctor_id), consistent_read=True)
    except Wallet.DoesNotExist:
        return None


def get_plan(plan_id: str) -> Plan | None:
    try:
        return Plan.get(f"PLAN#{plan_id}", "PLAN", consistent_read=True)
    except Plan.DoesNotExist:
        return None


def list_plans() -> list[Plan]:
    return list(Plan.by_doctor.query("PLANS"))


def sessions_of(sub: str, role: str, limit: int = 50) -> list[Session]:
    index = Session.by_doctor if role == "doctor" else Session.by_patient
    key = f"{'DOCTOR' if role == 'doctor' else 'PATIENT'}#{sub}"
    sk = Session.gsi1sk if role == "doctor" else Session.gsi2sk
    return list(index.query(key, sk.startswith("SESSION#"), scan_index_forward=False, limit=limit))


def appointments_of(sub: str, role: str, limit: int = 50) -> list[Appointment]:
    index = Appointment.by_doctor if role == "doctor" else Appointment.by_patient
    key = f"{'DOCTOR' if role == 'doctor' else 'PATIENT'}#{sub}"
    sk = Appointment.gsi1sk if role == "doctor" else Appointment.gsi2sk
    return list(index.query(key, sk.startswith("APPT#"), scan_index_forward=False, limit=limit))


def appointments_on(doctor_id: str, start: float, end: float) -> list[Appointment]:
    between = Appointment.gsi1sk.between(f"APPT#{_stamp(start)}", f"APPT#{_stamp(end)}")
    return list(Appointment.by_doctor.query(f"DOCTOR#{doctor_id}", between))


def ledger_of_session(session_id: str) -> list[LedgerEntry]:
    return list(
        LedgerEntry.query(f"SESSION#{session_id}", LedgerEntry.sk.startswith("LEDGER#"), consistent_read=True)
    )


def ledger_of(sub: str, role: str, limit: int = 100) -> list[LedgerEntry]:
    index = LedgerEntry.by_doctor if role == "doctor" else LedgerEntry.by_patient
    key = f"{'DOCTOR' if role == 'doctor' else 'PATIENT'}#{sub}"
    sk = LedgerEntry.gsi1sk if role == "doctor" else LedgerEntry.gsi2sk
    return list(index.query(key, sk.startswith("LEDGER#"), scan_index_forward=False, limit=limit))


def messages(session_id: str, limit: int = 100, after: str | None = None) -> list[Message]:
    condition = Message.sk > f"MSG#{after}" if after else Message.sk.startswith("MSG#")
    return list(Message.query(f"SESSION#{session_id}", condition, consistent_read=True, limit=limit))


def open_ids(kind: str) -> Iterator[str]:
    """Ids of open items of a type (``session`` or ``appointment``), for the reconcile commands."""
    for item in OpenMarker.query(f"OPEN#{kind}"):
        yield item.item_id


# --- plans, subscriptions, wallets --------------------------------------------------------------


def save_plan(plan: Plan) -> None:
    plan.save(condition=Plan.pk.does_not_exist())


def grant(patient_id: str, reference: str, credits: dict[str, int], plan_id: str | None, by: str) -> bool:
    """Add credits (a subscription or a top-up) once per reference; ``False`` if already applied."""
    now = clock.now()
    record = Grant(
        f"PATIENT#{patient_id}",
        f"GRANT#{reference}",
        patient_id=patient_id,
        reference=reference,
        plan_id=plan_id,
        text_sessions=credits.get("text", 0),
        voice_calls=credits.get("voice", 0),
        video_calls=credits.get("video", 0),
        granted_by=by,
        created_at=now,
    )
    actions = [Subscription.patient_id.set(patient_id), Subscription.updated_at.set(now)]
    for kind, n in credits.items():
        actions.append(getattr(Subscription, logic.CREDIT_FIELDS[kind]).add(n))
    if plan_id:
        # A new plan (re)activates the subscription; a top-up leaves its status alone.
        actions += [Subscription.plan_id.set(plan_id), Subscription.status.set("active")]
    else:
        actions.append(Subscription.status.set(Subscription.status | "active"))

    def build(tx: Tx) -> None:
        tx.save(record, condition=Grant.sk.does_not_exist(), label="grant")
        tx.update(Subscription(*subscription_key(patient_id)), actions=actions)

    try:
        transact(build)
    except Cancelled as refused:
        if refused.failed("grant"):
            return False
        raise
    return True


def set_subscription_status(patient_id: str, status: str) -> bool:
    item = Subscription(*subscription_key(patient_id))
    return _conditional(
        lambda: item.update(
            actions=[Subscription.status.set(status), Subscription.updated_at.set(clock.now())],
            condition=Subscription.pk.exists(),
        )
    )


# --- sessions: create, activity, messages ------------------------------------------------------


def create_session(session: Session, initial_status_marker: bool = True) -> None:
    def build(tx: Tx) -> None:
        tx.save(session, condition=Session.pk.does_not_exist())
        if initial_status_marker:
            tx.save(marker("session", session.session_id))

    transact(build)


def put_message(message: Message, session_id: str, expected: str, activity: list[Any]) -> None:
    """Store a message and the sender's activity, only while the session is still ``expected``."""

    def build(tx: Tx) -> None:
        tx.save(message, condition=Message.sk.does_not_exist())
        tx.update(
            Session(*session_key(session_id)),
            actions=activity,
            condition=Session.status == expected,
            label="session",
        )

    transact(build)


def activate(message: Message, session_id: str, now: float) -> None:
    """The doctor's first message: store it and activate the session, once."""

    def build(tx: Tx) -> None:
        tx.save(message, condition=Message.sk.does_not_exist())
        tx.update(
            Session(*session_key(session_id)),
            actions=[
                Session.status.set(logic.ACTIVE),
                Session.activated_at.set(now),
                Session.metered_from.set(now),
                Session.doctor_active_at.set(now),
                Session.updated_at.set(now),
            ],
            condition=Session.status == logic.PENDING,
            label="session",
        )

    transact(build)


def touch(session_id: str, role: str, now: float) -> bool:
    """Record ``role``'s activity while the session is active (each party its own attribute, so
    concurrent updates of both parties lose nothing)."""
    attr = Session.patient_active_at if role == "patient" else Session.doctor_active_at
    item = Session(*session_key(session_id))
    return _conditional(
        lambda: item.update(
            actions=[attr.set(now), Session.updated_at.set(now)],
            condition=Session.status.is_in(*logic.METERING),
        )
    )


def close_unmetered(session_id: str, expected: str, status: str, reason_attr: str, reason: str) -> bool:
    """A session that never metered leaves (cancelled, expired, failed, ended before connecting):
    one conditional transition, no money."""
    now = clock.now()
    reason_field = Session.ended_reason if reason_attr == "ended_reason" else Session.failure_reason

    def build(tx: Tx) -> None:
        tx.update(
            Session(*session_key(session_id)),
            actions=[
                Session.status.set(status),
                Session.ended_at.set(now),
                Session.updated_at.set(now),
                reason_field.set(reason),
            ],
            condition=Session.status == expected,
            label="session",
        )
        tx.delete(marker("session", session_id))

    try:
        transact(build)
    except Cancelled as refused:
        if refused.failed("session"):
            return False
        raise
    return True


def connect(session_id: str, now: float, deadline_started_after: float) -> bool:
    """``connecting → connected`` only if it started after ``deadline_started_after`` (i.e. the
    connection timeout has not run out)."""
    item = Session(*session_key(session_id))
    return _conditional(
        lambda: item.update(
            actions=[
                Session.status.set(logic.CONNECTED),
                Session.connected_at.set(now),
                Session.metered_from.set(now),
                Session.updated_at.set(now),
            ],
            condition=(Session.status == logic.CONNECTING) & (Session.created_at > deadline_started_after),
        )
    )


# --- the metering engine's one write ------------------------------------------------------------


@dataclass(frozen=True)
class Meter:
    """The immutable facts of a metered session: all a tick needs, so it reads nothing."""

    session_id: str
    kind: str
    patient_id: str
    doctor_id: str
    started_at: float
    award: int
    interval_seconds: float

    @classmethod
    def of(cls, session: Session) -> Meter:
        assert session.metered_from is not None
        return cls(
            session.session_id,
            session.kind,
            session.patient_id,
            session.doctor_id,
            float(session.metered_from),
            int(session.award),
            float(session.interval_seconds),
        )

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Meter:
        return cls(**{k: payload[k] for k in cls.__dataclass_fields__})

    def payload(self) -> dict[str, Any]:
        return dict(self.__dict__)


# Labels of bill()'s conditional actions, for reading its cancellation reasons.
SESSION_ACTION, SUBSCRIPTION_ACTION = "session", "subscription"


def bill(
    meter: Meter, billed_before: int, count: int, *, end_reason: str | None, keep: int = 0, now: float
) -> None:
    """Bill intervals ``billed_before+1 .. billed_before+count`` and/or end the session, in ONE
    TransactWrite: the session moves only from exactly ``billed_before`` (so an interval is
    billed once whoever races), the patient's credits only while the subscription is active and
    at least ``count + keep`` remain (never below 0), the doctor is paid the same count, and each
    interval's debit and award are ledger items that can exist once. Raises ``Cancelled``."""
    field = getattr(Subscription, logic.CREDIT_FIELDS[meter.kind])
    session_actions = [Session.billed.set(billed_before + count), Session.updated_at.set(now)]
    if end_reason:
        session_actions += [
            Session.status.set(logic.ENDED),
            Session.ended_reason.set(end_reason),
            Session.ended_at.set(now),
        ]

    def build(tx: Tx) -> None:
        tx.update(
            Session(*session_key(meter.session_id)),
            actions=session_actions,
            condition=(Session.status.is_in(*logic.METERING))
            & (Session.billed == billed_before)
            & (Session.metered_from == meter.started_at),
            label=SESSION_ACTION,
        )
        if count:
            tx.update(
                Subscription(*subscription_key(meter.patient_id)),
                actions=[field.add(-count), Subscription.updated_at.set(now)],
                condition=(Subscription.status == "active") & (field >= count + keep),
                label=SUBSCRIPTION_ACTION,
            )
            tx.update(
                Wallet(*wallet_key(meter.doctor_id)),
                actions=[
                    Wallet.doctor_id.set(meter.doctor_id),
                    Wallet.balance.add(count * meter.award),
                    Wallet.credits_earned.add(count),
                    Wallet.updated_at.set(now),
                ],
            )
            for interval in range(billed_before + 1, billed_before + count + 1):
                for entry in _ledger(meter, interval, now):
                    tx.save(entry, condition=LedgerEntry.sk.does_not_exist())
        if end_reason:
            tx.delete(marker("session", meter.session_id))

    transact(build)


def _ledger(meter: Meter, interval: int, now: float) -> list[LedgerEntry]:
    common = {
        "session_id": meter.session_id,
        "interval": interval,
        "kind": meter.kind,
        "credits": 1,
        "created_at": now,
    }
    sk = f"LEDGER#{interval:05d}"
    stamp = f"LEDGER#{_stamp(now)}#{meter.session_id}#{interval:05d}"
    return [
        LedgerEntry(
            f"SESSION#{meter.session_id}",
            f"{sk}#debit",
            entry="debit",
            party_id=meter.patient_id,
            amount=0,
            gsi2pk=f"PATIENT#{meter.patient_id}",
            gsi2sk=stamp,
            **common,
        ),
        LedgerEntry(
            f"SESSION#{meter.session_id}",
            f"{sk}#award",
            entry="award",
            party_id=meter.doctor_id,
            amount=meter.award,
            gsi1pk=f"DOCTOR#{meter.doctor_id}",
            gsi1sk=stamp,
            **common,
        ),
    ]


# --- appointments -----------------------------------------------------------------------------


def book(appointment: Appointment) -> bool:
    """Create the appointment and its slot lock together; ``False`` if the slot is taken."""
    lock = SlotLock(
        *slot_key(appointment.doctor_id, appointment.scheduled_at),
        appointment_id=appointment.appointment_id,
        expires_at=int(appointment.scheduled_at + 30 * 86400),
    )

    def build(tx: Tx) -> None:
        tx.save(lock, condition=SlotLock.pk.does_not_exist(), label="slot")
        tx.save(appointment, condition=Appointment.pk.does_not_exist())
        tx.save(marker("appointment", appointment.appointment_id))

    try:
        transact(build)
    except Cancelled as refused:
        if refused.failed("slot"):
            return False
        raise
    return True


def transition(
    appointment: Appointment,
    expected: tuple[str, ...],
    actions: list[Any],
    *,
    release: bool = False,
    take_at: float | None = None,
    close_marker: bool = False,
) -> None:
    """Move an appointment from one of ``expected`` (and its current time), optionally releasing
    its slot lock and/or taking the lock of ``take_at`` — all in one transaction. Raises
    ``Cancelled`` (labels ``appointment`` and ``new_slot``)."""

    def build(tx: Tx) -> None:
        tx.update(
            Appointment(*appointment_key(appointment.appointment_id)),
            actions=actions,
            condition=Appointment.status.is_in(*expected)
            & (Appointment.scheduled_at == appointment.scheduled_at),
            label="appointment",
        )
        if take_at is not None:
            tx.save(
                SlotLock(
                    *slot_key(appointment.doctor_id, take_at),
                    appointment_id=appointment.appointment_id,
                    expires_at=int(take_at + 30 * 86400),
                ),
                condition=SlotLock.pk.does_not_exist(),
                label="new_slot",
            )
        if release:
            tx.delete(
                SlotLock(*slot_key(appointment.doctor_id, appointment.scheduled_at)),
                condition=SlotLock.appointment_id == appointment.appointment_id,
            )
        if close_marker:
            tx.delete(marker("appointment", appointment.appointment_id))

    transact(build)


def slot_holder(doctor_id: str, at: float) -> str | None:
    try:
        return SlotLock.get(*slot_key(doctor_id, at), consistent_read=True).appointment_id
    except SlotLock.DoesNotExist:
        return None
