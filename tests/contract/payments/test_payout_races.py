"""Payouts raced on DynamoDB Local: 20 withdrawals of one balance at once never pay out more
than was earned, and each B2C request is sent once."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from chalicelib.consult import payouts
from chalicelib.consult.models import items as consult_items
from chalicelib.consult.models.credits import get_wallet
from chalicelib.core import db, events, ids
from chalicelib.payments import daraja
from chalicelib.payments.models import payouts as payout_models
from chalicelib.payments.service.b2c import InsufficientBalance
from tests.support.races import race

pytestmark = [pytest.mark.contract, pytest.mark.usefixtures("tables")]


class Requests:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: list[str] = []

    def b2c_pay(self, **request: Any) -> str:
        with self.lock:
            self.sent.append(request["originator_id"])
        return "AG_1"


def test_20_concurrent_withdrawals_never_pay_out_more_than_was_earned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given a doctor who earned KES 1,000
    When 20 withdrawals of KES 100 race
    Then exactly 10 are sent (one B2C request each, distinct ids), 10 are refused for the balance,
    and the wallet is at 0 with 100,000 units paid out."""
    db.warm_up()
    monkeypatch.setattr(events, "publish_many", lambda published: None)
    requests = Requests()
    monkeypatch.setattr(daraja, "client", lambda: requests)
    monkeypatch.setattr(daraja, "security_credential", lambda: "cred")
    monkeypatch.setattr(daraja, "callback_token", lambda: "tok")
    doctor = ids.new_id("doc_")
    consult_items.Wallet(*consult_items.wallet_key(doctor), doctor_id=doctor, balance=100_000).save()

    def withdraw() -> str:
        try:
            return payouts.withdraw(doctor, "254712345678", 100, doctor).status
        except InsufficientBalance:
            return "refused"

    outcomes = race(withdraw, n=20, strict=True)

    assert Counter(outcomes) == {"sent": 10, "refused": 10}
    assert len(requests.sent) == len(set(requests.sent)) == 10
    wallet = get_wallet(doctor)
    assert (int(wallet.balance), int(wallet.paid_out)) == (0, 100_000)
    assert {payout_models.get(p).status for p in requests.sent} == {"sent"}
