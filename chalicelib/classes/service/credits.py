"""Class credits: grants (once per reference) and a student's wallet with its ledger."""

from __future__ import annotations

from chalicelib.classes.models import credits
from chalicelib.classes.models.items import CreditLedger, Wallet


def grant_credits(student: str, amount: int, reference: str) -> bool:
    """Add ``amount`` credits once per ``reference``; ``False`` if that reference was granted."""
    return credits.grant_credits(student, amount, reference)


def get_wallet(student: str) -> Wallet:
    """The student's balance (all zero before any grant)."""
    return credits.get_wallet(student)


def ledger(student: str) -> list[CreditLedger]:
    """The student's newest ledger entries first."""
    return credits.ledger(student)
