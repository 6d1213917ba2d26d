"""Paybill (C2B) on in-process moto with Safaricom's documented validation and confirmation
bodies: unknown accounts and wrong amounts are refused before the money moves, a confirmation
is granted once per TransID, and one nobody validated is settled or held by the stated rule."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.payments.models import callbacks, payments
from chalicelib.payments.service import c2b
from tests.integration.conftest import bearer
from tests.integration.payments.conftest import CALLBACK_TOKEN, post
from tests.support.daraja import c2b_body
from tests.support.ids import unique


def validate(api: Client, payload: dict[str, Any], token: str = CALLBACK_TOKEN) -> Any:
    return post(api, f"/mpesa/c2b/validation/{token}", payload)


def confirm(api: Client, payload: dict[str, Any], token: str = CALLBACK_TOKEN) -> Any:
    return post(api, f"/mpesa/c2b/confirmation/{token}", payload)


@pytest.fixture
def patient(api: Client, token: Callable[..., str]) -> tuple[str, dict[str, str]]:
    """Given a patient with a subscription (an admin's top-up): their id is their account number."""
    patient_id = unique("pat")
    admin = bearer(token("admin-1", "admin"))
    grant = {"patient_id": patient_id, "kind": "voice", "credits": 1, "reference": unique("cash")}
    assert post(api, "/admin/consult/top-ups", grant, admin).status_code == 201
    return patient_id, bearer(token(patient_id, "patient"))


def text_credits(api: Client, me: dict[str, str]) -> int:
    return api.http.get("/me/consult/subscription", headers=me).json_body["text_sessions_remaining"]


def test_validation_accepts_a_known_account_and_refuses_the_rest(api: Client, patient: Any) -> None:
    """Given a patient's account number and the text-credit price (KES 50)
    When Safaricom validates KES 100 to it (amount as a string), to an unknown account, KES 75
    to it, and KES 100 to another shortcode
    Then 0, C2B00012, C2B00013 and C2B00015; nothing is granted and each refusal is recorded."""
    patient_id, me = patient
    started = time.time()
    answers = [
        validate(api, c2b_body(patient_id, "100.00")).json_body,
        validate(api, c2b_body(unique("nobody"), "100.00")).json_body,
        validate(api, c2b_body(patient_id, "75")).json_body,
        validate(api, {**c2b_body(patient_id, "100"), "BusinessShortCode": "600000"}).json_body,
    ]
    assert [a["ResultCode"] for a in answers] == ["0", "C2B00012", "C2B00013", "C2B00015"]
    assert text_credits(api, me) == 0
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    mine = [
        r for r in callbacks.rejected(today) if r.created_at >= started and r.endpoint == "c2b_validation"
    ]
    assert sorted(r.reason for r in mine) == ["amount_mismatch", "unknown_account", "unknown_shortcode"]


def test_twenty_duplicate_confirmations_grant_once(api: Client, patient: Any) -> None:
    """Given a validated KES 150 Paybill payment to a patient's account
    When its confirmation (amount as a number) arrives 20 times
    Then every copy is acknowledged, the patient has 3 text credits once, and the payment is paid
    with its TransID as the receipt."""
    patient_id, me = patient
    payload = c2b_body(patient_id, 150.0)
    assert validate(api, {**payload, "TransAmount": "150.00"}).json_body["ResultCode"] == "0"

    answers = [confirm(api, payload) for _ in range(20)]

    assert {(a.status_code, a.json_body["ResultCode"]) for a in answers} == {(200, 0)}
    assert text_credits(api, me) == 3
    payment = payments.get(payload["TransID"])
    assert (payment.status, payment.receipt, payment.method, payment.product) == (
        "paid",
        payload["TransID"],
        "c2b",
        "consult",
    )


def test_a_confirmation_nobody_validated_is_settled_if_it_matches_else_held(
    api: Client, patient: Any
) -> None:
    """Given a shortcode running without validation
    When confirmations come for KES 50 to the patient's account, KES 50 to an unknown account and
    KES 30 to the patient's account (twice each)
    Then the first is granted (1 text credit); the other two are held for the operator with the
    reason, nothing granted, and the operator's list shows them."""
    patient_id, me = patient
    good, unknown, wrong = (
        c2b_body(patient_id, "50"),
        c2b_body(unique("nobody"), "50"),
        c2b_body(patient_id, "30"),
    )
    for payload in (good, unknown, wrong) * 2:
        assert confirm(api, payload).json_body == {"ResultCode": 0, "ResultDesc": "Accepted"}

    assert text_credits(api, me) == 1
    held = {p.checkout_request_id: p for p in c2b.held()}
    assert {t: held[t].context["reason"] for t in (unknown["TransID"], wrong["TransID"])} == {
        unknown["TransID"]: "unknown_account",
        wrong["TransID"]: "amount_mismatch",
    }
    assert payments.get(good["TransID"]).status == "paid"


def test_forged_and_malformed_c2b_bodies_change_nothing(api: Client, patient: Any) -> None:
    """Given the C2B endpoints
    When a confirmation comes on a wrong path secret, a malformed confirmation and a malformed
    validation come
    Then 404, 400, and validation's documented rejection (C2B00016); nothing is stored but the
    refusals."""
    patient_id, me = patient
    forged = c2b_body(patient_id, "50")
    assert confirm(api, forged, token="wrong-token").status_code == 404
    assert confirm(api, {"TransID": "X1"}).status_code == 400
    assert api.http.post(
        f"/mpesa/c2b/confirmation/{CALLBACK_TOKEN}", headers={"Content-Type": "application/json"}, body="{"
    ).status_code in (400,)
    assert validate(api, {"BillRefNumber": patient_id}).json_body["ResultCode"] == "C2B00016"
    assert payments.get(forged["TransID"]) is None and text_credits(api, me) == 0
