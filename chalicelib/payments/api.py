"""Payments API routes: Safaricom's STK callback and C2B validation/confirmation (public, path
secret)."""

from __future__ import annotations

import json

from chalice import Response

from chalicelib.core.http import Api, Call
from chalicelib.payments.service import b2c, c2b, stk

api = Api(__name__, tag="payments")


def answer(result: stk.CallbackAnswer) -> Response:
    return Response(
        body=json.dumps(result.body), status_code=result.status, headers={"Content-Type": "application/json"}
    )


@api.route("/mpesa/callback/{token}", "POST", roles=None, errors=(400, 403))
def mpesa_callback(call: Call, token: str) -> Response:
    """Safaricom's STK callback: checked, kept once, settled; acknowledged at once."""
    return answer(stk.accept_callback(token, call.raw_body, call.source_ip))


@api.route("/mpesa/c2b/validation/{token}", "POST", roles=None, errors=(403,))
def c2b_validation(call: Call, token: str) -> Response:
    """Safaricom asks whether to take a Paybill/Till payment: 0 accepts, C2B000xx rejects."""
    return answer(c2b.validate(token, call.raw_body, call.source_ip))


@api.route("/mpesa/c2b/confirmation/{token}", "POST", roles=None, errors=(400, 403))
def c2b_confirmation(call: Call, token: str) -> Response:
    """A Paybill/Till payment was made: acknowledged at once, settled once per TransID."""
    return answer(c2b.confirm(token, call.raw_body, call.source_ip))


@api.route("/mpesa/b2c/{kind}/{token}", "POST", roles=None, errors=(400, 403))
def b2c_result(call: Call, kind: str, token: str) -> Response:
    """A payout's result, queue timeout or Transaction Status result: settled once, never resent."""
    if kind not in ("result", "timeout", "status"):
        return answer(stk.CallbackAnswer(404, {"error": {"code": "not_found", "message": "not found"}}))
    return answer(b2c.accept(kind, token, call.raw_body, call.source_ip))
