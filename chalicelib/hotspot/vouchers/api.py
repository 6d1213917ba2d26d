"""Voucher routes: batches (admin), redemption (the portal)."""

from __future__ import annotations

from chalice import Response

from chalicelib.core.errors import Conflict, MudaError, NotFound, Unprocessable
from chalicelib.core.http import Api, Call, json_response
from chalicelib.hotspot.vouchers import logic, redeem, service
from chalicelib.hotspot.vouchers.schemas import (
    BatchIn,
    BatchOut,
    BatchPage,
    BatchQuery,
    RedeemIn,
    RedeemOut,
    SellIn,
    SellOut,
    VoucherOut,
)

api = Api(__name__, tag="hotspot")
ADMIN = ("admin",)
STATUS = {"voucher_not_found": 404, "voucher_not_for_router": 422}  # the others: 409


def _batch(item: service.BatchItem) -> BatchOut:
    return BatchOut.model_validate(service.view(item))


# --- batches (admin) -----------------------------------------------------------------------------


@api.route(
    "/admin/vouchers/batches", "POST", body=BatchIn, response=BatchOut, status=201, roles=ADMIN, errors=(422,)
)
def create_batch(call: Call) -> BatchOut:
    """Generate 1-1000 codes for a package on a router (or every router it is sold on)."""
    body: BatchIn = call.body
    return _batch(service.generate(body.package_id, body.router_id, body.count, body.expires_at, body.label))


@api.route("/admin/vouchers/batches", query=BatchQuery, response=BatchPage, roles=ADMIN)
def list_batches(call: Call) -> BatchPage:
    """Voucher batches, newest first, with their counts (``?limit=``, ``?before=``)."""
    items, cursor = service.batches(call.args.limit, call.args.before)
    return BatchPage(batches=[_batch(i) for i in items], next=cursor)


@api.route("/admin/vouchers/batches/{batch_id}", response=BatchOut, roles=ADMIN)
def get_batch(call: Call, batch_id: str) -> BatchOut:
    """One batch: its package, routers, expiry, status and counts (unused, sold, used, revoked)."""
    return _batch(service.batch(_id(batch_id)))


@api.route("/admin/vouchers/batches/{batch_id}/codes.csv", roles=ADMIN, content_type="text/csv")
def batch_csv(call: Call, batch_id: str) -> Response:
    """Every code of a batch as CSV: code,status,package,price,expires_at,used_at,used_by_mac."""
    text = service.csv_text(_id(batch_id))
    return Response(
        body=text,
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="vouchers-{batch_id}.csv"',
        },
    )


@api.route("/admin/vouchers/batches/{batch_id}/sheet", roles=ADMIN, content_type="text/html; charset=utf-8")
def batch_sheet(call: Call, batch_id: str) -> str:
    """The batch's printable sheet (A4, 24 cards a page, cut lines)."""
    return service.sheet(_id(batch_id))


@api.route("/admin/vouchers/batches/{batch_id}/revoke", "POST", response=BatchOut, roles=ADMIN)
def revoke_batch(call: Call, batch_id: str) -> BatchOut:
    """Refuse every code of the batch not used yet, from now on."""
    return BatchOut.model_validate(service.revoke_batch(_id(batch_id)))


@api.route(
    "/admin/vouchers/batches/{batch_id}/sold",
    "POST",
    body=SellIn,
    response=SellOut,
    roles=ADMIN,
    errors=(409,),
)
def sell(call: Call, batch_id: str) -> SellOut:
    """Mark codes sold (handed to an agent or buyer; still redeemable): named, or the next N."""
    body: SellIn = call.body
    return SellOut.model_validate(service.sell(_id(batch_id), body.codes, body.count))


# --- one code (admin) ----------------------------------------------------------------------------


@api.route("/admin/vouchers/{code}", response=VoucherOut, roles=ADMIN)
def get_voucher(call: Call, code: str) -> VoucherOut:
    """One code: its status, batch, and the device and subscription that used it."""
    return VoucherOut.model_validate(service.voucher(code))


@api.route("/admin/vouchers/{code}/revoke", "POST", response=VoucherOut, roles=ADMIN, errors=(409,))
def revoke_voucher(call: Call, code: str) -> VoucherOut:
    """Refuse one code from now on (not one already used)."""
    return VoucherOut.model_validate(service.revoke(code))


def _id(batch_id: str) -> str:
    if not batch_id.startswith("vb_") or len(batch_id) > 64:
        raise NotFound(f"no voucher batch {batch_id}")
    return batch_id


# --- the portal (public) --------------------------------------------------------------------------


@api.route(
    "/portal/vouchers/redeem",
    "POST",
    body=RedeemIn,
    response=RedeemOut,
    status=201,
    roles=None,
    errors=(404, 409, 429),
)
def redeem_voucher(call: Call) -> RedeemOut | Response:
    """Redeem a code for this device: 201 with the access to poll; 200 for the same device again."""
    body: RedeemIn = call.body
    try:
        done = redeem.redeem(body.code, body.router_id, body.mac_address, body.ip, call.source_ip)
    except logic.Refused as refused:
        raise _refusal(refused) from None
    except redeem.Busy:
        raise Conflict("Many devices are trying this code right now. Try again.", code="busy") from None
    sub_id = done.subscription.subscription_id
    out = RedeemOut(
        subscription_id=sub_id,
        status_url=f"/portal/access/{sub_id}",
        package={"id": done.package_id, "name": done.package_name},
        message="Code accepted. Setting up your access…" if done.created else "This code is already yours.",
    )
    return out if done.created else json_response(out.model_dump(mode="json"), 200)


def _refusal(refused: logic.Refused) -> MudaError:
    status = STATUS.get(refused.code, 409)
    kind = {404: NotFound, 422: Unprocessable}.get(status, Conflict)
    return kind(refused.message, code=refused.code)
