"""M-Pesa Daraja: STK push, STK query and the STK callback, C2B URLs and bodies, on mpesakit's
payload models."""

from chalicelib.integrations.mpesa.c2b import C2BPayment, parse_c2b
from chalicelib.integrations.mpesa.callback import CallbackError, StkResult, parse_callback
from chalicelib.integrations.mpesa.client import (
    STILL_PROCESSING,
    DarajaClient,
    DarajaConfig,
    DarajaError,
    PushAccepted,
    QueryResult,
)

__all__ = [
    "STILL_PROCESSING",
    "C2BPayment",
    "CallbackError",
    "DarajaClient",
    "DarajaConfig",
    "DarajaError",
    "PushAccepted",
    "QueryResult",
    "StkResult",
    "parse_c2b",
    "parse_callback",
]
