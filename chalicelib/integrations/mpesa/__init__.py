"""M-Pesa Daraja: STK push, STK query and the STK callback, on mpesakit's payload models."""

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
    "CallbackError",
    "DarajaClient",
    "DarajaConfig",
    "DarajaError",
    "PushAccepted",
    "QueryResult",
    "StkResult",
    "parse_callback",
]
