"""Payments integration fixtures: the app with Daraja played by daraja-mock on loopback (as in
the hotspot's tier), and Safaricom's documented STK callbacks."""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client
from daraja_mock import DarajaMock

from chalicelib.core import secrets
from chalicelib.core.config import get_settings, reset_settings
from chalicelib.payments import daraja
from chalicelib.payments.settings import payments_settings
from infra.local.stack import free_port
from tests.support.daraja import stk_failure, stk_success

CALLBACK_TOKEN = "cb-token-for-payments-tests-0123"
SECRET = {
    "consumer_key": "test_key",
    "consumer_secret": "test_secret",
    "passkey": "pk-test",
    "callback_token": CALLBACK_TOKEN,
}


@pytest.fixture(scope="module")
def daraja_mock() -> tuple[DarajaMock, str]:
    mock = DarajaMock()
    return mock, mock.run_thread(port=free_port())


@pytest.fixture(scope="module")
def api(aws: None, daraja_mock: tuple[DarajaMock, str]) -> Iterator[Client]:
    """Given the app on the stage, Daraja at daraja-mock, the Daraja secret stored."""
    from app import app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUDA_PAYMENTS_DARAJA_BASE_URL", daraja_mock[1])
        patch.setenv("MUDA_PAYMENTS_CALLBACK_IP_CHECK", "off")
        reset_settings()
        daraja.reset()
        get_settings(), payments_settings()  # read now: Chalice's client swaps the env per request
        secrets.write(f"muda/{get_settings().stage}/hotspot/daraja", SECRET)
        with Client(app) as test_client:
            yield test_client
    reset_settings()
    daraja.reset()


def new_phone() -> str:
    return "07" + "".join(random.choices(string.digits, k=8))


def new_receipt() -> str:
    return "T" + "".join(random.choices(string.ascii_uppercase + string.digits, k=9))


def post(api: Client, path: str, body: Any, headers: dict[str, Any] | None = None) -> Any:
    return api.http.post(
        path, headers={"Content-Type": "application/json", **(headers or {})}, body=json.dumps(body)
    )


success_callback = stk_success
failure_callback = stk_failure
