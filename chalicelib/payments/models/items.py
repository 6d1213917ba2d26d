"""The payments domain's items and the only place their keys are spelled.

One table (``muda-<stage>-payments``), items by ``pk``/``sk``:

| item | pk / sk | gsi |
|---|---|---|
| payment, by Daraja's id | ``PAY#<CheckoutRequestID>`` / ``PAY`` | gsi1, gsi2 (below) |
| payment alias, by our unguessable id | ``PAYID#<payment_id>`` / ``PAYID`` | |
| receipt (unique: M-Pesa receipt or C2B TransID) | ``RECEIPT#<receipt>`` / ``RECEIPT`` | |
| refused callback (the archive of what changed nothing) | ``REJECTED#<day>`` / ``<time>#<id>`` | |
| payout (B2C), by its OriginatorConversationID | ``PAYOUT#<payout_id>`` / ``PAYOUT`` | gsi1, gsi2 (below) |

A pushed payment still pending is on gsi1 ``QUERY#<shard>`` / its next STK query time (sparse:
settling removes it); every payment is on gsi2 ``PHONE#<phone>`` (or
``ACCOUNT#<product>#<account>`` for a signed-in buyer) / its creation time.

An unsettled payout is on gsi1 ``B2C#0`` / its next status query time; every payout is on gsi2
``PAYOUTS#<product>#<account>`` / its creation time.

A payment belongs to a product (``product``) and names what it bought (``offer_id``, with the
``offer`` snapshot it was sold at); the product's grant records what it gave (``grant_id``,
``grant_version``, ``grant``).
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.core import clock
from chalicelib.core.db import MudaModel

Key = tuple[str, str]

DOMAIN = "payments"


def payment_key(checkout_request_id: str) -> Key:
    return f"PAY#{checkout_request_id}", "PAY"


def alias_key(payment_id: str) -> Key:
    return f"PAYID#{payment_id}", "PAYID"


def receipt_key(receipt: str) -> Key:
    return f"RECEIPT#{receipt}", "RECEIPT"


def rejected_key(at: float, rejection_id: str) -> Key:
    day = datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d")
    return rejected_day(day), f"{clock.time_key(at)}#{rejection_id}"


def rejected_day(day: str) -> str:
    """The partition of one UTC day's refused callbacks (``YYYY-MM-DD``)."""
    return f"REJECTED#{day}"


def phone_index(phone: str) -> str:
    return f"PHONE#{phone}"


def account_index(product: str, account: str) -> str:
    return f"ACCOUNT#{product}#{account}"


def query_shard(checkout_request_id: str, shards: int) -> str:
    return f"QUERY#{zlib.crc32(checkout_request_id.encode()) % shards}"


def payout_key(payout_id: str) -> Key:
    return f"PAYOUT#{payout_id}", "PAYOUT"


def payouts_index(product: str, account: str) -> str:
    return f"PAYOUTS#{product}#{account}"


UNSETTLED_PAYOUTS = "B2C#0"


def query_index(at: float) -> str:
    return clock.time_key(at)


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


class PaymentItem(MudaModel):
    table = "payments"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="PAY")
    payment_id = UnicodeAttribute()
    checkout_request_id = UnicodeAttribute()
    merchant_request_id = UnicodeAttribute(null=True)
    method = UnicodeAttribute(default="stk")  # stk | c2b
    product = UnicodeAttribute()  # whose offer: hotspot, consult, classes
    offer_id = UnicodeAttribute()  # what was sold (a package, a plan, a bundle)
    offer = JSONAttribute()  # the offer as sold: name, price and the product's terms
    scope = UnicodeAttribute(null=True)  # where it is used (a hotspot router), if anywhere
    account = UnicodeAttribute(null=True)  # the signed-in buyer (a patient, a student), if any
    context = JSONAttribute(null=True)  # the product's extras (device, what it knew at push time)
    phone = UnicodeAttribute()
    amount = NumberAttribute()
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    message = UnicodeAttribute(null=True)
    result_code = UnicodeAttribute(null=True)
    result_desc = UnicodeAttribute(null=True)
    receipt = UnicodeAttribute(null=True)
    amount_paid = NumberAttribute(null=True)
    settled_by = UnicodeAttribute(null=True)  # callback | query | confirmation
    grant_id = UnicodeAttribute(null=True)  # what the grant created or extended
    grant_version = NumberAttribute(null=True)
    grant = JSONAttribute(null=True)
    callback_raw = UnicodeAttribute(null=True)
    callback_copies = NumberAttribute(null=True)
    callback_at = NumberAttribute(null=True)
    followup_claimed_at = NumberAttribute(null=True)
    followups_at = NumberAttribute(null=True)
    query_n = NumberAttribute(null=True)  # which STK query is next
    created_at = NumberAttribute()
    settled_at = NumberAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)
    gsi1 = Gsi1()
    gsi2 = Gsi2()

    @property
    def aggregate(self) -> str:
        """The outbox aggregate of this payment's events."""
        return f"payment#{self.payment_id}"

    @property
    def price(self) -> int:
        return int(self.offer["price"])


class PaymentAlias(MudaModel):
    table = "payments"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="PAYID")
    checkout_request_id = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)


class ReceiptItem(MudaModel):
    table = "payments"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="RECEIPT")
    checkout_request_id = UnicodeAttribute()
    created_at = NumberAttribute()


class RejectedCallback(MudaModel):
    table = "payments"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    reason = UnicodeAttribute()
    checkout_request_id = UnicodeAttribute(null=True)
    endpoint = UnicodeAttribute(null=True)  # stk | c2b_validation | c2b_confirmation | b2c_result
    source_ip = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    expires_at = NumberAttribute()


class PayoutItem(MudaModel):
    """Money out (B2C): the payee's balance was debited in the write that created it; the result
    settles it (paid) or reverses the debit (failed), once."""

    table = "payments"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="PAYOUT")
    payout_id = UnicodeAttribute()  # also the B2C OriginatorConversationID (stable, never reissued)
    product = UnicodeAttribute()
    account = UnicodeAttribute()  # the payee (a doctor)
    phone = UnicodeAttribute()
    amount = NumberAttribute()  # whole KES
    debited = NumberAttribute()  # what the payee's balance lost (its units), given back on failure
    status = UnicodeAttribute()  # requested | sent | paid | failed
    conversation_id = UnicodeAttribute(null=True)
    result_code = UnicodeAttribute(null=True)
    result_desc = UnicodeAttribute(null=True)
    receipt = UnicodeAttribute(null=True)
    settled_by = UnicodeAttribute(null=True)  # result | status
    status_queries = NumberAttribute(null=True)
    requested_by = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    sent_at = NumberAttribute(null=True)
    settled_at = NumberAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()
    gsi2 = Gsi2()

    @property
    def aggregate(self) -> str:
        return f"payout#{self.payout_id}"
