"""Hotspot data and the conditional writes that make each payment count once.

One table (``muda-<stage>-hotspot``), items by ``pk``/``sk``:

| item | pk / sk | gsi |
|---|---|---|
| router (contract with the provisioner) | ``ROUTER#<id>`` / ``ROUTER`` | gsi1 ``ROUTERS`` / id |
| package | ``PACKAGE#<id>`` / ``PACKAGE`` | gsi1 ``PACKAGES`` / id |
| payment, by Daraja's id | ``PAY#<CheckoutRequestID>`` / ``PAY`` | gsi2 ``PHONE#<phone>`` / created |
| payment alias, by our unguessable id | ``PAYID#<payment_id>`` / ``PAYID`` | |
| receipt (unique) | ``RECEIPT#<receipt>`` / ``RECEIPT`` | |
| hotspot user, one per phone | ``USER#<phone>`` / ``USER`` | |
| current subscription of a phone on a router | ``CURRENT#<phone>#<router>`` / ``CURRENT`` | |
| subscription (contract) | ``SUB#<id>`` / ``SUB`` | gsi2 ``SUBS#active`` / expiry (active only) |
| refused callback | ``REJECTED#<day>`` / ``<time>#<id>`` | |
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from botocore.exceptions import ClientError
from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.core import clock, db, ids
from chalicelib.core.aws import client, endpoint_url, queue_url
from chalicelib.core.config import get_settings
from chalicelib.core.db import MudaModel
from chalicelib.hotspot import logic
from chalicelib.hotspot.settings import hotspot_settings, router_secret_name
from chalicelib.integrations.mpesa import DarajaClient, DarajaConfig

ACTIVE_SUBS = "SUBS#active"


class Gsi1(GlobalSecondaryIndex[Any]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex[Any]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class RouterItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="ROUTER")
    router_id = UnicodeAttribute()
    name = UnicodeAttribute()
    host = UnicodeAttribute()
    port = NumberAttribute(default=8728)
    username = UnicodeAttribute()
    password_secret = UnicodeAttribute()
    login_url = UnicodeAttribute()
    hotspot_server = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="unknown")
    last_seen_at = NumberAttribute(null=True)
    status_changed_at = NumberAttribute(null=True)
    created_at = NumberAttribute()
    updated_at = NumberAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()


class PackageItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="PACKAGE")
    package_id = UnicodeAttribute()
    name = UnicodeAttribute()
    price = NumberAttribute()
    validity_seconds = NumberAttribute()
    limit_uptime_seconds = NumberAttribute(null=True)
    limit_bytes_total = NumberAttribute(null=True)
    rate_limit = UnicodeAttribute(null=True)
    shared_users = NumberAttribute(default=1)
    router_ids = ListAttribute(of=UnicodeAttribute, default=list)
    active = BooleanAttribute(default=True)
    created_at = NumberAttribute()
    updated_at = NumberAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()

    def snapshot(self) -> dict[str, Any]:
        """What a payment keeps of its package (the price and terms it was bought at)."""
        return {
            "name": self.name,
            "price": int(self.price),
            "validity_seconds": int(self.validity_seconds),
            "limit_uptime_seconds": _int(self.limit_uptime_seconds),
            "limit_bytes_total": _int(self.limit_bytes_total),
            "rate_limit": self.rate_limit,
            "shared_users": int(self.shared_users),
        }


class PaymentItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="PAY")
    payment_id = UnicodeAttribute()
    checkout_request_id = UnicodeAttribute()
    merchant_request_id = UnicodeAttribute(null=True)
    package_id = UnicodeAttribute()
    package = JSONAttribute()
    router_id = UnicodeAttribute()
    phone = UnicodeAttribute()
    mac = UnicodeAttribute(null=True)
    ip = UnicodeAttribute(null=True)
    amount = NumberAttribute()
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    message = UnicodeAttribute(null=True)
    result_code = UnicodeAttribute(null=True)
    result_desc = UnicodeAttribute(null=True)
    receipt = UnicodeAttribute(null=True)
    amount_paid = NumberAttribute(null=True)
    settled_by = UnicodeAttribute(null=True)  # callback | query
    subscription_id = UnicodeAttribute(null=True)
    provision_version = NumberAttribute(null=True)
    renewal = BooleanAttribute(null=True)
    callback_raw = UnicodeAttribute(null=True)
    callback_copies = NumberAttribute(null=True)
    callback_at = NumberAttribute(null=True)
    followup_claimed_at = NumberAttribute(null=True)
    followups_at = NumberAttribute(null=True)
    created_at = NumberAttribute()
    settled_at = NumberAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)
    gsi2 = Gsi2()


class PaymentAlias(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="PAYID")
    checkout_request_id = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)


class ReceiptItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="RECEIPT")
    checkout_request_id = UnicodeAttribute()
    created_at = NumberAttribute()


class UserItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="USER")
    phone = UnicodeAttribute()
    username = UnicodeAttribute()
    password = UnicodeAttribute()
    mac = UnicodeAttribute(null=True)
    created_at = NumberAttribute()


class CurrentItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="CURRENT")
    subscription_id = UnicodeAttribute()


class SubscriptionItem(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="SUB")
    subscription_id = UnicodeAttribute()
    phone = UnicodeAttribute()
    package_id = UnicodeAttribute()
    router_id = UnicodeAttribute()
    username = UnicodeAttribute()
    password = UnicodeAttribute()
    mac = UnicodeAttribute(null=True)
    ip = UnicodeAttribute(null=True)
    rate_limit = UnicodeAttribute(null=True)
    shared_users = NumberAttribute(default=1)
    starts_at = NumberAttribute()
    expires_at_ts = NumberAttribute()
    limit_uptime_seconds = NumberAttribute(null=True)
    limit_bytes_total = NumberAttribute(null=True)
    status = UnicodeAttribute()  # active | expired
    last_payment_id = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    updated_at = NumberAttribute(null=True)
    expired_at = NumberAttribute(null=True)
    deprovision_claimed_at = NumberAttribute(null=True)
    deprovision_sent_at = NumberAttribute(null=True)
    # Updated by the router provisioner (contract), conditionally on provision_version.
    provision_status = UnicodeAttribute(null=True)
    provision_version = NumberAttribute(default=0)
    provisioned_at = NumberAttribute(null=True)
    provision_error = UnicodeAttribute(null=True)
    provision_attempts = NumberAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi2 = Gsi2()

    @property
    def term(self) -> logic.Term:
        return logic.Term(
            float(self.starts_at),
            float(self.expires_at_ts),
            _int(self.limit_uptime_seconds),
            _int(self.limit_bytes_total),
        )


class RejectedCallback(MudaModel):
    table = "hotspot"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    reason = UnicodeAttribute()
    checkout_request_id = UnicodeAttribute(null=True)
    source_ip = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    expires_at = NumberAttribute()


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _retention() -> int:
    return int(clock.now() + hotspot_settings().retention_days * 86400)


def _sort_key(epoch: float) -> str:
    return f"{epoch:017.3f}"


# --- secrets ------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _secrets(endpoint: str | None) -> SecretsProvider:
    return SecretsProvider(boto3_client=client("secretsmanager"))


def read_secret(name: str) -> dict[str, Any]:
    """A JSON secret, cached for ``secrets_max_age_seconds`` (Powertools Parameters)."""
    return _secrets(endpoint_url()).get(
        name, max_age=hotspot_settings().secrets_max_age_seconds, transform="json"
    )


def put_secret(name: str, value: dict[str, Any]) -> None:
    sm = client("secretsmanager")
    try:
        sm.create_secret(Name=name, SecretString=json.dumps(value))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceExistsException":
            raise
        sm.put_secret_value(SecretId=name, SecretString=json.dumps(value))


def daraja() -> DarajaClient:
    s = hotspot_settings()
    secret = read_secret(s.daraja_secret)
    return _daraja(
        DarajaConfig(
            base_url=s.daraja_base_url,
            shortcode=s.daraja_shortcode,
            passkey=secret["passkey"],
            consumer_key=secret["consumer_key"],
            consumer_secret=secret["consumer_secret"],
            transaction_type=s.daraja_transaction_type,
            party_b=s.daraja_party_b,
            timeout=s.daraja_timeout_seconds,
            refresh_margin=s.daraja_token_refresh_margin_seconds,
        )
    )


@lru_cache(maxsize=4)
def _daraja(config: DarajaConfig) -> DarajaClient:
    """One client (and token cache) per configuration, for the life of the process."""
    return DarajaClient(config)


def callback_token() -> str:
    return str(read_secret(hotspot_settings().daraja_secret)["callback_token"])


# --- routers and packages -------------------------------------------------------------------------


def create_router(fields: dict[str, Any], password: str) -> RouterItem:
    """The password goes to Secrets Manager first; the item only names the secret."""
    router_id = ids.new_id("rtr_")
    secret = router_secret_name(router_id)
    put_secret(secret, {"password": password})
    item = RouterItem(
        pk=f"ROUTER#{router_id}",
        router_id=router_id,
        password_secret=secret,
        status="unknown",
        created_at=int(clock.now()),
        gsi1pk="ROUTERS",
        gsi1sk=router_id,
        **fields,
    )
    item.save(condition=RouterItem.pk.does_not_exist())
    return item


def get_router(router_id: str) -> RouterItem | None:
    try:
        return RouterItem.get(f"ROUTER#{router_id}", "ROUTER")
    except RouterItem.DoesNotExist:
        return None


def list_routers() -> list[RouterItem]:
    return list(RouterItem.gsi1.query("ROUTERS"))


def update_router(router_id: str, fields: dict[str, Any], password: str | None) -> RouterItem | None:
    router = get_router(router_id)
    if router is None:
        return None
    if password is not None:
        put_secret(router.password_secret, {"password": password})
    actions = [getattr(RouterItem, k).set(v) for k, v in fields.items()]
    actions.append(RouterItem.updated_at.set(int(clock.now())))
    try:
        router.update(actions=actions, condition=RouterItem.pk.exists())
    except UpdateError as error:
        if db.condition_failed(error):
            return None
        raise
    return router


def create_package(fields: dict[str, Any]) -> PackageItem:
    package_id = ids.new_id("pkg_")
    item = PackageItem(
        pk=f"PACKAGE#{package_id}",
        package_id=package_id,
        created_at=int(clock.now()),
        gsi1pk="PACKAGES",
        gsi1sk=package_id,
        **fields,
    )
    item.save(condition=PackageItem.pk.does_not_exist())
    return item


def get_package(package_id: str) -> PackageItem | None:
    try:
        return PackageItem.get(f"PACKAGE#{package_id}", "PACKAGE")
    except PackageItem.DoesNotExist:
        return None


def list_packages(router_id: str | None = None, active_only: bool = False) -> list[PackageItem]:
    items = [p for p in PackageItem.gsi1.query("PACKAGES")]
    if router_id:
        items = [p for p in items if router_id in (p.router_ids or [])]
    if active_only:
        items = [p for p in items if p.active]
    return sorted(items, key=lambda p: (int(p.price), p.name))


def update_package(package_id: str, fields: dict[str, Any]) -> PackageItem | None:
    package = get_package(package_id)
    if package is None:
        return None
    actions = [
        getattr(PackageItem, k).remove() if v is None else getattr(PackageItem, k).set(v)
        for k, v in fields.items()
    ]
    actions.append(PackageItem.updated_at.set(int(clock.now())))
    package.update(actions=actions, condition=PackageItem.pk.exists())
    return package


# --- payments -------------------------------------------------------------------------------------


def create_payment(
    *,
    checkout_request_id: str,
    merchant_request_id: str,
    package: PackageItem,
    router_id: str,
    phone: str,
    mac: str | None,
    ip: str | None,
) -> PaymentItem:
    """The pending payment and its alias, together (the alias is what the buyer's status URL names)."""
    now = clock.now()
    payment_id = ids.new_id("pay_")
    payment = PaymentItem(
        pk=f"PAY#{checkout_request_id}",
        payment_id=payment_id,
        checkout_request_id=checkout_request_id,
        merchant_request_id=merchant_request_id,
        package_id=package.package_id,
        package=package.snapshot(),
        router_id=router_id,
        phone=phone,
        mac=mac,
        ip=ip,
        amount=int(package.price),
        status=logic.PENDING,
        created_at=now,
        gsi2pk=f"PHONE#{phone}",
        gsi2sk=_sort_key(now),
        expires_at=_retention(),
    )
    alias = PaymentAlias(
        pk=f"PAYID#{payment_id}", checkout_request_id=checkout_request_id, expires_at=_retention()
    )
    with db.transaction() as t:
        t.save(payment, condition=PaymentItem.pk.does_not_exist())
        t.save(alias, condition=PaymentAlias.pk.does_not_exist())
    return payment


def get_payment(checkout_request_id: str) -> PaymentItem | None:
    try:
        return PaymentItem.get(f"PAY#{checkout_request_id}", "PAY", consistent_read=True)
    except PaymentItem.DoesNotExist:
        return None


def payment_by_id(payment_id: str) -> PaymentItem | None:
    try:
        alias = PaymentAlias.get(f"PAYID#{payment_id}", "PAYID", consistent_read=True)
    except PaymentAlias.DoesNotExist:
        return None
    return get_payment(alias.checkout_request_id)


def record_callback(checkout_request_id: str, raw: str) -> PaymentItem | None:
    """Keep the first raw callback of a known payment and count the copies, in one write;
    ``None`` when no payment has this CheckoutRequestID."""
    item = PaymentItem(pk=f"PAY#{checkout_request_id}", sk="PAY")
    now = clock.now()
    try:
        item.update(
            actions=[
                PaymentItem.callback_raw.set(PaymentItem.callback_raw | raw[:20000]),
                PaymentItem.callback_at.set(PaymentItem.callback_at | now),
                PaymentItem.callback_copies.add(1),
            ],
            condition=PaymentItem.pk.exists(),
        )
    except UpdateError as error:
        if db.condition_failed(error):
            return None
        raise
    return item


def reject_callback(
    reason: str, body: str | None, checkout_request_id: str | None, source_ip: str | None
) -> None:
    """A refused callback, kept (truncated, 30 days) for the operator: it changed nothing."""
    now = clock.now()
    RejectedCallback(
        pk=f"REJECTED#{logic.iso(now)[:10]}",
        sk=f"{_sort_key(now)}#{ids.new_id()}",
        reason=reason,
        checkout_request_id=checkout_request_id,
        source_ip=source_ip,
        body=(body or "")[:2000],
        created_at=now,
        expires_at=int(now + 30 * 86400),
    ).save()


def rejected_callbacks(day: str) -> list[RejectedCallback]:
    return list(RejectedCallback.query(f"REJECTED#{day}", scan_index_forward=False))


def send_payment_job(job: dict[str, Any]) -> None:
    client("sqs").send_message(
        QueueUrl=queue_url(get_settings().name("payments")), MessageBody=json.dumps(job)
    )


def send_router_command(command: dict[str, Any]) -> None:
    client("sqs").send_message(
        QueueUrl=queue_url(get_settings().name("provisioning")), MessageBody=json.dumps(command)
    )


# Which payment states a Daraja result may still settle: pending, or given up on for lack of an
# answer (a late callback still counts).
def _settleable() -> Any:
    return (PaymentItem.status == logic.PENDING) | (
        (PaymentItem.status == logic.FAILED) & (PaymentItem.reason == "no_result")
    )


def settleable(payment: PaymentItem) -> bool:
    return payment.status == logic.PENDING or (
        payment.status == logic.FAILED and payment.reason == "no_result"
    )


class Conflict(Exception):
    """A concurrent write to the same buyer's records won: read again and retry."""


class ReceiptReused(Exception):
    pass


class AlreadySettled(Exception):
    pass


def settle_failed(
    payment: PaymentItem,
    outcome: logic.Outcome,
    result_code: str,
    result_desc: str,
    settled_by: str,
    receipt: str | None = None,
    amount_paid: Decimal | None = None,
) -> bool:
    """pending → failed|cancelled, claiming the follow-ups; ``False`` if already settled."""
    now = clock.now()
    actions = [
        PaymentItem.status.set(outcome.status),
        PaymentItem.reason.set(outcome.reason),
        PaymentItem.message.set(outcome.message),
        PaymentItem.result_code.set(result_code),
        PaymentItem.result_desc.set(result_desc[:500]),
        PaymentItem.settled_by.set(settled_by),
        PaymentItem.settled_at.set(now),
        PaymentItem.followup_claimed_at.set(now),
    ]
    if receipt:
        actions.append(PaymentItem.receipt.set(receipt))
    if amount_paid is not None:
        actions.append(PaymentItem.amount_paid.set(float(amount_paid)))
    condition = _settleable()
    if outcome.reason == "no_result":
        condition = PaymentItem.status == logic.PENDING
    try:
        payment.update(actions=actions, condition=condition)
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise
    return True


@dataclass(frozen=True)
class Purchase:
    """What ``settle_paid`` wrote: the subscription the payment bought and its new version."""

    subscription: SubscriptionItem
    renewal: bool


def buyer(phone: str, router_id: str) -> tuple[UserItem | None, CurrentItem | None]:
    """The hotspot user of a phone and its current subscription on a router, in one read."""
    keys = {"USER": f"USER#{phone}", "CURRENT": f"CURRENT#{phone}#{router_id}"}
    table = UserItem.Meta.table_name
    response = UserItem._get_connection().connection.client.batch_get_item(
        RequestItems={
            table: {
                "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for sk, pk in keys.items()],
                "ConsistentRead": True,
            }
        }
    )
    found = {item["sk"]["S"]: item for item in response.get("Responses", {}).get(table, [])}
    if response.get("UnprocessedKeys"):  # throttled: read them one by one
        return _get(UserItem, keys["USER"], "USER"), _get(CurrentItem, keys["CURRENT"], "CURRENT")
    user = UserItem.from_raw_data(found["USER"]) if "USER" in found else None
    current = CurrentItem.from_raw_data(found["CURRENT"]) if "CURRENT" in found else None
    return user, current


def _get(model: Any, pk: str, sk: str) -> Any:
    try:
        return model.get(pk, sk, consistent_read=True)
    except model.DoesNotExist:
        return None


def get_subscription(subscription_id: str, consistent: bool = True) -> SubscriptionItem | None:
    try:
        return SubscriptionItem.get(f"SUB#{subscription_id}", "SUB", consistent_read=consistent)
    except SubscriptionItem.DoesNotExist:
        return None


def settle_paid(
    payment: PaymentItem,
    *,
    result_code: str,
    result_desc: str,
    receipt: str | None,
    amount_paid: Decimal | None,
    settled_by: str,
) -> Purchase:
    """pending → paid, the receipt used once, and the access it buys, in one transaction:
    a new subscription (with the buyer's hotspot user on first purchase) or, while the buyer's
    subscription on this router is active, that one extended. Raises ``AlreadySettled``,
    ``ReceiptReused`` or ``Conflict`` (a concurrent purchase by the same phone: retry)."""
    now = clock.now()
    pkg = payment.package
    user, current = buyer(payment.phone, payment.router_id)
    active = get_subscription(current.subscription_id) if current else None
    if active is not None and (active.status != logic.ACTIVE or active.expires_at_ts <= now):
        active_term = None
    else:
        active_term = active.term if active else None
    term = logic.purchase_term(
        now, pkg["validity_seconds"], pkg["limit_uptime_seconds"], pkg["limit_bytes_total"], active_term
    )
    renewal = active_term is not None
    if user is None:
        username, password = logic.new_credentials(payment.phone)
        user = UserItem(
            pk=f"USER#{payment.phone}",
            phone=payment.phone,
            username=username,
            password=password,
            mac=payment.mac,
            created_at=now,
        )
        new_user = True
    else:
        new_user = False

    if renewal:
        assert active is not None
        sub = active
        version = int(sub.provision_version or 0) + 1
    else:
        version = 1
        sub = SubscriptionItem(
            pk="",
            subscription_id=ids.new_id("sub_"),
            phone=payment.phone,
            package_id=payment.package_id,
            router_id=payment.router_id,
            username=user.username,
            password=user.password,
            mac=payment.mac,
            ip=payment.ip,
            rate_limit=pkg["rate_limit"],
            shared_users=pkg["shared_users"],
            starts_at=term.starts_at,
            expires_at_ts=term.expires_at,
            limit_uptime_seconds=term.limit_uptime_seconds,
            limit_bytes_total=term.limit_bytes_total,
            status=logic.ACTIVE,
            last_payment_id=payment.payment_id,
            created_at=now,
            provision_status="pending",
            provision_version=version,
            gsi2pk=ACTIVE_SUBS,
            gsi2sk=f"{_sort_key(term.expires_at)}#",
        )
        sub.pk = f"SUB#{sub.subscription_id}"
        sub.gsi2sk += sub.subscription_id

    pay_actions = [
        PaymentItem.status.set(logic.PAID),
        PaymentItem.result_code.set(result_code),
        PaymentItem.result_desc.set(result_desc[:500]),
        PaymentItem.settled_by.set(settled_by),
        PaymentItem.settled_at.set(now),
        PaymentItem.subscription_id.set(sub.subscription_id),
        PaymentItem.provision_version.set(version),
        PaymentItem.renewal.set(renewal),
        PaymentItem.followup_claimed_at.set(now),
        PaymentItem.reason.remove(),
        PaymentItem.message.remove(),
    ]
    if receipt:
        pay_actions.append(PaymentItem.receipt.set(receipt))
    if amount_paid is not None:
        pay_actions.append(PaymentItem.amount_paid.set(float(amount_paid)))
    try:
        with db.transaction() as t:
            t.update(payment, actions=pay_actions, condition=_settleable())  # 0
            if receipt:  # 1
                t.save(
                    ReceiptItem(
                        pk=f"RECEIPT#{receipt}",
                        checkout_request_id=payment.checkout_request_id,
                        created_at=now,
                    ),
                    condition=ReceiptItem.pk.does_not_exist(),
                )
            if new_user:
                t.save(user, condition=UserItem.pk.does_not_exist())
            if renewal:
                t.update(
                    sub,
                    actions=[
                        SubscriptionItem.expires_at_ts.set(term.expires_at),
                        SubscriptionItem.limit_uptime_seconds.set(term.limit_uptime_seconds)
                        if term.limit_uptime_seconds is not None
                        else SubscriptionItem.limit_uptime_seconds.remove(),
                        SubscriptionItem.limit_bytes_total.set(term.limit_bytes_total)
                        if term.limit_bytes_total is not None
                        else SubscriptionItem.limit_bytes_total.remove(),
                        SubscriptionItem.package_id.set(payment.package_id),
                        SubscriptionItem.rate_limit.set(pkg["rate_limit"]),
                        SubscriptionItem.shared_users.set(pkg["shared_users"]),
                        SubscriptionItem.mac.set(payment.mac),
                        SubscriptionItem.ip.set(payment.ip),
                        SubscriptionItem.provision_version.set(version),
                        SubscriptionItem.provision_status.set("pending"),
                        SubscriptionItem.last_payment_id.set(payment.payment_id),
                        SubscriptionItem.updated_at.set(now),
                        SubscriptionItem.gsi2sk.set(f"{_sort_key(term.expires_at)}#{sub.subscription_id}"),
                    ],
                    condition=(SubscriptionItem.status == logic.ACTIVE)
                    & (SubscriptionItem.expires_at_ts == sub.expires_at_ts)
                    & (SubscriptionItem.provision_version == version - 1),
                )
            else:
                t.save(sub, condition=SubscriptionItem.pk.does_not_exist())
                pointer = CurrentItem(
                    pk=f"CURRENT#{payment.phone}#{payment.router_id}", subscription_id=sub.subscription_id
                )
                t.save(
                    pointer,
                    condition=CurrentItem.pk.does_not_exist()
                    | (CurrentItem.subscription_id == (current.subscription_id if current else "-")),
                )
    except TransactWriteError as error:
        if error.cause_response_code != "TransactionCanceledException":
            raise
        # Which condition failed decides what to do; the items themselves say so reliably
        # (cancellation reasons are positional and emulators misplace them).
        latest = get_payment(payment.checkout_request_id)
        if latest is None or not settleable(latest):
            raise AlreadySettled() from None
        if receipt and receipt_used(receipt):
            raise ReceiptReused() from None
        raise Conflict(str(db.cancellation_codes(error))) from None
    if renewal:
        sub.expires_at_ts = term.expires_at
        sub.limit_uptime_seconds = term.limit_uptime_seconds
        sub.limit_bytes_total = term.limit_bytes_total
        sub.package_id = payment.package_id
        sub.rate_limit = pkg["rate_limit"]
        sub.shared_users = pkg["shared_users"]
        sub.mac, sub.ip = payment.mac, payment.ip
        sub.provision_version = version
        sub.provision_status = "pending"
    payment.status = logic.PAID
    payment.subscription_id = sub.subscription_id
    payment.provision_version = version
    payment.renewal = renewal
    payment.receipt = receipt
    payment.followup_claimed_at = now
    return Purchase(sub, renewal)


def receipt_used(receipt: str) -> bool:
    try:
        ReceiptItem.get(f"RECEIPT#{receipt}", "RECEIPT", consistent_read=True)
    except ReceiptItem.DoesNotExist:
        return False
    return True


def claim_followups(payment: PaymentItem, grace: float) -> bool:
    """Take over the follow-ups of a settled payment whose worker died before finishing them."""
    now = clock.now()
    try:
        payment.update(
            actions=[PaymentItem.followup_claimed_at.set(now)],
            condition=PaymentItem.followups_at.does_not_exist()
            & (
                PaymentItem.followup_claimed_at.does_not_exist()
                | (PaymentItem.followup_claimed_at < now - grace)
            ),
        )
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise
    return True


def finish_followups(payment: PaymentItem) -> None:
    payment.update(actions=[PaymentItem.followups_at.set(clock.now())])


# --- expiry ---------------------------------------------------------------------------------------


def expire_subscription(sub: SubscriptionItem) -> bool:
    """active → expired at its expiry (unless renewed meanwhile), and the phone's pointer freed."""
    now = clock.now()
    try:
        with db.transaction() as t:
            t.update(
                sub,
                actions=[
                    SubscriptionItem.status.set(logic.EXPIRED),
                    SubscriptionItem.expired_at.set(now),
                    SubscriptionItem.updated_at.set(now),
                    SubscriptionItem.gsi2pk.remove(),
                    SubscriptionItem.gsi2sk.remove(),
                ],
                condition=(SubscriptionItem.status == logic.ACTIVE)
                & (SubscriptionItem.expires_at_ts == sub.expires_at_ts)
                & (SubscriptionItem.expires_at_ts <= now),
            )
            t.delete(
                CurrentItem(pk=f"CURRENT#{sub.phone}#{sub.router_id}", sk="CURRENT"),
                condition=CurrentItem.pk.does_not_exist()
                | (CurrentItem.subscription_id == sub.subscription_id),
            )
    except TransactWriteError as error:
        if db.REFUSED in db.cancellation_codes(error):
            return False
        raise
    sub.status = logic.EXPIRED
    return True


def claim_deprovision(sub: SubscriptionItem, grace: float) -> bool:
    """Claim sending an expired subscription's deprovision command (once; a claim older than
    ``grace`` that never finished is taken over)."""
    now = clock.now()
    try:
        sub.update(
            actions=[SubscriptionItem.deprovision_claimed_at.set(now)],
            condition=SubscriptionItem.deprovision_sent_at.does_not_exist()
            & (
                SubscriptionItem.deprovision_claimed_at.does_not_exist()
                | (SubscriptionItem.deprovision_claimed_at < now - grace)
            ),
        )
    except UpdateError as error:
        if db.condition_failed(error):
            return False
        raise
    return True


def mark_deprovision_sent(sub: SubscriptionItem) -> None:
    sub.update(actions=[SubscriptionItem.deprovision_sent_at.set(clock.now())])


def due_subscriptions(until: float) -> Iterator[SubscriptionItem]:
    """Active subscriptions whose expiry is at or before ``until`` (sparse index)."""
    yield from SubscriptionItem.gsi2.query(ACTIVE_SUBS, SubscriptionItem.gsi2sk <= f"{_sort_key(until)}#~")


def expired_not_deprovisioned(limit: int = 500) -> list[SubscriptionItem]:
    """Expired subscriptions whose deprovision command was never sent (a crash mid-expiry)."""
    scan = SubscriptionItem.scan(
        (SubscriptionItem.sk == "SUB")
        & (SubscriptionItem.status == logic.EXPIRED)
        & SubscriptionItem.deprovision_sent_at.does_not_exist(),
        limit=limit,
    )
    return list(scan)


def reset_caches() -> None:
    """Forget cached secrets and Daraja clients (tests that move the endpoint or rotate keys)."""
    _secrets.cache_clear()
    _daraja.cache_clear()
