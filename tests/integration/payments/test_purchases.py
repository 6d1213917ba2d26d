"""Patients and students pay by M-Pesa STK push (Daraja played by daraja-mock): a consultation
plan or top-up, a class-credit bundle; credits once when paid, a clear status otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice.test import Client
from daraja_mock import DarajaMock

from chalicelib.payments.models import payments
from tests.integration.conftest import bearer
from tests.integration.payments.conftest import (
    CALLBACK_TOKEN,
    failure_callback,
    new_phone,
    new_receipt,
    post,
    success_callback,
)
from tests.support.ids import unique


def callback(api: Client, body: dict[str, Any]) -> Any:
    return post(api, f"/mpesa/callback/{CALLBACK_TOKEN}", body)


def checkout_of(payment_id: str) -> str:
    payment = payments.by_id(payment_id)
    assert payment is not None
    return payment.checkout_request_id


def plan(api: Client, admin: dict[str, str], price: int = 150_000) -> str:
    body = {"name": "Family", "text_sessions": 20, "voice_calls": 5, "video_calls": 0, "price": price}
    response = post(api, "/admin/consult/plans", body, admin)
    assert response.status_code == 201, response.body
    return response.json_body["id"]


def test_a_patient_buys_a_plan_and_gets_its_credits_once(
    api: Client, daraja_mock: tuple[DarajaMock, str], token: Callable[..., str]
) -> None:
    """Given a plan priced KES 1,500 and a patient with no subscription
    When the patient buys it by STK push and Safaricom's success callback comes three times
    Then the push asked for 1500, the purchase is paid with its receipt, and the patient has the
    plan's credits once; it is listed as theirs."""
    mock = daraja_mock[0]
    mock.reset()
    admin = bearer(token("admin-1", "admin"))
    patient = unique("patient")
    me = bearer(token(patient, "patient"))
    plan_id = plan(api, admin)

    accepted = post(api, "/me/consult/purchases", {"plan_id": plan_id, "phone_number": new_phone()}, me)

    assert accepted.status_code == 202, accepted.body
    body = accepted.json_body
    assert body["status"] == "pending" and body["amount"] == 1500
    pushes = [r["body"] for r in mock.request_log() if r["path"] == "/mpesa/stkpush/v1/processrequest"]
    assert [p["Amount"] for p in pushes] == [1500]
    receipt = new_receipt()
    for _ in range(3):
        answer = callback(api, success_callback(checkout_of(body["payment_id"]), 1500.0, receipt))
        assert answer.status_code == 200 and answer.json_body["ResultCode"] == 0
    status = api.http.get(body["status_url"], headers=me).json_body
    assert status["status"] == "paid" and status["receipt"] == receipt
    credits = api.http.get("/me/consult/subscription", headers=me).json_body
    assert (credits["text_sessions_remaining"], credits["voice_calls_remaining"]) == (20, 5)
    assert credits["plan_id"] == plan_id and credits["status"] == "active"
    listed = api.http.get("/me/consult/purchases", headers=me).json_body["purchases"]
    assert [p["payment_id"] for p in listed] == [body["payment_id"]]


def test_a_cancelled_top_up_adds_nothing_and_says_why(
    api: Client, daraja_mock: tuple[DarajaMock, str], token: Callable[..., str]
) -> None:
    """Given a patient buying 3 text credits
    When the buyer cancels on the phone (1032)
    Then the purchase is cancelled with Daraja's reason, and the patient has no credits."""
    patient = unique("patient")
    me = bearer(token(patient, "patient"))
    accepted = post(
        api, "/me/consult/purchases", {"kind": "text", "credits": 3, "phone_number": new_phone()}, me
    )
    assert accepted.status_code == 202 and accepted.json_body["amount"] == 150
    payment_id = accepted.json_body["payment_id"]

    callback(api, failure_callback(checkout_of(payment_id), 1032, "Request cancelled by user"))

    status = api.http.get(f"/me/consult/purchases/{payment_id}", headers=me).json_body
    assert (status["status"], status["reason"], status["result_code"]) == ("cancelled", "cancelled", "1032")
    assert status["result_desc"] == "Request cancelled by user" and status["message"]
    assert api.http.get("/me/consult/subscription", headers=me).status_code == 404


def test_a_wrong_amount_grants_nothing(api: Client, token: Callable[..., str]) -> None:
    """Given a pending top-up of KES 100
    When the success callback says KES 1
    Then the purchase fails (amount_mismatch) and no credit is added."""
    me = bearer(token(unique("patient"), "patient"))
    accepted = post(
        api, "/me/consult/purchases", {"kind": "voice", "credits": 1, "phone_number": new_phone()}, me
    )
    payment_id = accepted.json_body["payment_id"]
    callback(api, success_callback(checkout_of(payment_id), 1.0, new_receipt()))
    status = api.http.get(f"/me/consult/purchases/{payment_id}", headers=me).json_body
    assert (status["status"], status["reason"]) == ("failed", "amount_mismatch")
    assert api.http.get("/me/consult/subscription", headers=me).status_code == 404


def test_purchase_input_and_ownership(api: Client, token: Callable[..., str]) -> None:
    """Given the purchase API
    When a body names both a plan and a kind, neither, an unknown plan, a bad phone; a doctor
    calls it; another patient reads a purchase
    Then 422, 422, 404, 422, 403 and 404, and no push left a purchase behind."""
    me = bearer(token(unique("patient"), "patient"))
    phone = new_phone()
    for bad, status in (
        ({"plan_id": "p", "kind": "text", "credits": 1, "phone_number": phone}, 422),
        ({"phone_number": phone}, 422),
        ({"plan_id": "plan_nope", "phone_number": phone}, 404),
        ({"kind": "text", "credits": 1, "phone_number": "12345"}, 422),
        ({"kind": "text", "credits": 0, "phone_number": phone}, 422),
    ):
        response = post(api, "/me/consult/purchases", bad, me)
        assert response.status_code == status, (bad, response.body)
        assert "error" in response.json_body
    doctor = bearer(token(unique("doctor"), "doctor"))
    assert (
        post(
            api, "/me/consult/purchases", {"kind": "text", "credits": 1, "phone_number": phone}, doctor
        ).status_code
        == 403
    )
    mine = post(
        api, "/me/consult/purchases", {"kind": "text", "credits": 1, "phone_number": phone}, me
    ).json_body
    other = bearer(token(unique("patient"), "patient"))
    assert api.http.get(f"/me/consult/purchases/{mine['payment_id']}", headers=other).status_code == 404


def test_a_student_buys_a_class_credit_bundle(api: Client, token: Callable[..., str]) -> None:
    """Given the five-credit bundle (KES 500)
    When a student buys it and Safaricom confirms (twice)
    Then the student's class-credit wallet holds 5 more credits, once, and the purchase is paid."""
    student = unique("student")
    me = bearer(token(student, "student"))
    accepted = post(
        api, "/me/class-credits/purchases", {"bundle_id": "five", "phone_number": new_phone()}, me
    )
    assert accepted.status_code == 202 and accepted.json_body["amount"] == 500, accepted.body
    payment_id, receipt = accepted.json_body["payment_id"], new_receipt()
    for _ in range(2):
        callback(api, success_callback(checkout_of(payment_id), 500.0, receipt))
    assert api.http.get(f"/me/class-credits/purchases/{payment_id}", headers=me).json_body["status"] == "paid"
    wallet = api.http.get("/me/class-credits", headers=me).json_body
    assert (wallet["credits"], wallet["granted"]) == (5, 5)
    unknown = post(api, "/me/class-credits/purchases", {"bundle_id": "nope", "phone_number": new_phone()}, me)
    assert unknown.status_code == 404
