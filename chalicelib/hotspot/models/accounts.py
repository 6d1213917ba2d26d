"""Paybill account numbers: one per router and package, short and stable, unique because each is
claimed with a conditional put (the number and the router+package pair in one transaction)."""

from __future__ import annotations

from chalicelib.core import clock, db
from chalicelib.hotspot import logic
from chalicelib.hotspot.models.items import PaybillAccount, paybill_key, paybill_of_key


def find(number: str) -> PaybillAccount | None:
    """The router and package of an account number (``None``: not ours)."""
    return db.get_or_none(PaybillAccount, *paybill_key(number))


def numbers(router_id: str, package_ids: list[str]) -> dict[str, str]:
    """The account numbers a router's packages already have, in one ``BatchGetItem`` (by 100)."""
    found: dict[str, str] = {}
    keys = [paybill_of_key(router_id, p) for p in package_ids]
    for start in range(0, len(keys), 100):
        for item in PaybillAccount.batch_get(keys[start : start + 100]):
            found[item.package_id] = item.account_number
    return found


def claim(router_id: str, package_id: str, attempts: int = 5) -> str:
    """The pair's account number: a new random one claimed together with the pair (a number taken
    by another pair is drawn again; a pair claimed meanwhile by a concurrent call keeps its own)."""
    for _ in range(attempts):
        number = logic.new_account_number()
        now = clock.now()
        by_number = PaybillAccount(
            *paybill_key(number),
            account_number=number,
            router_id=router_id,
            package_id=package_id,
            created_at=now,
        )
        by_pair = PaybillAccount(
            *paybill_of_key(router_id, package_id),
            account_number=number,
            router_id=router_id,
            package_id=package_id,
            created_at=now,
        )
        try:
            with db.transact() as tx:
                tx.put(by_number, PaybillAccount.pk.does_not_exist(), label="number")
                tx.put(by_pair, PaybillAccount.pk.does_not_exist(), label="pair")
        except db.Refused as refused:
            if refused.by("pair"):
                existing = db.get_or_none(
                    PaybillAccount, *paybill_of_key(router_id, package_id), consistent=True
                )
                if existing is not None:
                    return existing.account_number
            if refused.by("number") or refused.conflict:
                continue
            raise
        return number
    raise RuntimeError(f"no free Paybill account number after {attempts} draws")
