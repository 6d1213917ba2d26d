"""What products sell through payments: one ``Offer`` per product, registered by the product.

The payments domain knows no product. A product registers an ``Offer`` that says

- ``quote``: what an offer costs and what the payment keeps of it (price lookup; also how a
  Paybill account reference is recognised);
- ``grant``: the product's writes added to the transaction that marks the payment paid, so the
  grant exists if and only if the payment is paid (a duplicate result stops at the payment's
  condition and grants nothing);
- ``followups``: what must happen after the commit and is not a write (a router command, a timer
  armed), claimed in that same transaction: a duplicate finds it claimed, a crashed worker's claim
  is taken over after a grace. It must be idempotent (a takeover may repeat it);
- ``account`` (optional, Paybill/Till): the quote a C2B payment to ``reference`` of ``amount`` from
  ``phone`` buys, ``None`` when the reference is not this product's, ``WrongAmount`` when it is
  but the amount is not for sale, ``ClaimLater`` when the payment is this product's but only its
  payer can say what it buys (a Till payment: no reference); such a payment is accepted, kept
  ``held`` and settled when the product claims it (``settlement.settle_held``);
- ``describe``: the product's part of ``PaymentProcessed``/``PaymentFailed`` (their ``source`` is
  ``muda.<product>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from chalicelib.core import db
    from chalicelib.payments.models.items import PaymentItem


class NotForSale(LookupError):
    """The offer does not exist, is inactive, or is not sold where it was asked for."""


class WrongAmount(ValueError):
    """A Paybill/Till account this product knows, paid an amount it does not sell."""


class ClaimLater(Exception):
    """A C2B payment this product takes, whose payer says later what it buys (a Till payment)."""


@dataclass(frozen=True)
class Quote:
    """An offer priced for one buyer, as the payment keeps it."""

    offer_id: str
    price: int  # whole KES (M-Pesa takes integers)
    snapshot: dict[str, Any]  # the offer as sold: its name and the terms the grant needs
    account_reference: str  # Daraja AccountReference (≤ 12 chars)
    description: str  # Daraja TransactionDesc (≤ 13 chars)
    scope: str | None = None
    account: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Granted:
    """What a grant wrote, recorded on the payment in the same transaction."""

    grant_id: str | None = None
    version: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    # What the grant built, for the follow-ups in the same process (a takeover reads instead).
    handoff: Any = field(default=None, compare=False, repr=False)


class Offer(Protocol):
    product: str

    def grant(self, tx: db.Tx, payment: PaymentItem, now: float, fresh: bool) -> Granted:
        """Add the grant's writes to ``tx``. ``fresh``: read the product's state again rather than
        trust what the payment knew when it was made (set after a refusal)."""
        ...

    def followups(self, payment: PaymentItem, granted: Granted | None) -> None:
        """After the commit (``granted`` is ``None`` on a takeover)."""
        ...

    def describe(self, payment: PaymentItem) -> dict[str, Any]: ...


_offers: dict[str, Offer] = {}


def register(offer: Offer) -> Offer:
    _offers[offer.product] = offer
    return offer


def registered() -> list[Offer]:
    return list(_offers.values())


def of(product: str) -> Offer:
    try:
        return _offers[product]
    except KeyError:
        raise LookupError(f"no offer registered for product {product!r}") from None
