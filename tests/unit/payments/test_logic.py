"""Hotspot rules and the Daraja payloads, without AWS."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from mpesakit.http_client import HttpClient

from chalicelib.core import clock
from chalicelib.integrations.mpesa import CallbackError, parse_callback
from chalicelib.integrations.mpesa.client import _TokenCache, password, timestamp
from chalicelib.payments import logic

# Safaricom's documented STK callback samples (Daraja docs, "M-Pesa Express" result payloads).
SUCCESS = {
    "Body": {
        "stkCallback": {
            "MerchantRequestID": "29115-34620561-1",
            "CheckoutRequestID": "ws_CO_191220191020363925",
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "CallbackMetadata": {
                "Item": [
                    {"Name": "Amount", "Value": 1.00},
                    {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
                    {"Name": "Balance"},
                    {"Name": "TransactionDate", "Value": 20191219102115},
                    {"Name": "PhoneNumber", "Value": 254708374149},
                ]
            },
        }
    }
}


def failure(code: Any, desc: str) -> dict[str, Any]:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "29115-34620561-1",
                "CheckoutRequestID": "ws_CO_191220191020363925",
                "ResultCode": code,
                "ResultDesc": desc,
            }
        }
    }


def test_documented_success_callback_parses_by_name() -> None:
    """Given Safaricom's success sample, when parsed, then every item is read by its Name."""
    result = parse_callback(json.dumps(SUCCESS).encode())
    assert result.succeeded and result.result_code == "0"
    assert result.amount == Decimal("1.0") and result.receipt == "NLJ7RT61SV"
    assert result.transaction_date == "20191219102115" and result.phone == "254708374149"
    assert result.checkout_request_id == "ws_CO_191220191020363925"


def test_metadata_order_does_not_matter() -> None:
    """Given the success sample with its items reversed, when parsed, then the same values come out."""
    shuffled = json.loads(json.dumps(SUCCESS))
    shuffled["Body"]["stkCallback"]["CallbackMetadata"]["Item"].reverse()
    assert parse_callback(shuffled) == parse_callback(SUCCESS)


@pytest.mark.parametrize(
    ("code", "desc", "expected"),
    [
        (1032, "Request cancelled by user", "1032"),
        (1037, "DS timeout user cannot be reached", "1037"),
        (2001, "The initiator information is invalid.", "2001"),
        ("1032", "Request cancelled by user", "1032"),
        ("0", "The service request is processed successfully.", None),
        ("SFC_IC0003", "System busy", "SFC_IC0003"),
    ],
)
def test_documented_failure_callbacks_parse(code: Any, desc: str, expected: str | None) -> None:
    """Given a failure sample (number or string ResultCode), when parsed, then the code is text and
    no metadata is needed; a string "0" without metadata is refused (success must carry it)."""
    if expected is None:
        with pytest.raises(CallbackError):
            parse_callback(failure(code, desc))
        return
    result = parse_callback(failure(code, desc))
    assert result.result_code == expected and not result.succeeded and result.amount is None


def test_string_zero_with_metadata_is_success() -> None:
    """Given the success sample with ResultCode "0" as a string, when parsed, then it is a success."""
    sample = json.loads(json.dumps(SUCCESS))
    sample["Body"]["stkCallback"]["ResultCode"] = "0"
    assert parse_callback(sample).succeeded


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"Body": {}}',
        json.dumps(failure(None, "x")).encode(),
        json.dumps({"Body": {"stkCallback": {"ResultCode": 0}}}).encode(),
    ],
)
def test_malformed_callbacks_are_refused(body: bytes) -> None:
    """Given bodies that are not STK callbacks, when parsed, then CallbackError (never a crash)."""
    with pytest.raises(CallbackError):
        parse_callback(body)


@pytest.mark.parametrize(
    ("raw", "phone"),
    [
        ("0712345678", "254712345678"),
        ("+254 712 345 678", "254712345678"),
        ("254112345678", "254112345678"),
        ("0112-345-678", "254112345678"),
        ("712345678", "254712345678"),
    ],
)
def test_phone_numbers_normalise(raw: str, phone: str) -> None:
    assert logic.normalize_phone(raw) == phone


@pytest.mark.parametrize("raw", ["", "12345", "0812345678", "25471234567", "+1 415 555 0100", "07123456789"])
def test_bad_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(logic.InvalidInput):
        logic.normalize_phone(raw)


def test_judge_paid_only_at_the_exact_price() -> None:
    """Given result 0, then paid only when the amount is the price (or unknown, from a query)."""
    assert logic.judge("0", "ok", Decimal("20"), 20).status == "paid"
    assert logic.judge("0", "ok", Decimal("20.0"), 20).status == "paid"
    assert logic.judge("0", "ok", None, 20).status == "paid"
    assert logic.judge("0", "ok", Decimal("19.99"), 20).reason == "amount_mismatch"
    assert logic.judge("0", "ok", Decimal("200"), 20).reason == "amount_mismatch"


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        ("1032", "cancelled", "cancelled"),
        ("1037", "failed", "timeout"),
        ("2001", "failed", "wrong_pin"),
        ("1", "failed", "insufficient_funds"),
        ("17", "failed", "mpesa_17"),
        ("SFC_IC0003", "failed", "mpesa_SFC_IC0003"),
    ],
)
def test_result_codes(code: str, status: str, reason: str) -> None:
    outcome = logic.judge(code, "desc", None, 20)
    assert (outcome.status, outcome.reason) == (status, reason) and outcome.message


def test_a_late_result_may_still_settle_a_payment_given_up_for_no_answer() -> None:
    assert logic.settleable(logic.PENDING, None)
    assert logic.settleable(logic.FAILED, "no_result")
    assert not logic.settleable(logic.FAILED, "wrong_pin")
    assert not logic.settleable(logic.PAID, None)


def test_password_and_timestamp_are_nairobi_time() -> None:
    """Given 2019-12-19 07:21:15 UTC, then the timestamp is 10:21:15 in Nairobi."""
    stamp = timestamp(1576740075)
    assert stamp == "20191219102115"
    assert base64.b64decode(password("174379", "pk", stamp)).decode() == "174379pk20191219102115"


class FakeOAuth(HttpClient):
    """mpesakit's HttpClient interface, answering OAuth with a fresh token each time."""

    def __init__(self) -> None:
        self.calls = 0

    def get(self, url: str, params: Any = None, headers: Any = None) -> dict[str, Any]:
        self.calls += 1
        return {"access_token": f"t{self.calls}", "expires_in": "3599"}

    def post(self, url: str, json: Any, headers: Any) -> dict[str, Any]:
        raise AssertionError("no POST expected")


def test_token_is_cached_until_shortly_before_expiry() -> None:
    """Given a token living 3599 s and a 60 s margin, then it is reused until 3539 s, then renewed."""
    frozen = clock.FrozenClock(1000.0)
    clock.set_clock(frozen)
    try:
        http = FakeOAuth()
        tokens = _TokenCache(consumer_key="k", consumer_secret="s", http_client=http, refresh_margin=60)
        assert tokens.get_token() == "t1"
        frozen.advance(3538)
        assert tokens.get_token() == "t1" and http.calls == 1
        frozen.advance(2)
        assert tokens.get_token() == "t2" and http.calls == 2
    finally:
        clock.set_clock(None)
