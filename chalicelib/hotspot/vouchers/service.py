"""Voucher batches, the operator's side: generate, list, sell, revoke, and the CSV and printable
sheet of a batch's codes."""

from __future__ import annotations

import csv
import html
import io
import re
from collections import deque
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.core import clock, ids
from chalicelib.core.errors import Conflict, NotFound, Unprocessable
from chalicelib.hotspot.logic import InvalidInput, iso
from chalicelib.hotspot.models import catalog
from chalicelib.hotspot.vouchers import logic, models
from chalicelib.hotspot.vouchers.models import BatchItem, VoucherItem

SHEET = Path(__file__).parent / "sheet.html"
DRAWS = 5  # a clash among 2^50 codes is rare; five draws in a row is a broken random source


def generate(
    package_id: str, router_id: str | None, count: int, valid_until: datetime, label: str | None
) -> BatchItem:
    """``count`` fresh codes for a package on a router (``None``: every router it is sold on),
    valid until ``valid_until``. Written ``CHUNK`` a transaction, each code only if new; the
    batch is written with the last chunk, so it never names a code that does not exist."""
    now = clock.now()
    until = valid_until.timestamp()
    if until <= now:
        raise Unprocessable("expires_at must be in the future", code="validation_error")
    package = catalog.get_package(package_id)
    if package is None or not package.active:
        raise Unprocessable(f"no active package {package_id}", code="package_not_available")
    sold_on = list(package.router_ids or [])
    if router_id is not None and router_id not in sold_on:
        raise Unprocessable(f"package {package_id} is not sold on router {router_id}", code="wrong_router")
    batch = models.new_batch(
        ids.new_id("vb_"),
        {
            "package_id": package_id,
            "package": package.snapshot(),
            "router_id": router_id,
            "router_ids": [router_id] if router_id else sold_on,
            "count": count,
            "label": label,
            "valid_until": until,
            "status": logic.ACTIVE,
            "created_at": now,
            "unused": count,
        },
    )
    codes = _draw(count, set())
    for start in range(0, count, models.CHUNK):
        chunk = codes[start : start + models.CHUNK]
        last = start + models.CHUNK >= count
        for _ in range(DRAWS):
            clashes = models.put_codes(chunk, batch, last, codes)
            if not clashes:
                break
            fresh = iter(_draw(len(clashes), set(codes)))
            chunk = [next(fresh) if c in clashes else c for c in chunk]
            codes[start : start + models.CHUNK] = chunk
        else:
            raise RuntimeError(f"{DRAWS} draws of voucher codes clashed: is the random source broken?")
    return batch


def _draw(count: int, taken: set[str]) -> list[str]:
    """``count`` distinct new codes, none in ``taken`` (one transaction may not write an item twice)."""
    out: list[str] = []
    while len(out) < count:
        code = logic.new_code()
        if code not in taken:
            taken.add(code)
            out.append(code)
    return out


def batch(batch_id: str) -> BatchItem:
    found = models.get_batch(batch_id)
    if found is None:
        raise NotFound(f"no voucher batch {batch_id}")
    return found


def batches(limit: int, before: str | None) -> tuple[list[BatchItem], str | None]:
    return models.page(limit, before)


def view(item: BatchItem, now: float | None = None) -> dict[str, Any]:
    """A batch as the admin API shows it."""
    package, now = item.package, clock.now() if now is None else now
    return {
        "batch_id": item.batch_id,
        "package_id": item.package_id,
        "package_name": package["name"],
        "price": int(package["price"]),
        "router_id": item.router_id,
        "router_ids": list(item.router_ids),
        "count": int(item.count),
        "label": item.label,
        "expires_at": iso(float(item.valid_until)),
        "status": logic.batch_status(
            item.status, float(item.valid_until), clock.now() if now is None else now
        ),
        "created_at": iso(float(item.created_at)),
        "revoked_at": iso(float(item.revoked_at)) if item.revoked_at else None,
        "counts": item.counts(),
        "csv_url": f"/admin/vouchers/batches/{item.batch_id}/codes.csv",
        "sheet_url": f"/admin/vouchers/batches/{item.batch_id}/sheet",
    }


def code(raw: str) -> str:
    try:
        return logic.normalize_code(raw)
    except InvalidInput:
        raise NotFound("no such voucher", code="voucher_not_found") from None


def voucher(raw: str) -> dict[str, Any]:
    """One code, its status as its batch's counts count it, and who used it."""
    found = models.get(code(raw))
    if found is None:
        raise NotFound("no such voucher", code="voucher_not_found")
    return voucher_view(found, models.get_batch(found.batch_id))


def voucher_view(item: VoucherItem, batch: BatchItem | None) -> dict[str, Any]:
    batch_status = (
        logic.batch_status(batch.status, float(batch.valid_until), clock.now()) if batch else logic.REVOKED
    )

    def when(value: Any) -> str | None:
        return iso(float(value)) if value is not None else None

    return {
        "code": logic.grouped(item.code),
        "status": logic.code_status(item.status, batch_status),
        "batch_id": item.batch_id,
        "batch_status": batch_status,
        "package_id": item.package_id,
        "package_name": item.package["name"],
        "price": int(item.package["price"]),
        "router_id": item.router_id,
        "expires_at": iso(float(item.valid_until)),
        "sold_at": when(item.sold_at),
        "used_at": when(item.used_at),
        "used_by_mac": item.used_by_mac,
        "used_router_id": item.used_router_id,
        "subscription_id": item.subscription_id,
        "revoked_at": when(item.revoked_at),
    }


# --- selling and revoking -------------------------------------------------------------------------


def sell(batch_id: str, codes: list[str] | None, count: int | None) -> dict[str, Any]:
    """Mark codes sold (handed to an agent or a buyer; still redeemable): the ones named, or the
    first ``count`` unused ones in print order. A code used or revoked meanwhile is skipped (and,
    for ``count``, replaced by the next unused one)."""
    now = clock.now()
    found = batch(batch_id)
    _sells(found, now)
    if codes is not None:
        queue = deque(dict.fromkeys(codes))
        needed = len(queue)
    else:
        _, printed = models.batch_with_codes(batch_id)
        state = models.many(printed)
        queue = deque(c for c in printed if state[c].status == logic.UNUSED)
        needed = count or 0
        if len(queue) < needed:
            raise Conflict(f"the batch has {len(queue)} unused codes, not {needed}", code="not_enough_codes")
    marked: list[str] = []
    skipped: list[str] = []
    while queue and len(marked) < needed:
        chunk = [queue.popleft() for _ in range(min(models.CHUNK, needed - len(marked), len(queue)))]
        refused = models.sell(batch_id, chunk, now)
        if refused is None:
            marked.extend(chunk)
            continue
        if refused.by("batch"):
            _sells(batch(batch_id), now)  # revoked or expired meanwhile: say which
        bad = {label[5:] for label in refused.refused if label.startswith("code:")}
        if not bad:
            raise RuntimeError(f"selling vouchers was refused: {refused.reasons}")
        skipped.extend(c for c in chunk if c in bad)
        queue.extendleft(reversed([c for c in chunk if c not in bad]))
    state = models.many(skipped)
    return {
        "marked": [logic.grouped(c) for c in marked],
        "skipped": [
            {"code": logic.grouped(c), "status": _skipped_status(state.get(c), batch_id)} for c in skipped
        ],
        "batch": view(batch(batch_id), now),
    }


def _sells(item: BatchItem, now: float) -> None:
    status = logic.batch_status(item.status, float(item.valid_until), now)
    if status != logic.ACTIVE:
        raise Conflict(f"voucher batch {item.batch_id} is {status}", code=f"batch_{status}")


def _skipped_status(item: VoucherItem | None, batch_id: str) -> str:
    if item is None:
        return "not_found"
    return item.status if item.batch_id == batch_id else "other_batch"


def revoke(raw: str) -> dict[str, Any]:
    """One code refused from now on (a used code cannot be; revoking twice is harmless)."""
    the_code = code(raw)
    for _ in range(DRAWS):
        found = models.get(the_code)
        if found is None:
            raise NotFound("no such voucher", code="voucher_not_found")
        if found.status == logic.USED:
            raise Conflict("this voucher has been used already", code="voucher_used")
        parent = models.get_batch(found.batch_id)
        if found.status == logic.REVOKED:
            return voucher_view(found, parent)
        counted = parent is not None and parent.status == logic.ACTIVE
        if models.revoke(found, clock.now(), with_counts=counted) is None:
            return voucher_view(found, models.get_batch(found.batch_id))
        # used, sold or its batch revoked meanwhile: read again and decide again
    raise Conflict("the voucher is busy; try again", code="busy")


def revoke_batch(batch_id: str) -> dict[str, Any]:
    """Every code of the batch not used yet refused from now on (revoking twice is harmless)."""
    found = batch(batch_id)
    if found.status != logic.REVOKED and not models.revoke_batch(found, clock.now()):
        found = batch(batch_id)  # revoked by another request meanwhile
    return view(found)


# --- export ---------------------------------------------------------------------------------------

CSV_COLUMNS = ("code", "status", "package", "price", "expires_at", "used_at", "used_by_mac")


def csv_text(batch_id: str) -> str:
    """Every code of the batch, in print order, with its status as the counts count it."""
    found, codes = models.batch_with_codes(batch_id)
    if found is None:
        raise NotFound(f"no voucher batch {batch_id}")
    state = models.many(codes)
    status = logic.batch_status(found.status, float(found.valid_until), clock.now())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for c in codes:
        item = state[c]
        writer.writerow(
            [
                logic.grouped(c),
                logic.code_status(item.status, status),
                logic.csv_safe(found.package["name"]),
                int(found.package["price"]),
                iso(float(found.valid_until)),
                iso(float(item.used_at)) if item.used_at is not None else "",
                item.used_by_mac or "",
            ]
        )
    return out.getvalue()


@cache
def _template() -> str:
    return SHEET.read_text(encoding="utf-8")


def sheet(batch_id: str) -> str:
    """The printable sheet: one card per code, in print order, cut lines between them."""
    found, codes = models.batch_with_codes(batch_id)
    if found is None:
        raise NotFound(f"no voucher batch {batch_id}")
    package = found.package
    routers = [catalog.get_router(r) for r in found.router_ids]
    where = ", ".join(r.name for r in routers if r is not None) or "our hotspots"
    terms = [logic.human_duration(package["validity_seconds"])]
    if package.get("limit_bytes_total"):
        terms.append(str(logic.human_bytes(package["limit_bytes_total"])))
    if package.get("limit_uptime_seconds"):
        terms.append(f"{logic.human_duration(package['limit_uptime_seconds'])} online")
    e = {
        k: html.escape(v, quote=True)
        for k, v in {
            "where": where,
            "package": package["name"],
            "price": f"KES {int(package['price']):,}",
            "terms": " · ".join(terms),
            "until": logic.local_date(float(found.valid_until)),
        }.items()
    }
    cards = "\n".join(
        f'<div class="card"><div class="where">{e["where"]}</div>'
        f'<div class="pkg"><b>{e["package"]}</b><span>{e["price"]}</span></div>'
        f'<div class="terms">{e["terms"]}</div><div class="code">{logic.grouped(c)}</div>'
        f'<div class="until">Use by {e["until"]} EAT</div></div>'
        for c in codes
    )
    title = html.escape(f"{package['name']} vouchers" + (f" · {found.label}" if found.label else ""))
    values = {"TITLE": title, "COUNT": str(len(codes)), "CARDS": cards}
    return re.sub(r"\{\{(TITLE|COUNT|CARDS)\}\}", lambda m: values[m[1]], _template())
