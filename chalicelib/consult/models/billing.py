"""The metering engine's one write (``bill``) and the ledger it keeps.

A tick reads nothing: the ``Meter`` (a metered session's immutable facts) rides in its timer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.consult import logic
from chalicelib.consult.logic import Notice
from chalicelib.consult.models import items
from chalicelib.consult.models.items import LedgerEntry, Session, Subscription, Wallet
from chalicelib.core import db

# Labels of bill()'s conditional actions, for reading its refusal.
SESSION_ACTION, SUBSCRIPTION_ACTION = "session", "subscription"


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
    def of(cls, session: Session, started_at: float | None = None) -> Meter:
        """The meter of ``session``, metered from ``started_at`` (default: its ``metered_from``)."""
        start = session.metered_from if started_at is None else started_at
        if start is None:
            raise ValueError(f"session {session.session_id} is not metered")
        return cls(
            session.session_id,
            session.kind,
            session.patient_id,
            session.doctor_id,
            float(start),
            int(session.award),
            float(session.interval_seconds),
        )

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Meter:
        return cls(**{k: payload[k] for k in cls.__dataclass_fields__})

    def payload(self) -> dict[str, Any]:
        return dict(self.__dict__)


def bill(
    meter: Meter,
    billed_before: int,
    count: int,
    *,
    end_reason: str | None,
    keep: int = 0,
    now: float,
    notice: Notice | None = None,
) -> None:
    """Bill intervals ``billed_before+1 .. billed_before+count`` and/or end the session, in ONE
    TransactWrite: the session moves only from exactly ``billed_before`` (so an interval is
    billed once whoever races), the patient's credits only while the subscription is active and
    at least ``count + keep`` remain (never below 0), the doctor is paid the same count, and each
    interval's debit and award are ledger items that can exist once. An end carries its
    ``notice`` (SessionEnded) in the same transaction. Raises ``db.Refused``."""
    field = Subscription.credit(meter.kind)
    session_actions = [Session.billed.set(billed_before + count), Session.updated_at.set(now)]
    if end_reason:
        session_actions += [
            Session.status.set(logic.ENDED),
            Session.ended_reason.set(end_reason),
            Session.ended_at.set(now),
        ]
    with db.transact() as tx:
        tx.update(
            Session(*items.session_key(meter.session_id)),
            session_actions,
            condition=(Session.status.is_in(*logic.METERING))
            & (Session.billed == billed_before)
            & (Session.metered_from == meter.started_at),
            label=SESSION_ACTION,
        )
        if count:
            tx.update(
                Subscription(*items.subscription_key(meter.patient_id)),
                [field.add(-count), Subscription.updated_at.set(now)],
                condition=(Subscription.status == "active") & (field >= count + keep),
                label=SUBSCRIPTION_ACTION,
            )
            tx.update(
                Wallet(*items.wallet_key(meter.doctor_id)),
                [
                    Wallet.doctor_id.set(meter.doctor_id),
                    Wallet.balance.add(count * meter.award),
                    Wallet.credits_earned.add(count),
                    Wallet.updated_at.set(now),
                ],
                label="wallet",
            )
            for interval in range(billed_before + 1, billed_before + count + 1):
                for entry in items.ledger_pair(
                    meter.session_id,
                    meter.kind,
                    meter.patient_id,
                    meter.doctor_id,
                    meter.award,
                    interval,
                    now,
                ):
                    tx.put(entry, condition=LedgerEntry.sk.does_not_exist(), label="ledger")
        if end_reason:
            tx.delete(items.marker("session", meter.session_id))
            if notice:
                tx.emit(*notice.event())


def ledger_of_session(session_id: str) -> list[LedgerEntry]:
    partition = items.session_key(session_id)[0]
    return list(LedgerEntry.query(partition, LedgerEntry.sk.startswith(items.LEDGER), consistent_read=True))


def ledger_of(sub: str, role: str, limit: int = 100) -> list[LedgerEntry]:
    """A party's debits (patient) or awards (doctor), newest first."""
    return items.party_list(LedgerEntry, role, sub, items.LEDGER, limit)
