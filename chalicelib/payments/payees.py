"""Who can be paid out (B2C): one ``Payee`` per product that keeps an earned balance.

``debit`` and ``reverse`` add the balance's side to the payout's own transaction: the debit
(conditional on the balance, label ``wallet``) in the write that creates the payout, before any
money is sent; the reversal in the write that marks it failed, so it happens once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chalicelib.core import db


class Payee(Protocol):
    product: str

    def debited(self, amount: int) -> int:
        """What ``amount`` whole KES take from the balance (in the balance's units)."""
        ...

    def debit(self, tx: db.Tx, account: str, units: int, now: float) -> None: ...

    def reverse(self, tx: db.Tx, account: str, units: int, now: float) -> None: ...


_payees: dict[str, Payee] = {}


def register(payee: Payee) -> Payee:
    _payees[payee.product] = payee
    return payee


def of(product: str) -> Payee:
    try:
        return _payees[product]
    except KeyError:
        raise LookupError(f"no payee registered for product {product!r}") from None
