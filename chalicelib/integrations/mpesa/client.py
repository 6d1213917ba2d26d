"""Daraja client: OAuth token, STK push and STK query.

mpesakit supplies the payload models (``StkPushSimulateRequest``/``Response``,
``StkPushQueryRequest``/``Response``), the ``StkPush`` service and the ``TokenManager``. Two of
its pieces do not fit a payment path and are replaced here through its own extension points:

- ``MpesaHttpClient`` knows only the sandbox and production hosts (no simulator, no regional
  gateway), keeps Daraja's ``errorCode`` only inside ``raw_response`` (we need
  ``500.001.1001`` = still processing), and retries *every* request on a read timeout — a second
  STK push after a timeout can put a second PIN prompt on the buyer's phone. ``_HttpClient``
  retries only when the request never reached Daraja (connect errors).
- ``TokenManager`` keeps a token until the very second it expires (a request signed a moment
  before expiry fails at Daraja) and is not guarded against concurrent refreshes.
  ``_TokenCache`` refreshes ``refresh_margin`` seconds early, under a lock.

Timestamps and passwords are computed here in Nairobi time: mpesakit's default uses the host's
local clock, which is UTC on Lambda.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urljoin

import httpx
from mpesakit.auth import TokenManager
from mpesakit.errors import MpesaApiException, MpesaError
from mpesakit.http_client import HttpClient
from mpesakit.mpesa_express import StkPush, StkPushQueryRequest, StkPushSimulateRequest, TransactionType
from pydantic import PrivateAttr, ValidationError

from chalicelib.core import clock

NAIROBI = timezone(timedelta(hours=3), "EAT")
# STK query answer while the buyer has not finished: not a failure, ask again later.
STILL_PROCESSING = "500.001.1001"


class DarajaError(Exception):
    """Daraja refused or could not be reached. ``retryable``: worth asking again later."""

    def __init__(self, code: str, message: str, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.retryable = retryable

    @property
    def refused(self) -> bool:
        """Daraja refused the request itself (a 4xx other than auth and throttling): asking again
        won't help, and nothing was taken."""
        return self.status is not None and 400 <= self.status < 500 and self.status not in (401, 403, 429)


@dataclass(frozen=True)
class DarajaConfig:
    base_url: str
    shortcode: str
    passkey: str
    consumer_key: str
    consumer_secret: str
    transaction_type: str = TransactionType.CUSTOMER_PAYBILL_ONLINE.value
    party_b: str | None = None  # the till number for Buy Goods; the shortcode for PayBill
    timeout: float = 10.0
    refresh_margin: float = 60.0


@dataclass(frozen=True)
class PushAccepted:
    merchant_request_id: str
    checkout_request_id: str
    customer_message: str


@dataclass(frozen=True)
class QueryResult:
    """A final answer of STK query (``result_code`` as text, e.g. ``"0"``, ``"1032"``)."""

    checkout_request_id: str
    result_code: str
    result_desc: str


def timestamp(now: float | None = None) -> str:
    """Daraja's ``Timestamp``: ``YYYYMMDDHHmmss`` in Nairobi time."""
    return (
        datetime.fromtimestamp(clock.now() if now is None else now, tz=UTC)
        .astimezone(NAIROBI)
        .strftime("%Y%m%d%H%M%S")
    )


def password(shortcode: str, passkey: str, stamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{stamp}".encode()).decode()


class _HttpClient(HttpClient):
    """mpesakit's HTTP interface on one pooled httpx client, with Daraja's error codes kept."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.http = httpx.Client(timeout=timeout, transport=httpx.HTTPTransport(retries=2))

    def _send(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        # HTTPTransport(retries=) retries connection failures only: a request that may have
        # reached Daraja is never sent twice.
        try:
            response = self.http.request(method, urljoin(self.base_url, url.lstrip("/")), **kwargs)
        except httpx.TimeoutException as error:
            raise MpesaApiException(
                MpesaError(error_code="REQUEST_TIMEOUT", error_message=str(error))
            ) from error
        except httpx.HTTPError as error:
            raise MpesaApiException(
                MpesaError(error_code="CONNECTION_ERROR", error_message=str(error))
            ) from error
        try:
            data = response.json()
        except ValueError:
            data = {"errorMessage": response.text.strip()[:500]}
        if response.is_success and isinstance(data, dict):
            return data
        data = data if isinstance(data, dict) else {}
        raise MpesaApiException(
            MpesaError(
                request_id=data.get("requestId"),
                error_code=str(data.get("errorCode") or f"HTTP_{response.status_code}"),
                error_message=str(data.get("errorMessage") or response.reason_phrase),
                status_code=response.status_code,
                raw_response=data,
            )
        )

    def post(self, url: str, json: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        return self._send("POST", url, json={k: v for k, v in json.items() if v is not None}, headers=headers)

    def get(
        self, url: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return self._send("GET", url, params=params, headers=headers)


class _TokenCache(TokenManager):
    """mpesakit's token manager, refreshed ``refresh_margin`` seconds before ``expires_in``."""

    refresh_margin: float = 60.0
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _valid_until: float = PrivateAttr(default=0.0)
    _token: str | None = PrivateAttr(default=None)

    def get_token(self, force_refresh: bool = False) -> str:
        with self._lock:
            if self._token and not force_refresh and clock.now() < self._valid_until:
                return self._token
            started = clock.now()
            token = super().get_token(force_refresh=True)
            lifetime = self._access_token.expiration_time if self._access_token else 3600
            self._token = token
            self._valid_until = started + max(0.0, lifetime - self.refresh_margin)
            return token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None


class DarajaClient:
    """STK push and query against one Daraja base URL (sandbox, production or the simulator)."""

    def __init__(self, config: DarajaConfig) -> None:
        self.config = config
        self.http = _HttpClient(config.base_url, config.timeout)
        self.tokens = _TokenCache(
            consumer_key=config.consumer_key,
            consumer_secret=config.consumer_secret,
            http_client=self.http,
            refresh_margin=config.refresh_margin,
        )
        self.stk = StkPush(http_client=self.http, token_manager=self.tokens)

    def token(self) -> str:
        try:
            return self.tokens.get_token()
        except MpesaApiException as error:
            raise _daraja_error(error) from None

    def push(
        self, *, phone: str, amount: int, callback_url: str, account_reference: str, description: str
    ) -> PushAccepted:
        """Send the PIN prompt. Raises ``DarajaError`` when Daraja does not accept it."""
        stamp = timestamp()
        cfg = self.config
        try:
            request = StkPushSimulateRequest(
                BusinessShortCode=int(cfg.shortcode),
                Password=password(cfg.shortcode, cfg.passkey, stamp),
                Timestamp=stamp,
                TransactionType=cfg.transaction_type,
                Amount=amount,
                PartyA=phone,
                PartyB=cfg.party_b or cfg.shortcode,
                PhoneNumber=phone,
                CallBackURL=callback_url,
                AccountReference=account_reference[:12],
                TransactionDesc=description[:13],
            )
        except ValidationError as error:
            raise DarajaError("invalid_request", str(error.errors()[0]["msg"])) from None
        response = self._call(lambda: self.stk.push(request))
        if not response.is_successful():
            raise DarajaError(str(response.ResponseCode), response.ResponseDescription)
        return PushAccepted(response.MerchantRequestID, response.CheckoutRequestID, response.CustomerMessage)

    def query(self, checkout_request_id: str) -> QueryResult | None:
        """The final result of a push, or ``None`` while the buyer has not finished."""
        stamp = timestamp()
        cfg = self.config
        request = StkPushQueryRequest(
            BusinessShortCode=int(cfg.shortcode),
            Password=password(cfg.shortcode, cfg.passkey, stamp),
            Timestamp=stamp,
            CheckoutRequestID=checkout_request_id,
        )
        try:
            response = self._call(lambda: self.stk.query(request))
        except DarajaError as error:
            if error.code == STILL_PROCESSING:
                return None
            raise
        return QueryResult(checkout_request_id, str(response.ResultCode), response.ResultDesc)

    def _call(self, send: Any) -> Any:
        try:
            try:
                return send()
            except MpesaApiException as error:
                if error.error.status_code != 401:
                    raise
                self.tokens.invalidate()  # revoked or rotated early: one fresh token, one retry
                return send()
        except MpesaApiException as error:
            raise _daraja_error(error) from None
        except ValidationError as error:
            raise DarajaError(
                "bad_response", f"unexpected Daraja answer: {error.errors()[0]['msg']}"
            ) from None

    def register_c2b(self, *, confirmation_url: str, validation_url: str, response_type: str) -> str:
        """Register the shortcode's C2B URLs (``response_type``: what Safaricom does when validation
        cannot be reached: ``Completed`` or ``Cancelled``)."""
        from mpesakit.c2b import C2B
        from mpesakit.c2b.schemas import C2BRegisterUrlRequest

        request = C2BRegisterUrlRequest(
            ShortCode=int(self.config.shortcode),
            ResponseType=response_type,
            ConfirmationURL=confirmation_url,
            ValidationURL=validation_url,
        )
        c2b = C2B(http_client=self.http, token_manager=self.tokens)
        response = self._call(lambda: c2b.register_url(request))
        return str(response.ResponseDescription)

    def b2c_pay(
        self,
        *,
        originator_id: str,
        initiator: str,
        security_credential: str,
        phone: str,
        amount: int,
        result_url: str,
        timeout_url: str,
        remarks: str,
    ) -> str:
        """Send money to a phone (B2C v3), once: ``originator_id`` is the payout's stable id, and a
        request whose answer was lost is never sent again (ask ``transaction_status``). Returns
        Daraja's ConversationID."""
        from mpesakit.b2c import B2C, B2CRequest

        request = B2CRequest(
            OriginatorConversationID=originator_id,
            InitiatorName=initiator,
            SecurityCredential=security_credential,
            CommandID="BusinessPayment",
            Amount=amount,
            PartyA=int(self.config.shortcode),
            PartyB=int(phone),
            Remarks=remarks[:100],
            QueueTimeOutURL=timeout_url,
            ResultURL=result_url,
        )
        b2c = B2C(http_client=self.http, token_manager=self.tokens)
        response = self._call(lambda: b2c.send_payment(request))
        if str(response.ResponseCode) != "0":
            raise DarajaError(str(response.ResponseCode), response.ResponseDescription, 400)
        return str(response.ConversationID or "")

    def transaction_status(
        self,
        *,
        originator_id: str,
        initiator: str,
        security_credential: str,
        result_url: str,
        timeout_url: str,
    ) -> None:
        """Ask what became of a B2C payment (by its OriginatorConversationID); the answer comes to
        ``result_url`` like a B2C result."""
        from mpesakit.transaction_status import TransactionStatus, TransactionStatusRequest

        request = TransactionStatusRequest(
            Initiator=initiator,
            SecurityCredential=security_credential,
            CommandID="TransactionStatusQuery",
            PartyA=int(self.config.shortcode),
            IdentifierType=4,
            ResultURL=result_url,
            QueueTimeOutURL=timeout_url,
            Remarks="payout status",
            OriginalConversationID=originator_id,
        )
        status = TransactionStatus(http_client=self.http, token_manager=self.tokens)
        response = self._call(lambda: status.query(request))
        if str(response.ResponseCode) != "0":
            raise DarajaError(str(response.ResponseCode), response.ResponseDescription, 400)

    def close(self) -> None:
        self.http.http.close()


def _daraja_error(error: MpesaApiException) -> DarajaError:
    e = error.error
    status = e.status_code
    retryable = status is None or status >= 500 or status == 429
    return DarajaError(e.error_code or "unknown", e.error_message or str(e), status, retryable)
