"""B2C payouts on in-process moto with Daraja faked at its client: a doctor withdraws earnings;
the wallet is debited before the request; a failure gives it back once; a lost answer or a queue
timeout is settled by a Transaction Status query, never by a second payment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.consult.models import items as consult_items
from chalicelib.consult.models.credits import get_wallet
from chalicelib.integrations.mpesa import DarajaError
from chalicelib.payments import daraja
from chalicelib.payments.models import payouts
from chalicelib.payments.service import b2c
from tests.integration.conftest import bearer
from tests.integration.payments.conftest import CALLBACK_TOKEN, post
from tests.support.ids import unique


class FakeDaraja:
    """B2C requests and status queries recorded; what a request does is the test's choice."""

    def __init__(self) -> None:
        self.payments: list[dict[str, Any]] = []
        self.status_queries: list[str] = []
        self.lose_answer = False

    def b2c_pay(self, **request: Any) -> str:
        self.payments.append(request)
        if self.lose_answer:
            raise DarajaError("REQUEST_TIMEOUT", "read timed out", None, retryable=True)
        return f"AG_{request['originator_id']}"

    def transaction_status(self, **request: Any) -> None:
        self.status_queries.append(request["originator_id"])


@pytest.fixture
def fake(api: Client, monkeypatch: pytest.MonkeyPatch) -> FakeDaraja:
    client = FakeDaraja()
    monkeypatch.setattr(daraja, "client", lambda: client)
    return client


@pytest.fixture
def doctor(api: Client, token: Callable[..., str]) -> tuple[str, dict[str, str]]:
    """Given a doctor who earned KES 1,000 (100,000 minor units)."""
    doctor_id = unique("doc")
    consult_items.Wallet(*consult_items.wallet_key(doctor_id), doctor_id=doctor_id, balance=100_000).save()
    return doctor_id, bearer(token(doctor_id, "doctor"))


def result(
    payout_id: str, code: int = 0, desc: str = "The service request is processed successfully."
) -> dict:
    """Safaricom's documented B2C result (parameters nested as Daraja sends them)."""
    body: dict[str, Any] = {
        "Result": {
            "ResultType": 0,
            "ResultCode": code,
            "ResultDesc": desc,
            "OriginatorConversationID": payout_id,
            "ConversationID": f"AG_{payout_id}",
            "TransactionID": "NLJ41HAY6Q",
            "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": "https://x"}},
        }
    }
    if code == 0:
        body["Result"]["ResultParameters"] = {
            "ResultParameter": [
                {"Key": "TransactionAmount", "Value": 500},
                {"Key": "TransactionReceipt", "Value": "NLJ41HAY6Q"},
            ]
        }
    return body


def send(api: Client, kind: str, body: Any, token: str = CALLBACK_TOKEN) -> Any:
    return post(api, f"/mpesa/b2c/{kind}/{token}", body)


def balance(doctor_id: str) -> tuple[int, int]:
    wallet = get_wallet(doctor_id)
    return int(wallet.balance), int(wallet.paid_out or 0)


def test_a_withdrawal_is_debited_first_and_paid_by_its_result(
    api: Client, fake: FakeDaraja, doctor: Any
) -> None:
    """Given a doctor with KES 1,000
    When they withdraw KES 500 and Safaricom's success result comes (twice)
    Then one B2C request carried the payout's id as OriginatorConversationID, the wallet lost
    50,000 units at once, and the payout is paid with the receipt; the copy changed nothing."""
    doctor_id, me = doctor
    response = post(api, "/me/payouts", {"phone_number": "0712345678", "amount": 500}, me)
    assert response.status_code == 202, response.body
    payout_id = response.json_body["payout_id"]
    assert [p["originator_id"] for p in fake.payments] == [payout_id]
    assert balance(doctor_id) == (50_000, 50_000)
    for _ in range(2):
        assert send(api, "result", result(payout_id)).json_body["ResultCode"] == 0
    payout = payouts.get(payout_id)
    assert (payout.status, payout.receipt, payout.settled_by) == ("paid", "NLJ41HAY6Q", "result")
    assert balance(doctor_id) == (50_000, 50_000)
    listed = api.http.get("/me/payouts", headers=me).json_body["payouts"]
    assert [p["status"] for p in listed] == ["paid"]


def test_a_failed_result_gives_the_money_back_once(api: Client, fake: FakeDaraja, doctor: Any) -> None:
    """Given a payout of KES 1,000 sent
    When its failure result comes three times, then a late success
    Then the wallet has its 100,000 units back once, the payout is failed with M-Pesa's words,
    and nothing after changes it."""
    doctor_id, me = doctor
    payout_id = post(api, "/me/payouts", {"phone_number": "0712345678"}, me).json_body["payout_id"]
    assert balance(doctor_id) == (0, 100_000)
    for _ in range(3):
        send(api, "result", result(payout_id, 2040, "Credit party customer type can't be supported"))
    send(api, "result", result(payout_id))
    payout = payouts.get(payout_id)
    assert (payout.status, payout.result_code) == ("failed", "2040")
    assert balance(doctor_id) == (100_000, 0)
    assert post(api, "/me/payouts", {"phone_number": "0712345678", "amount": 2000}, me).status_code == 409


def test_a_lost_answer_and_a_timeout_are_settled_by_status_never_by_a_second_payment(
    api: Client, fake: FakeDaraja, doctor: Any, clock: Any
) -> None:
    """Given a payout whose B2C request timed out (we never learnt whether Daraja took it)
    When Daraja's queue-timeout callback comes, the status round runs after the wait, and the
    Transaction Status result says it was paid
    Then exactly one B2C request was ever sent, status was asked (not a payment), and the payout is
    paid by the status answer; the wallet was debited once."""
    doctor_id, me = doctor
    fake.lose_answer = True
    payout_id = post(api, "/me/payouts", {"phone_number": "0712345678", "amount": 300}, me).json_body[
        "payout_id"
    ]
    assert payouts.get(payout_id).status == "requested"

    assert send(api, "timeout", result(payout_id, 1, "The request timed out")).status_code == 200
    clock.advance(121)
    b2c.query_unsettled()
    send(api, "status", result(payout_id))

    assert len(fake.payments) == 1 and fake.status_queries[:2] == [payout_id, payout_id]
    payout = payouts.get(payout_id)
    assert (payout.status, payout.settled_by) == ("paid", "status")
    assert balance(doctor_id) == (70_000, 30_000)


def test_forged_malformed_and_unknown_results_change_nothing(
    api: Client, fake: FakeDaraja, doctor: Any
) -> None:
    """Given a sent payout
    When a failure result comes on a wrong path secret, a malformed one, one for an unknown payout,
    and one on an unknown endpoint
    Then 404, 400, 404, 404, and the payout is still sent with the wallet debited."""
    doctor_id, me = doctor
    payout_id = post(api, "/me/payouts", {"phone_number": "0712345678", "amount": 100}, me).json_body[
        "payout_id"
    ]
    assert send(api, "result", result(payout_id, 2001, "x"), token="forged").status_code == 404
    assert send(api, "result", {"Result": {"ResultCode": 1}}).status_code == 400
    assert send(api, "result", result("po_unknown", 2001, "x")).status_code == 404
    assert send(api, "refund", result(payout_id, 2001, "x")).status_code == 404
    assert payouts.get(payout_id).status == "sent" and balance(doctor_id) == (90_000, 10_000)
