"""The hotspot's offer to the payments domain: what a package costs on a router, the access a
paid payment buys (its grant, in the transaction that marks the payment paid) and the follow-ups
claimed in it (the provisioning command and the expiry timer).

The quote reads the package and the buyer's hotspot user and current subscription in one
``BatchGetItem`` and keeps what it saw on the payment, so the grant of a first purchase needs no
read: the grant's conditions (user absent, pointer unchanged) refuse a stale plan, and the
settlement plans again from fresh reads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from chalicelib.core import clock, db, timers
from chalicelib.core.observability import logger
from chalicelib.hotspot import logic, messages
from chalicelib.hotspot.models import accounts, catalog, subscriptions
from chalicelib.hotspot.models.items import SubscriptionItem
from chalicelib.hotspot.settings import hotspot_settings
from chalicelib.payments import offers
from chalicelib.payments.models.items import PaymentItem

PRODUCT = "hotspot"
EXPIRE = "hotspot.expire"
PROVISION_CHECK = "hotspot.provision_check"


def quote(package_id: str, router_id: str, phone: str, mac: str | None, ip: str | None) -> offers.Quote:
    """A package for sale on a router, priced for this buyer (``NotForSale`` otherwise)."""
    package, user, current = subscriptions.buyer(phone, router_id, package_id)
    if package is None or not package.active or router_id not in (package.router_ids or []):
        raise offers.NotForSale(f"package {package_id} is not for sale on router {router_id}")
    s = hotspot_settings()
    return offers.Quote(
        offer_id=package.package_id,
        price=int(package.price),
        snapshot=package.snapshot(),
        account_reference=s.account_reference,
        description=s.transaction_desc,
        scope=router_id,
        context={
            "mac": mac,
            "ip": ip,
            # what the buyer had when the push went out (the grant's first plan)
            "known_user": user is not None,
            "current": current.subscription_id if current else None,
        },
    )


def grant_access(
    tx: db.Tx, sale: logic.Sale, now: float, seen: tuple[bool, str | None] | None = None
) -> offers.Granted:
    """The access a sale buys, added to ``tx``: a new subscription (with the buyer's hotspot user
    on a first purchase) or, while the buyer's subscription on this router is active, that one
    extended; its expiry timer written in the same transaction (armed by ``send_followups``).

    ``seen``: what the buyer had when the sale was quoted (``known_user``, current subscription
    id), so a first purchase reads nothing; ``None`` reads it now. Stale either way, the
    conditions refuse and the caller grants again with ``seen=None``."""
    if seen is None:
        user, current = subscriptions.buyer(sale.buyer, sale.router_id)[1:]
        current_id = current.subscription_id if current else None
    else:
        known_user, current_id = seen
        user = subscriptions.user(sale.buyer) if known_user else None
    active = subscriptions.get(current_id) if current_id else None
    if active is not None and not logic.still_active(active.status, float(active.expires_at_ts), now):
        active = None
    purchase = logic.plan_purchase(
        now,
        sale.package,
        active.term if active else None,
        int(active.provision_version or 0) if active else 0,
    )
    new_user = user is None
    user = user or subscriptions.new_user(sale, now)
    sub = active or subscriptions.new(sale, user, purchase, now)
    if new_user:
        subscriptions.add_user(tx, user)
    if purchase.renewal:
        db.apply(sub, subscriptions.renew(tx, sub, sale, purchase, now))
    else:
        subscriptions.start(tx, sub, current_id)
    timers.add(tx, EXPIRE, sub.subscription_id, purchase.term.expires_at, label="expiry")
    return offers.Granted(
        grant_id=sub.subscription_id,
        version=purchase.version,
        fields={"renewal": purchase.renewal, "expires_at": purchase.term.expires_at},
        handoff=sub,
    )


def send_followups(sub: SubscriptionItem, version: int, expires_at: float) -> None:
    """After the grant's commit: the provisioning command of the version it wrote (an upsert, so
    a repeat is harmless), and its expiry timer armed (unarmed, the sweeper still fires it)."""
    messages.router_command(command(sub, version))
    timers.arm(EXPIRE, sub.subscription_id, expires_at)


@dataclass(frozen=True)
class ProvisionCheck:
    """The safety net of a provisioning command sent after its write commits (a voucher
    redemption, a Paybill claim, a reconnect), where a process that dies in between would leave
    a paid access off the router: a ``PROVISION_CHECK`` timer keyed ``<subscription_id>#<version>``,
    written in that write's transaction (``add``) and armed after it (``arm``), that sends the
    version's command again if the provisioner never saw it (``recheck``).

    Its payload holds ``previous_mac`` alone (a move's: the subscription no longer holds it); the
    rest of the command is rebuilt from the subscription, which nothing changes without a new
    version, and the credentials stay off the timers table."""

    subscription_id: str
    version: int
    due_at: float
    previous_mac: str | None = None

    @classmethod
    def after(
        cls, subscription_id: str, version: int, now: float, previous_mac: str | None = None
    ) -> ProvisionCheck:
        """Due ``provision_check_seconds`` after a write at ``now``."""
        return cls(subscription_id, version, now + hotspot_settings().provision_check_seconds, previous_mac)

    @property
    def key(self) -> str:
        return f"{self.subscription_id}#{self.version}"

    def add(self, tx: db.Tx) -> None:
        payload = {"previous_mac": self.previous_mac} if self.previous_mac else None
        timers.add(tx, PROVISION_CHECK, self.key, self.due_at, payload, label="provision_check")

    def arm(self) -> None:
        timers.arm(PROVISION_CHECK, self.key, self.due_at)


def recheck(key: str, previous_mac: str | None) -> str:
    """A provision check come due (``<subscription_id>#<version>``): the version's command sent
    again if the subscription is still at that version, ``pending`` and active, and the
    provisioner recorded no try of it (every failed try writes ``provision_attempts`` and
    ``provision_error``, a success ``provisioned``, and a new version clears them); otherwise
    nothing. A repeat is harmless: the command is an upsert. Returns what it found."""
    subscription_id, _, number = key.rpartition("#")
    version = int(number)
    sub = subscriptions.get(subscription_id)
    if sub is None:
        return "unknown"
    if int(sub.provision_version or 0) != version:
        return "superseded"
    if sub.provision_status != "pending":
        return str(sub.provision_status)
    if not logic.still_active(sub.status, float(sub.expires_at_ts), clock.now()):
        return "ended"
    if sub.provision_attempts is not None or sub.provision_error is not None:
        return "trying"  # the provisioner has it and retries on its own backoff
    messages.router_command(command(sub, version, previous_mac))
    logger.warning(
        "provisioning command sent again: lost after its write, or the provisioner is behind",
        extra={"subscription_id": subscription_id, "version": version, "moved": previous_mac is not None},
    )
    return "resent"


def sale_of(payment: PaymentItem) -> logic.Sale:
    """A hotspot payment (STK push or Paybill/Till) as the sale it is (a C2B payer Safaricom
    masked buys for the payment alone: ``logic.buyer_of``)."""
    context = payment.context or {}
    buyer = (
        logic.buyer_of(payment.phone, payment.checkout_request_id)
        if payment.method == "c2b"
        else payment.phone
    )
    return logic.Sale(
        buyer=buyer,
        router_id=payment.scope or "",
        package_id=payment.offer_id,
        package=payment.offer,
        source=payment.payment_id,
        mac=context.get("mac"),
        ip=context.get("ip"),
    )


class HotspotOffer:
    product = PRODUCT

    def grant(self, tx: db.Tx, payment: PaymentItem, now: float, fresh: bool) -> offers.Granted:
        context = payment.context or {}
        known = context.get("known_user")
        sale = sale_of(payment)
        stale = fresh or known is None or sale.buyer != payment.phone  # quoted for a masked payer
        seen = None if stale else (bool(known), context.get("current"))
        return grant_access(tx, sale, now, seen)

    def followups(self, payment: PaymentItem, granted: offers.Granted | None) -> None:
        """The provisioning command of the version this payment bought, and its expiry armed."""
        sub = granted.handoff if granted else subscriptions.get(payment.grant_id or "")
        if sub is None:
            raise LookupError(f"paid payment {payment.payment_id} has no subscription")
        grant = payment.grant or {}
        version = int(payment.grant_version or sub.provision_version)
        send_followups(sub, version, float(grant.get("expires_at") or sub.expires_at_ts))

    def account(self, reference: str, phone: str, amount: int) -> offers.Quote | None:
        """Paybill: a router's and package's account number (``PortalRouter``'s
        ``account_number``, any case) buys that package on that router for the paying phone,
        at its price only (``WrongAmount`` otherwise). The access is bound to a device when the
        buyer claims it at the portal (the payment comes without a MAC)."""
        number = logic.normalize_account(reference)
        found = accounts.find(number) if number else None
        if found is None:
            if not reference.strip() and hotspot_settings().paybill_kind == "till":
                _till(amount)
            return None
        try:
            sold = quote(found.package_id, found.router_id, phone, None, None)
        except offers.NotForSale:
            return None  # the package stopped being sold there: an account nobody should pay
        if amount != sold.price:
            raise offers.WrongAmount(f"account {number} is KES {sold.price}, not {amount}")
        return replace(sold, context={**sold.context, "paybill": number})

    def describe(self, payment: PaymentItem) -> dict[str, Any]:
        grant = payment.grant or {}
        detail: dict[str, Any] = {"router_id": payment.scope, "package_id": payment.offer_id}
        if payment.grant_id:
            detail.update(
                subscription_id=payment.grant_id,
                renewal=bool(grant.get("renewal")),
                expires_at=logic.iso(float(grant["expires_at"])) if grant.get("expires_at") else None,
            )
        return detail


def _till(amount: int) -> None:
    """A Till (Buy Goods) payment names no package: taken if its amount is the price of an active
    package (``ClaimLater``: held until its payer claims it at the portal, where the router and
    the amount pick the package), refused otherwise (``WrongAmount``: the payer keeps the money)."""
    if any(p.active and int(p.price) == amount for p in catalog.packages()):
        raise offers.ClaimLater()
    raise offers.WrongAmount(f"no package costs KES {amount}")


def command(sub: SubscriptionItem, version: int, previous_mac: str | None = None) -> dict[str, Any]:
    """The provisioning command of a subscription as it is (``previous_mac``: moved from there)."""
    return logic.provision_command(
        subscription_id=sub.subscription_id,
        router_id=sub.router_id,
        version=version,
        username=sub.username,
        password=sub.password,
        package_id=sub.package_id,
        rate_limit=sub.rate_limit,
        shared_users=int(sub.shared_users),
        term=sub.term,
        now=clock.now(),
        mac=sub.mac,
        ip=sub.ip,
        previous_mac=previous_mac,
    )


OFFER = offers.register(HotspotOffer())
