"""B2C (money out) and Transaction Status: the result and timeout bodies Safaricom posts, parsed
with mpesakit's model (``Result``: ``ResultType``, ``ResultCode``, ``ResultDesc``,
``OriginatorConversationID``, ``ConversationID``, ``TransactionID``, ``ResultParameters``)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from mpesakit.b2c.schemas import B2CResultCallback
from pydantic import ValidationError

from chalicelib.core.http import NestingTooDeep, NumberOutOfRange, loads
from chalicelib.integrations.mpesa.callback import CallbackError


def _flatten(data: Any) -> Any:
    """Safaricom nests the parameters (``ResultParameters.ResultParameter``, a list or a single
    item); mpesakit's model takes the list."""
    result = data.get("Result") if isinstance(data, dict) else None
    if isinstance(result, dict) and isinstance(result.get("ResultParameters"), dict):
        inner = result["ResultParameters"].get("ResultParameter") or []
        data = {
            **data,
            "Result": {**result, "ResultParameters": inner if isinstance(inner, list) else [inner]},
        }
    return data


@dataclass(frozen=True)
class B2CResult:
    originator_id: str  # ours: the payout's stable OriginatorConversationID
    conversation_id: str
    result_code: str
    result_desc: str
    transaction_id: str | None
    parameters: dict[str, Any]

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0"


def parse_result(raw: bytes | str | dict[str, Any]) -> B2CResult:
    """A B2C result, timeout or Transaction Status result; ``CallbackError`` when it is not one."""
    try:
        data = raw if isinstance(raw, dict) else loads(raw or b"")
    except (NestingTooDeep, NumberOutOfRange) as error:
        raise CallbackError(f"not a B2C result: {error}") from None
    except (ValueError, UnicodeDecodeError):
        raise CallbackError("body is not JSON") from None
    try:
        result = B2CResultCallback.model_validate(_flatten(data)).Result
    except ValidationError as error:
        first = error.errors()[0]
        raise CallbackError(f"not a B2C result: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    if not result.OriginatorConversationID.strip():
        raise CallbackError("empty OriginatorConversationID")
    code = str(result.ResultCode).strip()
    with contextlib.suppress(ValueError):  # 0 and "0" alike; "SFC_IC0003" stays text
        code = str(int(code))
    return B2CResult(
        originator_id=result.OriginatorConversationID.strip(),
        conversation_id=result.ConversationID,
        result_code=code,
        result_desc=result.ResultDesc,
        transaction_id=result.TransactionID,
        parameters={p.Key: p.Value for p in (result.ResultParameters or [])},
    )
