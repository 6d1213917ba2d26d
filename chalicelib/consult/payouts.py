"""Doctors withdraw what they earned: the consult wallet as a payee of B2C payouts.

The debit is ``models.credits.pay_out`` (balance down, ``paid_out`` up, refused below zero) in
the payout's own transaction; a failed payout gives it back the same way, once. The wallet keeps
KES minor units; payouts are whole shillings (M-Pesa's unit).
"""

from __future__ import annotations

from chalicelib.consult.models import credits as credit_models
from chalicelib.consult.models import items
from chalicelib.core import db
from chalicelib.payments import payees
from chalicelib.payments.models import payouts
from chalicelib.payments.models.items import PayoutItem
from chalicelib.payments.service import b2c

PRODUCT = "consult"
MINOR = 100  # wallet units per shilling


class DoctorWallet:
    product = PRODUCT

    def debited(self, amount: int) -> int:
        return amount * MINOR

    def debit(self, tx: db.Tx, account: str, units: int, now: float) -> None:
        credit_models.pay_out(tx, account, units, now)

    def reverse(self, tx: db.Tx, account: str, units: int, now: float) -> None:
        Wallet = items.Wallet
        tx.update(
            Wallet(*items.wallet_key(account)),
            [Wallet.balance.add(units), Wallet.paid_out.add(-units), Wallet.updated_at.set(now)],
            label="wallet_reversal",
        )


PAYEE = payees.register(DoctorWallet())


def withdrawable(doctor_id: str) -> int:
    """Whole shillings of the doctor's balance."""
    wallet = credit_models.get_wallet(doctor_id)
    return int(wallet.balance) // MINOR if wallet else 0


def withdraw(doctor_id: str, phone: str, amount: int | None, by: str) -> PayoutItem:
    """``amount`` (all that is withdrawable when ``None``) to ``phone`` (``InsufficientBalance``)."""
    amount = withdrawable(doctor_id) if amount is None else amount
    if amount <= 0:
        raise payouts.InsufficientBalance()
    return b2c.withdraw(PRODUCT, doctor_id, phone, amount, by)


def mine(doctor_id: str, limit: int = 20) -> list[PayoutItem]:
    return payouts.of_account(PRODUCT, doctor_id, limit)
