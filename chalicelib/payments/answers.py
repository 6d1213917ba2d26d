"""Daraja's answer to a payment request, as the HTTP answer every product's buy route gives.

One mapping for the hotspot's portal, consult's and classes' purchases: a request Daraja refused
(a number it won't push to, an amount it won't take) is the buyer's to fix, 422; Daraja down,
slow or refusing *us* (401/403/429) is ours, 502, and nothing was charged either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from chalicelib.core.errors import MudaError, Unprocessable
from chalicelib.integrations.mpesa import DarajaError


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
