"""Vouchers' items (in the hotspot table; their keys are spelled here only) and their reads and
conditional writes.

| item | pk / sk | gsi |
|---|---|---|
| voucher (one code) | ``VOUCHER#<code>`` / ``VOUCHER`` | |
| batch: package, routers, expiry, status, counts | ``VBATCH#<id>`` / ``BATCH`` | gsi1 ``VBATCHES`` / id |
| the batch's codes, in print order | ``VBATCH#<id>`` / ``CODES`` | |

The counts (``unused``, ``sold``, ``used``, ``revoked``) live on the batch and move in the same
transaction as the codes' status, conditioned on the status each code was read in and on the
batch being active, so they are exact at every commit; revoking the batch freezes them (its
unused and sold codes are read as revoked). The expiry is ``valid_until``: ``expires_at`` is the table's TTL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.attributes import JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.core import db
from chalicelib.core.db import MudaModel
from chalicelib.hotspot.models.items import Gsi1, PackageItem, package_key
from chalicelib.hotspot.vouchers import logic

BATCHES = "VBATCHES"
CHUNK = 98  # codes per transaction: with the batch and its code list, DynamoDB's 100 items


def voucher_key(code: str) -> tuple[str, str]:
    return f"VOUCHER#{code}", "VOUCHER"


def batch_key(batch_id: str) -> tuple[str, str]:
    return f"VBATCH#{batch_id}", "BATCH"


def codes_key(batch_id: str) -> tuple[str, str]:
    return f"VBATCH#{batch_id}", "CODES"


class VoucherItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="VOUCHER")
    code = UnicodeAttribute()
    batch_id = UnicodeAttribute()
    # Copied from the batch (immutable there): a redemption reads one item before its write.
    package_id = UnicodeAttribute()
    package = JSONAttribute()  # the package as printed (``PackageItem.snapshot``)
    router_id = UnicodeAttribute(null=True)  # None: any router the package is sold on
    valid_until = NumberAttribute()
    status = UnicodeAttribute()  # unused | sold | used | revoked
    created_at = NumberAttribute()
    sold_at = NumberAttribute(null=True)
    used_at = NumberAttribute(null=True)
    used_by_mac = UnicodeAttribute(null=True)
    used_router_id = UnicodeAttribute(null=True)
    subscription_id = UnicodeAttribute(null=True)
    revoked_at = NumberAttribute(null=True)


class BatchItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="BATCH")
    batch_id = UnicodeAttribute()
    package_id = UnicodeAttribute()
    package = JSONAttribute()
    router_id = UnicodeAttribute(null=True)  # None: every router the package is sold on
    router_ids = ListAttribute(of=UnicodeAttribute)  # where it was sold at generation (the sheet)
    count = NumberAttribute()
    label = UnicodeAttribute(null=True)
    valid_until = NumberAttribute()
    status = UnicodeAttribute()  # active | revoked (expired: active past valid_until)
    created_at = NumberAttribute()
    revoked_at = NumberAttribute(null=True)
    unused = NumberAttribute(default=0)
    sold = NumberAttribute(default=0)
    used = NumberAttribute(default=0)
    revoked = NumberAttribute(default=0)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()

    def counts(self) -> dict[str, int]:
        """Codes by status; a revoked batch's unused and sold ones are revoked."""
        kept = {k: int(getattr(self, k) or 0) for k in (logic.UNUSED, logic.SOLD, logic.USED, logic.REVOKED)}
        if self.status == logic.REVOKED:
            kept[logic.REVOKED] += kept.pop(logic.UNUSED) + kept.pop(logic.SOLD)
            kept = {logic.UNUSED: 0, logic.SOLD: 0, **kept}
        return kept


class CodesItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="CODES")
    batch_id = UnicodeAttribute()
    codes = ListAttribute(of=UnicodeAttribute)


# --- reads ----------------------------------------------------------------------------------------


def get(code: str) -> VoucherItem | None:
    return db.get_or_none(VoucherItem, *voucher_key(code), consistent=True)


def get_batch(batch_id: str) -> BatchItem | None:
    return db.get_or_none(BatchItem, *batch_key(batch_id), consistent=True)


def batch_with_codes(batch_id: str) -> tuple[BatchItem | None, list[str]]:
    """A batch and its codes in print order."""
    batch = get_batch(batch_id)
    found = db.get_or_none(CodesItem, *codes_key(batch_id), consistent=True) if batch else None
    return batch, list(found.codes) if found else []


def many(codes: list[str]) -> dict[str, VoucherItem]:
    """Vouchers by code (``BatchGetItem``, 100 keys a call, consistent)."""
    found: dict[str, VoucherItem] = {}
    for start in range(0, len(codes), 100):
        keys = [voucher_key(c) for c in codes[start : start + 100]]
        for item in VoucherItem.batch_get(keys, consistent_read=True):
            found[item.code] = item
    return found


def page(limit: int, before: str | None) -> tuple[list[BatchItem], str | None]:
    """Batches newest first (ids are time-ordered); the cursor is the last id of a full page."""
    condition = BatchItem.gsi1sk < before if before else None
    query = BatchItem.gsi1.query(
        BATCHES, range_key_condition=condition, scan_index_forward=False, page_size=limit
    )
    items: list[BatchItem] = []
    for item in query:
        items.append(item)
        if len(items) == limit:
            break
    return items, items[-1].batch_id if len(items) == limit else None


# --- writes ---------------------------------------------------------------------------------------


def new_voucher(code: str, batch: BatchItem) -> VoucherItem:
    return VoucherItem(
        *voucher_key(code),
        code=code,
        batch_id=batch.batch_id,
        package_id=batch.package_id,
        package=batch.package,
        router_id=batch.router_id,
        valid_until=batch.valid_until,
        status=logic.UNUSED,
        created_at=batch.created_at,
    )


def new_batch(batch_id: str, fields: dict[str, Any]) -> BatchItem:
    return BatchItem(*batch_key(batch_id), batch_id=batch_id, gsi1pk=BATCHES, gsi1sk=batch_id, **fields)


def put_codes(codes: list[str], batch: BatchItem, last: bool, all_codes: list[str]) -> set[str]:
    """Write ``codes`` (at most ``CHUNK``), each only if no voucher has that code; with the last
    chunk, the batch and its code list, so a batch exists only with all its codes. Returns the
    codes that already existed (nothing written then: the caller draws others and repeats)."""

    def write() -> None:
        with db.transact() as tx:
            for code in codes:
                tx.put(new_voucher(code, batch), VoucherItem.pk.does_not_exist(), label=f"code:{code}")
            if last:
                tx.put(batch, BatchItem.pk.does_not_exist(), label="batch")
                tx.put(CodesItem(*codes_key(batch.batch_id), batch_id=batch.batch_id, codes=all_codes))

    try:
        db.retry_on_conflict(write)
    except db.Refused as refused:
        clashes = {label[5:] for label in refused.refused if label.startswith("code:")}
        if not clashes:
            raise
        return clashes
    return set()


def _moved(tx: db.Tx, batch_id: str, moves: dict[str, int], condition: Any) -> None:
    """The batch's counts moved by ``moves`` (``{"unused": -1, "used": 1}``), under ``condition``
    (label ``batch``)."""
    actions = [getattr(BatchItem, name).add(delta) for name, delta in moves.items() if delta]
    tx.update(BatchItem(*batch_key(batch_id)), actions, condition, label="batch")


def redeemable_batch(now: float) -> Any:
    """A batch whose codes may still be sold or redeemed."""
    return (BatchItem.status == logic.ACTIVE) & (BatchItem.valid_until > now)


def use(tx: db.Tx, voucher: VoucherItem, mac: str, router_id: str, subscription_id: str, now: float) -> None:
    """The code ``unused|sold → used`` by this device (label ``voucher``: refused unless it is
    still in the status it was read in), the batch's counts with it (label ``batch``: refused
    once the batch is revoked or expired), while its package is sold on this router (label
    ``package``)."""
    sold_here = PackageItem.router_ids.contains(router_id)
    tx.check(PackageItem, *package_key(voucher.package_id), sold_here, label="package")
    actions = db.updates(
        VoucherItem,
        {
            "status": logic.USED,
            "used_at": now,
            "used_by_mac": mac,
            "used_router_id": router_id,
            "subscription_id": subscription_id,
        },
    )
    tx.update(voucher, actions, VoucherItem.status == voucher.status, label="voucher")
    _moved(tx, voucher.batch_id, {voucher.status: -1, logic.USED: 1}, redeemable_batch(now))


def sell(batch_id: str, codes: Iterable[str], now: float) -> db.Refused | None:
    """Mark unused codes sold, with the batch's counts (one transaction of at most ``CHUNK``);
    the refusal when a code was no longer unused (label ``code:<code>``) or the batch no longer
    sells (``batch``)."""
    codes = list(codes)

    def write() -> None:
        with db.transact() as tx:
            for code in codes:
                tx.update(
                    VoucherItem(*voucher_key(code)),
                    db.updates(VoucherItem, {"status": logic.SOLD, "sold_at": now}),
                    (VoucherItem.status == logic.UNUSED) & (VoucherItem.batch_id == batch_id),
                    label=f"code:{code}",
                )
            _moved(tx, batch_id, {logic.UNUSED: -len(codes), logic.SOLD: len(codes)}, redeemable_batch(now))

    try:
        db.retry_on_conflict(write)
    except db.Refused as refused:
        return refused
    return None


def revoke(voucher: VoucherItem, now: float, with_counts: bool) -> db.Refused | None:
    """A code ``unused|sold → revoked`` as read (label ``voucher``); ``with_counts``: the batch's
    counts too, while the batch is active (label ``batch``; a revoked batch counted it already)."""
    fields = {"status": logic.REVOKED, "revoked_at": now}

    def write() -> None:
        with db.transact() as tx:
            condition = VoucherItem.status == voucher.status
            tx.update(voucher, db.updates(VoucherItem, fields), condition, label="voucher")
            if with_counts:
                moves = {voucher.status: -1, logic.REVOKED: 1}
                _moved(tx, voucher.batch_id, moves, BatchItem.status == logic.ACTIVE)

    try:
        db.retry_on_conflict(write)
    except db.Refused as refused:
        return refused
    db.apply(voucher, fields)
    return None


def revoke_batch(batch: BatchItem, now: float) -> bool:
    """The batch revoked (``False`` if it was already). Its counts freeze: every later change of
    a code's counts is conditioned on an active batch; ``counts`` reads its unused and sold as
    revoked."""
    fields = {"status": logic.REVOKED, "revoked_at": now}
    return db.update_if(batch, db.updates(BatchItem, fields), BatchItem.status == logic.ACTIVE)
