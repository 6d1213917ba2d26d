"""A voucher redeemed at the captive portal: rate-limited, then one transaction that uses the
code, moves its batch's counts and grants the access, or changes nothing.

How a race is decided: every racer reads the code ``unused`` (or ``sold``) and sends the same
transaction conditioned on that status and on the batch being active. DynamoDB commits one;
the others are refused (or, while the winner is in flight, cancelled for contention and retried
until they are refused), read the code again, find it used by another device and answer
``voucher_used``. Nothing of a refused transaction is written: no subscription, no user, no
timer, no count.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.core import clock, db
from chalicelib.hotspot.logic import ACTIVE
from chalicelib.hotspot.models import subscriptions
from chalicelib.hotspot.models.items import SubscriptionItem
from chalicelib.hotspot.service import devices
from chalicelib.hotspot.service.purchase import ProvisionCheck, grant_access, send_followups
from chalicelib.hotspot.vouchers import logic, models
from chalicelib.payments.offers import Granted

ROUNDS = 4  # reads of the code: the first, and one after each refused write


@dataclass(frozen=True)
class Redeemed:
    subscription: SubscriptionItem
    package_id: str
    package_name: str
    created: bool  # False: this device had redeemed it already (a retried request)


class Busy(Exception):
    """Still refused after ``ROUNDS`` reads, with the code redeemable: contention, try again."""


def redeem(code: str, router_id: str, mac: str, ip: str | None, source_ip: str | None) -> Redeemed:
    """The access a code buys for this device on this router, once. Raises ``logic.Refused``
    (not found, used, revoked, expired, not for this router), ``TooManyRequests`` or ``Busy``."""
    devices.limit("voucher tries", "voucher", mac, source_ip)
    batch_status: str | None = None  # known once the batch's condition refused
    sold_here = True  # until the package's condition refused
    for _ in range(ROUNDS):
        now = clock.now()
        voucher = models.get(code)
        decision = logic.verdict(
            status=voucher.status if voucher else None,
            used_by_mac=voucher.used_by_mac if voucher else None,
            only_router=voucher.router_id if voucher else None,
            valid_until=float(voucher.valid_until) if voucher else 0.0,
            batch=batch_status,
            sold_here=sold_here,
            mac=mac,
            router_id=router_id,
            now=now,
        )
        if voucher is None:  # verdict refused it already; this says so to the type checker
            raise logic.Refused("voucher_not_found")
        if decision == "replay":
            return _replay(voucher)
        try:
            granted, check = _use(voucher, router_id, mac, ip, now)
        except db.Refused as refused:
            sold_here = not refused.by("package")
            if refused.by("batch"):
                batch = models.get_batch(voucher.batch_id)
                if batch is None:  # codes written by a generation that died before its batch
                    raise logic.Refused("voucher_not_found") from None
                batch_status = logic.batch_status(batch.status, float(batch.valid_until), now)
            continue  # the code changed (used, sold, revoked) or the batch did: decide again
        sub = granted.handoff
        check.arm()  # first: a death before the command's send is then caught at the check's due time
        send_followups(sub, granted.version, float(granted.fields["expires_at"]))
        return Redeemed(sub, voucher.package_id, voucher.package["name"], created=True)
    raise Busy(code)


def _use(
    voucher: models.VoucherItem, router_id: str, mac: str, ip: str | None, now: float
) -> tuple[Granted, ProvisionCheck]:
    """The code used, the batch's counts, the subscription, its hotspot user (the code),
    pointer, expiry timer and provision check: one ``TransactWriteItems``. A code is used once,
    so its buyer (``voucher:<code>``) has no user or subscription yet and the grant reads
    nothing."""
    sale = logic.sale(voucher.code, router_id, voucher.package_id, voucher.package, mac, ip)

    def write() -> tuple[Granted, ProvisionCheck]:
        with db.transact() as tx:
            granted = grant_access(tx, sale, now, seen=(False, None))
            check = ProvisionCheck.after(granted.grant_id, granted.version, now)
            check.add(tx)
            models.use(tx, voucher, mac, router_id, granted.grant_id, now)
        return granted, check

    return db.retry_on_conflict(write)


def _replay(voucher: models.VoucherItem) -> Redeemed:
    """The same device again: the same subscription. Its follow-ups are sent again while the
    router has not confirmed it (the provisioning command is an upsert and the timer's arming is
    idempotent): a process that died between the commit and the send is made good here, if the
    provision check has not already done it."""
    sub = subscriptions.get(voucher.subscription_id or "")
    if sub is None:
        raise logic.Refused("voucher_used")
    if sub.status == ACTIVE and sub.provision_status == "pending":
        send_followups(sub, int(sub.provision_version), float(sub.expires_at_ts))
    return Redeemed(sub, voucher.package_id, voucher.package["name"], created=False)
