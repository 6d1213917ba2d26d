"""Class credits: a wallet per student and a ledger whose keys make each fact happen once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chalicelib.classes.models.items import (
    CreditLedger,
    Wallet,
    credit_use_key,
    grant_key,
    ledger_index,
    ledger_item,
    wallet_key,
)
from chalicelib.core import clock, db


def get_wallet(student: str) -> Wallet:
    found = db.get_or_none(Wallet, *wallet_key(student), consistent=True)
    return found or Wallet(*wallet_key(student), student_id=student, credits=0, granted=0, used=0)


def ledger(student: str, limit: int = 50) -> list[CreditLedger]:
    return list(CreditLedger.by_student.query(ledger_index(student), scan_index_forward=False, limit=limit))


@dataclass(frozen=True)
class CreditUse:
    student_id: str
    outcome: Literal["used", "owed", "already"]


def use_credit(class_id: str, student: str) -> CreditUse:
    """One credit of ``student`` for ``class_id``, at most once: the ledger item (must not exist)
    and the decrement (``credits >= 1``) in one transaction. A student with no credit left gets
    an ``owed`` ledger item instead (also once), so the debt is visible and never doubled."""
    now = clock.now()
    key = credit_use_key(class_id, student)

    def write() -> None:
        with db.transact() as tx:
            tx.put(
                ledger_item(key, student, -1, "used", now, class_id=class_id),
                CreditLedger.pk.does_not_exist(),
                label="ledger",
            )
            tx.update(
                Wallet(*wallet_key(student)),
                [Wallet.credits.add(-1), Wallet.used.add(1), Wallet.student_id.set(student)],
                Wallet.credits >= 1,
                label="wallet",
            )

    try:
        db.retry_on_conflict(write)
        return CreditUse(student, "used")
    except db.Refused as refused:
        if refused.by("ledger"):
            return CreditUse(student, "already")
        if not refused.by("wallet"):
            raise
    if not db.put_if_absent(ledger_item(key, student, 0, "owed", now, class_id=class_id)):
        return CreditUse(student, "already")
    return CreditUse(student, "owed")


def grant_credits(student: str, credits: int, reference: str) -> bool:
    """Add credits once per ``reference`` (e.g. a payment receipt); ``False`` if already granted."""
    now = clock.now()

    def write() -> None:
        with db.transact() as tx:
            tx.put(
                ledger_item(
                    grant_key(student, reference), student, credits, "granted", now, reference=reference
                ),
                CreditLedger.pk.does_not_exist(),
                label="grant",
            )
            tx.update(
                Wallet(*wallet_key(student)),
                [Wallet.credits.add(credits), Wallet.granted.add(credits), Wallet.student_id.set(student)],
                label="wallet",
            )

    return db.applied(write, refused_by="grant")
