"""A Daraja stand-in for the local stack: OAuth, STK push and STK query, and — unlike any public
double — the callback Safaricom sends a few seconds after a push.

The outcome is chosen by the buyer's phone number (docs/hotspot.md lists them):

| phone | what happens |
|---|---|
| 254700000001 (0700 000 001) | callback 1032: cancelled by the user |
| 254700000002 | callback 1037: phone unreachable / PIN not entered in time |
| 254700000003 | callback 2001: wrong PIN |
| 254700000004 | callback 1: insufficient funds |
| 254700000005 | callback 0 for KES 1 less than asked (an amount mismatch) |
| 25470000xxx9 (0700 00x xx9) | no callback at all; STK query answers success (query fallback) |
| any other | callback 0: paid, with a fresh receipt number |

STK query answers ``500.001.1001`` (still processing) until the outcome is due, then the result.

C2B (Paybill/Till): ``/mpesa/c2b/v1/registerurl`` keeps the shortcode's validation and
confirmation URLs; ``/mpesa/c2b/v1/simulate`` (``ShortCode``, ``Amount``, ``Msisdn``,
``BillRefNumber``, and the simulator's own ``SkipValidation``) posts Safaricom's validation body
(``TransAmount`` as a string, ``"100.00"``), and only if it answers ``ResultCode`` ``"0"`` the
confirmation (``TransAmount`` as a number); the answer says what happened.

B2C (``/mpesa/b2c/v3/paymentrequest``) answers at once and posts the result after the delay, by
the receiving phone: 254700000001 fails (2001), 254700000002 gets only a queue timeout on
``QueueTimeOutURL`` (the money did move: a Transaction Status query says paid), 25470000xxx9 gets
nothing at all; any other phone is paid. ``/mpesa/transactionstatus/v1/query``
(``OriginalConversationID``) posts what became of that payout to its ``ResultURL``; ``R000002``
for one it never saw.
It also serves ``/hotspot-login``: the stand-in for a MikroTik router's login page, where the
portal's auto-login form posts (the real router is on the customer's LAN, not on loopback).

Run: ``python -m infra.local.daraja --port 18080 --delay 3 --shortcode 174379 ...``
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import random
import string
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

NAIROBI = timezone(timedelta(hours=3))
OUTCOMES: dict[str, tuple[str, str]] = {
    "254700000001": ("1032", "Request cancelled by user"),
    "254700000002": ("1037", "DS timeout user cannot be reached"),
    "254700000003": ("2001", "The initiator information is invalid."),
    "254700000004": ("1", "The balance is insufficient for the transaction."),
    "254700000005": ("0", "The service request is processed successfully."),
}
SILENT_PREFIX, SILENT_SUFFIX = "25470000", "9"
SHORT_BY_ONE = {"254700000005"}
SUCCESS = ("0", "The service request is processed successfully.")


def _id(prefix: str, n: int = 12) -> str:
    return prefix + "".join(random.choices(string.ascii_uppercase + string.digits, k=n))


class Simulator:
    def __init__(self, shortcode: str, passkey: str, key: str, secret: str, delay: float) -> None:
        self.shortcode, self.passkey, self.key, self.secret, self.delay = (
            shortcode,
            passkey,
            key,
            secret,
            delay,
        )
        self.tokens: set[str] = set()
        self.pushes: dict[str, dict[str, Any]] = {}
        self.log: list[dict[str, Any]] = []
        self.logins: list[dict[str, str]] = []
        self.c2b_urls: dict[str, dict[str, str]] = {}  # shortcode -> ValidationURL, ConfirmationURL
        self.payouts: dict[str, dict[str, Any]] = {}  # OriginatorConversationID -> outcome
        self.lock = threading.Lock()

    def b2c(self, authorization: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not self._authorized(authorization):
            return 401, {"errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
        originator, phone = str(body.get("OriginatorConversationID") or ""), str(body.get("PartyB") or "")
        if not originator or not phone or int(body.get("Amount") or 0) < 10:
            return 400, {"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid request"}
        with self.lock:
            seen = self.payouts.get(originator)
            if seen is None:  # the same OriginatorConversationID twice pays once
                code, desc = (
                    ("2001", "The initiator information is invalid.") if phone == "254700000001" else SUCCESS
                )
                seen = self.payouts[originator] = {
                    "conversation": _id("AG_", 20),
                    "code": code,
                    "desc": desc,
                    "receipt": _id("", 10) if code == "0" else None,
                    "amount": int(body["Amount"]),
                    "phone": phone,
                }
                silent = phone.startswith(SILENT_PREFIX) and phone.endswith(SILENT_SUFFIX)
                if phone == "254700000002":
                    self._later(
                        body["QueueTimeOutURL"], self.b2c_result(originator, "1", "The request timed out.")
                    )
                elif not silent:
                    self._later(body["ResultURL"], self.b2c_result(originator))
        return 200, {
            "ConversationID": seen["conversation"],
            "OriginatorConversationID": originator,
            "ResponseCode": "0",
            "ResponseDescription": "Accept the service request successfully.",
        }

    def b2c_result(self, originator: str, code: str | None = None, desc: str | None = None) -> dict[str, Any]:
        """Safaricom's documented B2C (and Transaction Status) result body."""
        seen = self.payouts.get(originator)
        if seen is None:
            code, desc = code or "R000002", desc or "The OriginatorConversationID is invalid."
        final = code or seen["code"]
        result: dict[str, Any] = {
            "ResultType": 0,
            "ResultCode": int(final) if final.isdigit() else final,
            "ResultDesc": desc or seen["desc"],
            "OriginatorConversationID": originator,
            "ConversationID": seen["conversation"] if seen else _id("AG_", 20),
            "TransactionID": (seen or {}).get("receipt") or _id("", 10),
            "ReferenceData": {
                "ReferenceItem": {"Key": "QueueTimeoutURL", "Value": "https://internalsandbox"}
            },
        }
        if code is None and seen and seen["code"] == "0":
            result["ResultParameters"] = {
                "ResultParameter": [
                    {"Key": "TransactionAmount", "Value": seen["amount"]},
                    {"Key": "TransactionReceipt", "Value": seen["receipt"]},
                    {"Key": "B2CRecipientIsRegisteredCustomer", "Value": "Y"},
                ]
            }
        return {"Result": result}

    def transaction_status(self, authorization: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not self._authorized(authorization):
            return 401, {"errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
        originator = str(body.get("OriginalConversationID") or body.get("OriginatorConversationID") or "")
        with self.lock:
            answer = self.b2c_result(originator)
        self._later(str(body.get("ResultURL") or ""), answer)
        return 200, {
            "ConversationID": _id("AG_", 20),
            "OriginatorConversationID": _id("", 12),
            "ResponseCode": "0",
            "ResponseDescription": "Accept the service request successfully.",
        }

    def _later(self, url: str, body: dict[str, Any]) -> None:
        def post() -> None:
            time.sleep(self.delay)
            outcome = _post(url, body)
            with self.lock:
                self.log.append({"b2c": body["Result"]["OriginatorConversationID"], "status": outcome})

        threading.Thread(target=post, daemon=True).start()

    def register_c2b(self, authorization: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not self._authorized(authorization):
            return 401, {"errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
        missing = [
            k for k in ("ShortCode", "ResponseType", "ConfirmationURL", "ValidationURL") if not body.get(k)
        ]
        if missing:
            return 400, {"errorCode": "400.002.02", "errorMessage": f"Bad Request - Invalid {missing[0]}"}
        with self.lock:
            self.c2b_urls[str(body["ShortCode"])] = {
                "validation": body["ValidationURL"],
                "confirmation": body["ConfirmationURL"],
                "response_type": body["ResponseType"],
            }
        return 200, {
            "OriginatorCoversationID": _id("", 8),  # sic: Safaricom's spelling
            "ResponseCode": "0",
            "ResponseDescription": "Success",
        }

    def simulate_c2b(self, authorization: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A payer pays the shortcode: validation (unless skipped), then confirmation."""
        if not self._authorized(authorization):
            return 401, {"errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
        with self.lock:
            urls = self.c2b_urls.get(str(body.get("ShortCode")))
        if urls is None:
            return 400, {"errorCode": "400.002.02", "errorMessage": "Bad Request - no URLs registered"}
        amount = int(body.get("Amount") or 0)
        payload: dict[str, Any] = {
            "TransactionType": "Pay Bill" if body.get("BillRefNumber") else "Buy Goods",
            "TransID": _id("S", 9),
            "TransTime": datetime.now(UTC).astimezone(NAIROBI).strftime("%Y%m%d%H%M%S"),
            "TransAmount": f"{amount}.00",
            "BusinessShortCode": str(body.get("ShortCode")),
            "BillRefNumber": body.get("BillRefNumber") or "",
            "InvoiceNumber": "",
            "OrgAccountBalance": "",
            "ThirdPartyTransID": "",
            "MSISDN": str(body.get("Msisdn") or ""),
            "FirstName": "John",
            "MiddleName": "",
            "LastName": "Doe",
        }
        validation: Any = "skipped"
        if not body.get("SkipValidation"):
            validation = _post(urls["validation"], payload)
            if not isinstance(validation, dict) or str(validation.get("ResultCode")) != "0":
                return 200, {"TransID": payload["TransID"], "validation": validation, "confirmation": None}
        confirmed = {**payload, "TransAmount": float(amount), "OrgAccountBalance": "49197.00"}
        return 200, {
            "TransID": payload["TransID"],
            "validation": validation,
            "confirmation": _post(urls["confirmation"], confirmed),
        }

    def oauth(self, authorization: str) -> tuple[int, dict[str, Any]]:
        expected = "Basic " + base64.b64encode(f"{self.key}:{self.secret}".encode()).decode()
        if authorization != expected:
            return 400, {"errorCode": "400.008.01", "errorMessage": "Invalid Authentication passed"}
        token = _id("sim", 28)
        with self.lock:
            self.tokens.add(token)
        return 200, {"access_token": token, "expires_in": "3599"}

    def _authorized(self, authorization: str) -> bool:
        return authorization.startswith("Bearer ") and authorization[7:] in self.tokens

    def _password_ok(self, body: dict[str, Any]) -> bool:
        stamp = str(body.get("Timestamp", ""))
        expected = base64.b64encode(f"{self.shortcode}{self.passkey}{stamp}".encode()).decode()
        return body.get("Password") == expected and str(body.get("BusinessShortCode")) == self.shortcode

    def push(self, authorization: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not self._authorized(authorization):
            return 401, {"errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
        if not self._password_ok(body):
            return 400, {"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid Password"}
        phone, amount = str(body.get("PhoneNumber", "")), body.get("Amount")
        if not (phone.startswith("254") and len(phone) == 12) or not isinstance(amount, int) or amount < 1:
            return 400, {
                "errorCode": "400.002.02",
                "errorMessage": "Bad Request - Invalid PhoneNumber or Amount",
            }
        if len(str(body.get("AccountReference", ""))) > 12 or len(str(body.get("TransactionDesc", ""))) > 13:
            return 400, {"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid AccountReference"}
        checkout, merchant = _id("ws_CO_", 20), _id("29115-", 8)
        code, desc = OUTCOMES.get(phone, SUCCESS)
        push = {
            "checkout": checkout,
            "merchant": merchant,
            "phone": phone,
            "amount": amount - 1 if phone in SHORT_BY_ONE else amount,
            "callback_url": body.get("CallBackURL"),
            "code": code,
            "desc": desc,
            "due": time.time() + self.delay,
        }
        with self.lock:
            self.pushes[checkout] = push
        if not (phone.startswith(SILENT_PREFIX) and phone.endswith(SILENT_SUFFIX)):
            timer = threading.Timer(self.delay, self._send_callback, args=(push,))
            timer.daemon = True
            timer.start()
        return 200, {
            "MerchantRequestID": merchant,
            "CheckoutRequestID": checkout,
            "ResponseCode": "0",
            "ResponseDescription": "Success. Request accepted for processing",
            "CustomerMessage": "Success. Request accepted for processing",
        }

    def query(self, authorization: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not self._authorized(authorization):
            return 401, {"errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
        if not self._password_ok(body):
            return 400, {"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid Password"}
        push = self.pushes.get(str(body.get("CheckoutRequestID")))
        if push is None:
            return 400, {"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid CheckoutRequestID"}
        if time.time() < push["due"]:
            return 500, {
                "requestId": _id("", 8),
                "errorCode": "500.001.1001",
                "errorMessage": "The transaction is being processed",
            }
        return 200, {
            "ResponseCode": "0",
            "ResponseDescription": "The service request has been accepted successsfully",
            "MerchantRequestID": push["merchant"],
            "CheckoutRequestID": push["checkout"],
            "ResultCode": push["code"],
            "ResultDesc": push["desc"],
        }

    def callback_body(self, push: dict[str, Any]) -> dict[str, Any]:
        stk: dict[str, Any] = {
            "MerchantRequestID": push["merchant"],
            "CheckoutRequestID": push["checkout"],
            "ResultCode": int(push["code"]),
            "ResultDesc": push["desc"],
        }
        if push["code"] == "0":
            stk["CallbackMetadata"] = {
                "Item": [
                    {"Name": "Amount", "Value": float(push["amount"])},
                    {"Name": "MpesaReceiptNumber", "Value": _id("", 10)},
                    {"Name": "Balance"},
                    {
                        "Name": "TransactionDate",
                        "Value": int(datetime.now(UTC).astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")),
                    },
                    {"Name": "PhoneNumber", "Value": int(push["phone"])},
                ]
            }
        return {"Body": {"stkCallback": stk}}

    def _send_callback(self, push: dict[str, Any]) -> None:
        data = json.dumps(self.callback_body(push)).encode()
        request = urllib.request.Request(
            push["callback_url"], data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status = response.status
        except Exception as error:  # Safaricom does not retry either; the query fallback will
            status = getattr(error, "code", None) or repr(error)
        with self.lock:
            self.log.append({"callback": push["checkout"], "status": status, "at": time.time()})


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")
    except Exception as error:
        return {"error": getattr(error, "code", None) or repr(error)}


def make_handler(sim: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _html(self, text: str) -> None:
            data = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/oauth/v1/generate":
                self._json(*sim.oauth(self.headers.get("Authorization", "")))
            elif url.path == "/sim/pushes":
                with sim.lock:
                    self._json(
                        200, {"pushes": list(sim.pushes.values()), "callbacks": sim.log, "logins": sim.logins}
                    )
            elif url.path == "/health":
                self._json(200, {"status": "ok"})
            elif url.path == "/hotspot-login":
                self._html("<!doctype html><title>Router login</title><h1>Router login page</h1>")
            else:
                self._json(404, {"errorCode": "404.001.01", "errorMessage": "Resource not found"})

        def do_POST(self) -> None:
            url, raw = urlparse(self.path), self._body()
            if url.path == "/hotspot-login":
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                with sim.lock:
                    sim.logins.append({"username": form.get("username", ""), "at": str(time.time())})
                self._html(
                    "<!doctype html><title>Online</title>"
                    f"<h1 id=online>You are online, {html.escape(form.get('username', ''))}</h1>"
                )
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._json(400, {"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid JSON"})
                return
            auth = self.headers.get("Authorization", "")
            if url.path == "/mpesa/stkpush/v1/processrequest":
                self._json(*sim.push(auth, body))
            elif url.path == "/mpesa/stkpushquery/v1/query":
                self._json(*sim.query(auth, body))
            elif url.path == "/mpesa/c2b/v1/registerurl":
                self._json(*sim.register_c2b(auth, body))
            elif url.path == "/mpesa/c2b/v1/simulate":
                self._json(*sim.simulate_c2b(auth, body))
            elif url.path == "/mpesa/b2c/v3/paymentrequest":
                self._json(*sim.b2c(auth, body))
            elif url.path == "/mpesa/transactionstatus/v1/query":
                self._json(*sim.transaction_status(auth, body))
            else:
                self._json(404, {"errorCode": "404.001.01", "errorMessage": "Resource not found"})

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--delay", type=float, default=3.0, help="Seconds from push to callback (the PIN).")
    parser.add_argument("--shortcode", default="174379")
    parser.add_argument(
        "--config", required=True, help="JSON file with consumer_key, consumer_secret, passkey."
    )
    args = parser.parse_args()
    with open(args.config, encoding="utf-8") as f:
        config = json.load(f)
    sim = Simulator(
        args.shortcode, config["passkey"], config["consumer_key"], config["consumer_secret"], args.delay
    )
    server = ThreadingHTTPServer((args.host, args.port), make_handler(sim))
    server.daemon_threads = True
    print(f"daraja simulator on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
