"""A doctor's earnings statement from the ledger: billed intervals, credits and amount per
period and mode, in the doctor's zone; and its reconciliation with the wallet.

Each award in the ledger was written in the transaction that credited the wallet by the same
amount, so over all time ``sum(awards) == wallet.balance + wallet.paid_out``. Payouts keep that
true by moving an amount from ``balance`` to ``paid_out`` in their own transaction
(``models.credits.pay_out``); the statement reads ``paid_out`` from the wallet.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.consult import availability, statement
from chalicelib.consult.models import credits, doctors, items
from chalicelib.consult.models.items import LedgerEntry
from chalicelib.consult.service.doctors import not_found
from chalicelib.core import clock
from chalicelib.core.errors import BadRequest

MAX_DAYS = 366 * 2


@dataclass(frozen=True)
class Statement:
    doctor_id: str
    timezone: str
    start: float | None
    end: float
    group: statement.Group
    all_time: bool
    periods: list[statement.Period]
    total: statement.Period
    balance: int
    paid_out: int
    credits_earned: int

    @property
    def reconciles(self) -> bool | None:
        """Over all time: the statement's amount equals the wallet's balance plus what was paid
        out, and its intervals the wallet's credits. ``None`` for a partial range."""
        if not self.all_time:
            return None
        t = self.total.total
        return t.amount == self.balance + self.paid_out and t.credits == self.credits_earned


def awards(doctor_id: str, start: float | None, end: float | None) -> list[statement.Award]:
    """The doctor's ledger awards billed in ``[start, end)`` (``None``: unbounded)."""
    low = f"{items.LEDGER}{clock.time_key(start or 0)}"
    high = f"{items.LEDGER}{clock.time_key(end) if end is not None else '~'}"
    found = LedgerEntry.by_doctor.query(
        items.party_key("doctor", doctor_id), LedgerEntry.gsi1sk.between(low, high)
    )
    return [
        statement.Award(float(e.created_at), e.kind, int(e.credits), int(e.amount))
        for e in found
        if e.entry == "award" and (end is None or float(e.created_at) < end)
    ]


def earnings(doctor_id: str, start: float | None, end: float | None, group: statement.Group) -> Statement:
    doctor = doctors.get_doctor(doctor_id)
    wallet = credits.get_wallet(doctor_id)
    if doctor is None and wallet is None:
        raise not_found(doctor_id)
    all_time = start is None and end is None
    if start is not None and end is not None and start >= end:
        raise BadRequest("from must be before to", code="invalid_range")
    if start is not None and (end or clock.now()) - start > MAX_DAYS * 86400:
        raise BadRequest(f"a statement covers at most {MAX_DAYS} days", code="range_too_long")
    zone_name = doctor.timezone if doctor else "UTC"
    periods, total = statement.group_awards(
        awards(doctor_id, start, end), availability.zone(zone_name), group
    )
    return Statement(
        doctor_id,
        zone_name,
        start,
        clock.now() if end is None else end,
        group,
        all_time,
        periods,
        total,
        int(wallet.balance or 0) if wallet else 0,
        int(wallet.paid_out or 0) if wallet else 0,
        int(wallet.credits_earned or 0) if wallet else 0,
    )


def as_csv(found: Statement) -> str:
    return statement.to_csv(found.doctor_id, "KES", found.periods, found.total)
