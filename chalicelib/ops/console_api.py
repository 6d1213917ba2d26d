"""The operations console's data (the ``/admin`` page reads these; docs/operations.md lists
their shapes): jobs still retrying, runtime health, the routers board and "check now", and the
look-ups of a payment, a consultation session, a class and a waiting-room event."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chalicelib.core import health
from chalicelib.core.errors import NotFound, Unprocessable
from chalicelib.core.http import Api, Call
from chalicelib.hotspot.logic import InvalidInput
from chalicelib.ops import lookups, queues, routers
from chalicelib.ops.schemas import (
    Lookup,
    PaymentLookup,
    PaymentQuery,
    RetryList,
    RetryQuery,
    RouterBoard,
    RouterChecked,
)

api = Api(__name__, tag="ops")
ADMIN = ("admin",)


@api.route("/admin/retries", query=RetryQuery, response=RetryList, roles=ADMIN)
def admin_retries(call: Call) -> RetryList:
    """Jobs on their second or later try: attempt n of N, the last error, when the next try is due."""
    return RetryList.model_validate({"retries": [asdict(r) for r in queues.retries(call.args.queue)]})


@api.route("/admin/health", response=health.Report, roles=ADMIN)
def admin_health(call: Call) -> health.Report:
    """The runtime's and the sweeper's heartbeats and each queue's oldest message (always 200:
    the page shows ``degraded``; ``/health`` answers it with 503)."""
    return health.report()


@api.route("/admin/ops/routers", response=RouterBoard, roles=ADMIN)
def admin_router_board(call: Call) -> RouterBoard:
    """Every router: online or offline, last check, last error, users provisioned."""
    return RouterBoard.model_validate({"routers": routers.board()})


@api.route("/admin/routers/{router_id}/check", "POST", response=RouterChecked, roles=ADMIN, errors=(404,))
def admin_router_check(call: Call, router_id: str) -> RouterChecked:
    """Probe one router now, through the provisioner's health path; its board row after."""
    found = routers.check(router_id)
    if found is None:
        raise NotFound(f"no router {router_id}")
    row, checked = found
    return RouterChecked.model_validate({"router": row, "checked": checked})


@api.route("/admin/lookup/payments", query=PaymentQuery, response=PaymentLookup, roles=ADMIN, errors=(422,))
def admin_lookup_payments(call: Call) -> PaymentLookup:
    """A payment by phone, M-Pesa receipt or CheckoutRequestID, with its timeline."""
    args: PaymentQuery = call.args
    try:
        found = lookups.find_payments(args.phone, args.receipt, args.checkout_request_id)
    except InvalidInput as error:
        raise Unprocessable(str(error), code="invalid_phone") from None
    return PaymentLookup(payments=found)


@api.route("/admin/lookup/consult/{session_id}", response=Lookup, roles=ADMIN, errors=(404,))
def admin_lookup_consult(call: Call, session_id: str) -> Lookup:
    """A consultation session and its ledger (debits and awards by interval)."""
    from chalicelib.consult import service
    from chalicelib.consult.api.shapes import ledger_out, session_out

    session, _ = service.load_session(session_id, call.user)
    ledger = ledger_out(service.session_ledger(session_id, call.user))
    return Lookup.model_validate(
        {"session": session_out(session).model_dump(mode="json"), "ledger": ledger.model_dump(mode="json")}
    )


@api.route("/admin/lookup/classes/{class_id}", response=Lookup, roles=ADMIN, errors=(404,))
def admin_lookup_class(call: Call, class_id: str) -> Lookup:
    """A class session explained: its moments, timers, history, attendance and why it is where it is."""
    from chalicelib.classes import service

    info: dict[str, Any] = dict(service.explain(class_id))
    info["session"] = lookups.plain(info["session"])
    return Lookup.model_validate({"class": info.pop("session"), "explain": lookups.plain(info)})


@api.route("/admin/lookup/waitroom/{event_id}", response=Lookup, roles=ADMIN, errors=(404,))
def admin_lookup_waitroom(call: Call, event_id: str) -> Lookup:
    """A waiting-room event's figures (queued, admitted, rates…)."""
    from chalicelib.waitroom import service

    return Lookup.model_validate({"stats": service.stats(event_id).model_dump(mode="json")})
