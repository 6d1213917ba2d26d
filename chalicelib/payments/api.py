"""Payments API routes: Safaricom's STK callback (public, path secret)."""

from __future__ import annotations

import json

from chalice import Response

from chalicelib.core.http import Api, Call
from chalicelib.payments.service import stk

api = Api(__name__, tag="payments")


def answer(result: stk.CallbackAnswer) -> Response:
    return Response(
        body=json.dumps(result.body), status_code=result.status, headers={"Content-Type": "application/json"}
    )


@api.route("/mpesa/callback/{token}", "POST", roles=None, errors=(400, 403))
def mpesa_callback(call: Call, token: str) -> Response:
    """Safaricom's STK callback: checked, kept once, settled; acknowledged at once."""
    return answer(stk.accept_callback(token, call.raw_body, call.source_ip))
