"""B2C payouts: money out to an earner's phone, never twice.

1. ``withdraw``: the payee's balance is debited and the payout created in one transaction, before
   any request to Daraja; the payout's id is the request's ``OriginatorConversationID`` (stable:
   the same payout is never requested under another id).
2. The B2C request is sent once. Daraja refusing it outright (a 4xx) fails the payout and reverses
   the debit; any answer we did not get (timeout, 5xx, connection) leaves it unsettled: it is
   **never sent again**; the Transaction Status API is asked instead.
3. The result (``ResultURL``, verified like the STK callback: path secret, source, shape, a known
   payout) settles it: success → paid; failure → failed and the debit reversed, in one
   transaction. Duplicates change nothing (the payout's status condition).
4. A queue timeout (``QueueTimeOutURL``) or no result within ``b2c_status_after_seconds`` → one
   Transaction Status query (its answer comes to the status URL and settles the same way), asked
   again every ``b2c_status_after_seconds`` while unsettled; never a second payment.
"""

from __future__ import annotations

from collections import Counter

from chalicelib.core import clock, ids
from chalicelib.core.observability import logger
from chalicelib.integrations.mpesa import CallbackError, DarajaError
from chalicelib.integrations.mpesa.b2c import B2CResult, parse_result
from chalicelib.payments import daraja, payees
from chalicelib.payments.models import callbacks, payouts
from chalicelib.payments.models.items import PayoutItem
from chalicelib.payments.service.stk import ACCEPTED, CallbackAnswer, check_source
from chalicelib.payments.settings import payments_settings

InsufficientBalance = payouts.InsufficientBalance


def _urls() -> dict[str, str]:
    base = payments_settings().callback_base_url.rstrip("/")
    token = daraja.callback_token()
    return {k: f"{base}/mpesa/b2c/{k}/{token}" for k in ("result", "timeout", "status")}


def withdraw(product: str, account: str, phone: str, amount: int, by: str) -> PayoutItem:
    """Debit ``amount`` whole KES of ``account``'s balance and send it to ``phone``
    (``InsufficientBalance`` when the balance does not cover it: nothing written, nothing sent)."""
    s = payments_settings()
    payee = payees.of(product)
    payout = payouts.create(
        payee, ids.new_id("po_"), account, phone, amount, clock.now() + s.b2c_status_after_seconds, by
    )
    send(payout)
    return payout


def send(payout: PayoutItem) -> str:
    """The one B2C request of a payout."""
    s, urls = payments_settings(), _urls()
    try:
        conversation = daraja.client().b2c_pay(
            originator_id=payout.payout_id,
            initiator=s.b2c_initiator,
            security_credential=daraja.security_credential(),
            phone=payout.phone,
            amount=int(payout.amount),
            result_url=urls["result"],
            timeout_url=urls["timeout"],
            remarks=f"payout {payout.payout_id}",
        )
    except DarajaError as error:
        if error.refused:  # Daraja did not take it: nothing was paid
            payouts.failed(payout, payees.of(payout.product), error.code, error.message, "request")
            return "refused"
        logger.warning(
            "B2C request answer lost; the status query will settle it (never resent)",
            extra={"payout_id": payout.payout_id, "error": str(error)},
        )
        return "unknown"
    payouts.sent(payout, conversation)
    return "sent"


def accept(kind: str, token: str, raw: bytes | None, source_ip: str | None) -> CallbackAnswer:
    """A B2C result, queue timeout or Transaction Status result (``kind``), verified like the STK
    callback; settled once by its payout's status condition."""
    endpoint = f"b2c_{kind}"
    body = (raw or b"").decode("utf-8", errors="replace")
    refused = check_source(token, body, source_ip, endpoint)
    if refused:
        return refused
    try:
        result = parse_result(raw or b"")
    except CallbackError as error:
        callbacks.reject(f"malformed: {error}", body, None, source_ip, endpoint)
        return CallbackAnswer(400, {"error": {"code": "malformed_callback", "message": str(error)}})
    payout = payouts.get(result.originator_id)
    if payout is None:
        callbacks.reject("unknown_payout", body, result.originator_id, source_ip, endpoint)
        return CallbackAnswer(404, {"error": {"code": "unknown_payout", "message": "no such payout"}})
    if kind == "timeout":  # Daraja's queue timed out: ask for the status now; never resend
        payouts.query_again(payout, clock.now())
        ask_status(payout)
        return ACCEPTED
    settle(payout, result, "status" if kind == "status" else "result")
    return ACCEPTED


NOT_FOUND = {"2001", "R000002"}  # Transaction Status: no such transaction (the payment never happened)


def settle(payout: PayoutItem, result: B2CResult, by: str) -> str:
    if result.succeeded:
        done = payouts.paid(payout, result.transaction_id, result.result_code, result.result_desc, by)
        return "paid" if done else "duplicate"
    if by == "status" and result.result_code not in NOT_FOUND:
        logger.warning("status query inconclusive; asking again later", extra={"payout_id": payout.payout_id})
        return "unknown"
    payee = payees.of(payout.product)
    done = payouts.failed(payout, payee, result.result_code, result.result_desc, by)
    return "failed" if done else "duplicate"


def ask_status(payout: PayoutItem) -> None:
    urls = _urls()
    try:
        daraja.client().transaction_status(
            originator_id=payout.payout_id,
            initiator=payments_settings().b2c_initiator,
            security_credential=daraja.security_credential(),
            result_url=urls["status"],
            timeout_url=urls["timeout"],
        )
    except DarajaError as error:  # asked again at the next round
        logger.warning(
            "transaction status query failed", extra={"payout_id": payout.payout_id, "error": str(error)}
        )


def query_unsettled(now: float | None = None) -> Counter[str]:
    """Payouts with no result in time: one Transaction Status query each, next one later."""
    now = clock.now() if now is None else now
    done: Counter[str] = Counter()
    for payout in payouts.unsettled(now):
        payouts.query_again(payout, now + payments_settings().b2c_status_after_seconds)
        ask_status(payout)
        done["b2c_status_asked"] += 1
    return done
