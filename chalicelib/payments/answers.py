"""What every product's buy routes answer: the purchase's status, and Daraja's refusal.

One shape and one mapping for the hotspot's portal, consult's and classes' purchases. A request
Daraja refused
(a number it won't push to, an amount it won't take) is the buyer's to fix, 422; Daraja down,
slow or refusing *us* (401/403/429) is ours, 502, and nothing was charged either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, Field

from chalicelib.core.errors import MudaError, Unprocessable
from chalicelib.integrations.mpesa import DarajaError


class PurchaseOut(BaseModel):
    """A purchase as its buyer sees it (``payments.service.stk.view``) and where to poll it."""

    payment_id: str
    status: str = Field(description="pending | paid | cancelled | failed")
    offer_id: str
    offer_name: str | None = None
    amount: int
    phone: str
    reason: str | None = None
    message: str | None = None
    result_code: str | None = None
    result_desc: str | None = None
    receipt: str | None = None
    created_at: float
    settled_at: float | None = None
    status_url: str


def purchase_out(view: dict[str, Any], statuses: str) -> PurchaseOut:
    """``view`` with its status URL under ``statuses`` (e.g. ``/me/consult/purchases``)."""
    return PurchaseOut(**view, status_url=f"{statuses}/{view['payment_id']}")


class BadGateway(MudaError):
    status, code = 502, "mpesa_unavailable"


@contextmanager
def daraja_answers() -> Iterator[None]:
    """Turn a ``DarajaError`` raised inside into the buyer's 422 or 502."""
    try:
        yield
    except DarajaError as error:
        if error.refused:
            raise Unprocessable(
                f"M-Pesa refused the request: {error.message}", code="mpesa_rejected"
            ) from None
        raise BadGateway("M-Pesa is not answering right now; nothing was charged. Try again.") from None
