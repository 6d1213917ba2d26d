"""Paybill and Till (C2B): validation, confirmation, and what happens to a payment nobody asked for.

- **Validation** (Safaricom asks before taking the money): the account reference must be one a
  product knows (``Offer.account``) and the amount one it sells; otherwise Daraja's documented
  rejection (``C2B00012`` unknown account, ``C2B00013`` wrong amount), so the payer keeps the money.
  It writes nothing.
- **Confirmation** (the money moved): acknowledged at once, settled where it arrives (the STK
  settlement: the payment, keyed by ``TransID``, and the product's grant in one transaction; a
  failure queues it for the payments worker). A duplicate ``TransID`` finds its payment and
  changes nothing.
- **No validation** (Safaricom lets a shortcode run without it): the confirmation is checked again
  the same way; if reference and amount match, it is settled; otherwise the payment is **held**
  (``status = held`` with the reason) for the operator, never lost and never granted.
- **Claimed later** (``offers.ClaimLater``: a Till payment has no reference; a product that sells
  by amount accepts it): validation accepts, confirmation keeps it ``held`` under that product
  (reason ``awaiting_claim``) until the product settles it for what its payer chose
  (``settlement.settle_held``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.core import clock, db
from chalicelib.core.observability import logger
from chalicelib.integrations.mpesa import C2BPayment, CallbackError, parse_c2b
from chalicelib.integrations.mpesa import c2b as codes
from chalicelib.payments import logic, messages, offers
from chalicelib.payments.models import callbacks, payments
from chalicelib.payments.models.items import PaymentItem
from chalicelib.payments.service import settlement
from chalicelib.payments.service.stk import ACCEPTED, CallbackAnswer, check_source
from chalicelib.payments.settings import payments_settings

HELD = logic.HELD
AWAITING_CLAIM = "awaiting_claim"
UNMATCHED = "unmatched"  # the product of a held payment: no offer's


class Unmatched(LookupError):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def match(paid: C2BPayment) -> tuple[str, offers.Quote | None]:
    """The product and quote a C2B payment buys (no quote: the product's payer claims it later),
    or ``Unmatched`` with Daraja's code."""
    if paid.shortcode != payments_settings().daraja_shortcode:
        raise Unmatched(codes.INVALID_SHORTCODE, "unknown_shortcode")
    if paid.amount != paid.amount.to_integral_value():
        raise Unmatched(codes.INVALID_AMOUNT, "amount_mismatch")
    for offer in offers.registered():
        account = getattr(offer, "account", None)
        if account is None:
            continue
        try:
            quote = account(paid.reference, _phone(paid.phone), int(paid.amount))
        except offers.WrongAmount:
            raise Unmatched(codes.INVALID_AMOUNT, "amount_mismatch") from None
        except offers.ClaimLater:
            return offer.product, None
        if quote is not None:
            if Decimal(quote.price) != paid.amount:
                raise Unmatched(codes.INVALID_AMOUNT, "amount_mismatch")
            return offer.product, quote
    raise Unmatched(codes.INVALID_ACCOUNT, "unknown_account")


def validate(token: str, raw: bytes | None, source_ip: str | None) -> CallbackAnswer:
    body = (raw or b"").decode("utf-8", errors="replace")
    refused = check_source(token, body, source_ip, "c2b_validation")
    if refused:
        return refused
    try:
        paid = parse_c2b(raw or b"")
        match(paid)
    except CallbackError as error:
        callbacks.reject(f"malformed: {error}", body, None, source_ip, "c2b_validation")
        return CallbackAnswer(200, codes.answer(codes.OTHER_ERROR, "Rejected"))
    except Unmatched as refusal:
        callbacks.reject(refusal.reason, body, paid.trans_id, source_ip, "c2b_validation")
        return CallbackAnswer(200, codes.answer(refusal.code, "Rejected"))
    return CallbackAnswer(200, codes.answer(codes.ACCEPT, "Accepted"))


def confirm(token: str, raw: bytes | None, source_ip: str | None) -> CallbackAnswer:
    body = (raw or b"").decode("utf-8", errors="replace")
    refused = check_source(token, body, source_ip, "c2b_confirmation")
    if refused:
        return refused
    try:
        paid = parse_c2b(raw or b"")
    except CallbackError as error:
        callbacks.reject(f"malformed: {error}", body, None, source_ip, "c2b_confirmation")
        return CallbackAnswer(400, {"error": {"code": "malformed_callback", "message": str(error)}})
    try:
        settle(paid, body)
    except Exception:  # the worker settles it again from the job (idempotent on TransID)
        logger.exception("settling a C2B confirmation failed; queued", extra={"trans_id": paid.trans_id})
        messages.payment_job({"c2b": body, "checkout_request_id": paid.trans_id})
    return ACCEPTED


def settle(paid: C2BPayment, raw: str) -> str:
    """A confirmed C2B payment applied once (``TransID`` is its key and its receipt)."""
    keep = int(clock.now() + payments_settings().retention_days * 86400)
    phone = _phone(paid.phone)
    try:
        product, quote = match(paid)
    except Unmatched as refusal:
        hold = offers.Quote(
            offer_id=paid.reference or "-",
            price=int(paid.amount),
            snapshot={"name": "unmatched C2B payment", "reference": paid.reference},
            account_reference=paid.reference[:12],
            description="C2B",
            context={"reason": refusal.reason, "raw": raw[:4000]},
        )
        if _create(paid, UNMATCHED, hold, phone, keep, HELD) is None:
            return "duplicate"
        logger.warning(
            "C2B payment held for the operator", extra={"trans_id": paid.trans_id, "why": refusal.reason}
        )
        return HELD
    if quote is None:
        awaiting = offers.Quote(
            offer_id="-",
            price=int(paid.amount),
            snapshot={"name": "C2B payment awaiting its payer's claim", "reference": paid.reference},
            account_reference=paid.reference[:12],
            description="C2B",
            context={"reason": AWAITING_CLAIM, "raw": raw[:4000]},
        )
        if _create(paid, product, awaiting, phone, keep, HELD) is None:
            return "duplicate"
        logger.info("C2B payment held for its payer's claim", extra={"trans_id": paid.trans_id})
        return AWAITING_CLAIM
    payment = _create(paid, product, quote, phone, keep, logic.PENDING)
    if payment is None:
        payment = payments.get(paid.trans_id)
        if payment is None or not payments.settleable(payment):
            return "duplicate"
    return settlement.settle(
        paid.trans_id, "0", "C2B confirmation", paid.amount, paid.trans_id, "confirmation", payment
    )


def process_job(job: dict[str, Any]) -> str:
    return settle(parse_c2b(job["c2b"]), job["c2b"])


def _create(
    paid: C2BPayment, product: str, quote: offers.Quote, phone: str, keep: int, status: str
) -> PaymentItem | None:
    try:
        return payments.create(
            checkout_request_id=paid.trans_id,
            merchant_request_id=None,
            product=product,
            quote=quote,
            phone=phone,
            keep_until=keep,
            method="c2b",
            status=status,
        )
    except db.Refused as refused:
        if refused.by("payment"):
            return None  # this TransID was confirmed before
        raise


def _phone(msisdn: str) -> str:
    """The payer as Muda keys it: the number (``2547…``); Safaricom's SHA-256 hash of it (some
    shortcodes' callbacks carry that instead), in full and lower case, so a buyer who types the
    number is found by hashing it; anything else (a masked ``2547 ***** 126``) kept as given."""
    try:
        return logic.normalize_phone(msisdn)
    except logic.InvalidInput:
        text = msisdn.strip()
        if logic.HASHED_MSISDN.match(text):
            return text.lower()
        return text[:20] or "unknown"


def held(limit: int = 100) -> list[PaymentItem]:
    """Held C2B payments, for the operator (a scan of one product's partition would need an
    index; held payments are rare, so the operator's CLI scans)."""
    return [p for p in PaymentItem.scan(PaymentItem.status == HELD, limit=limit)]
