"""Consult on in-process moto: a doctor, a patient with credits, and time driven by hand."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.core import auth, timers
from chalicelib.core import clock as core_clock
from chalicelib.core.aws import client
from chalicelib.core.config import get_settings
from tests.conftest import reload_settings
from tests.integration.conftest import bearer

ADMIN = "admin-1"
KID = "consult-key"
_ids = itertools.count()


@pytest.fixture(scope="module")
def stage() -> Iterator[str]:
    """Given the stage's resources from infra/template.yaml on in-process moto, once per module
    (deploying it per test costs ~5 s); tests keep apart by using their own user ids."""
    with mock_aws():
        reload_settings()
        from infra.local import provision

        provision.deploy_stack()
        private_pem, jwks = auth.generate_key_pair(KID)
        client("ssm").put_parameter(
            Name=get_settings().auth_jwks_parameter, Value=json.dumps(jwks), Type="String", Overwrite=True
        )
        auth.keys.clear()
        yield private_pem
    reload_settings()


@pytest.fixture(scope="module")
def api(stage: str) -> Iterator[Client]:
    from app import app

    with Client(app) as test_client:
        yield test_client


@pytest.fixture
def token(stage: str) -> Callable[..., str]:
    def make(sub: str, *roles: str) -> str:
        return auth.mint(stage, KID, sub, roles or ("patient",), 3600)

    return make


@pytest.fixture
def ids() -> dict[str, str]:
    """This test's own users."""
    n = next(_ids)
    return {"doctor": f"doc-{n}", "patient": f"pat-{n}", "stranger": f"pat-x{n}", "other_doctor": f"doc-x{n}"}


@pytest.fixture(autouse=True)
def quiet_timers(stage: str) -> Iterator[None]:
    """Timers a test leaves pending are cancelled, so the next test's clock does not fire them."""
    yield
    for item in list(timers.pending()):
        if item.state == timers.PENDING:
            timers.cancel(item.kind, item.key)


class Http:
    """The test client with JSON in and out, as one user."""

    def __init__(self, api: Client, token: str, sub: str) -> None:
        self.api, self.sub = api, sub
        self.headers = {**bearer(token), "Content-Type": "application/json"}

    def __call__(self, method: str, path: str, body: Any = None, raw: str | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = getattr(self.api.http, method.lower())(path, headers=self.headers, body=data)
        return response.status_code, json.loads(response.body) if response.body else None


@pytest.fixture
def users(api: Client, token, ids: dict[str, str]) -> dict[str, Http]:
    return {
        "doctor": Http(api, token(ids["doctor"], "doctor"), ids["doctor"]),
        "patient": Http(api, token(ids["patient"], "patient"), ids["patient"]),
        "admin": Http(api, token(ADMIN, "admin"), ADMIN),
        "stranger": Http(api, token(ids["stranger"], "patient"), ids["stranger"]),
        "other_doctor": Http(api, token(ids["other_doctor"], "doctor"), ids["other_doctor"]),
    }


@pytest.fixture
def credits(users: dict[str, Http], ids: dict[str, str]) -> Callable[..., dict]:
    """Give the patient credits (a top-up with a fresh reference)."""

    def give(n: int = 3, kind: str = "text", patient: str | None = None) -> dict:
        status, body = users["admin"](
            "POST",
            "/admin/consult/top-ups",
            {
                "patient_id": patient or ids["patient"],
                "kind": kind,
                "credits": n,
                "reference": f"ref-{next(_ids)}",
            },
        )
        assert status == 201, body
        return body

    return give


def fire_due(now: float | None = None) -> list[str]:
    """Fire every pending timer due by now (what the queue consumer does), oldest first."""
    now = core_clock.now() if now is None else now
    outcomes = []
    while True:
        due = sorted(
            (t for t in timers.pending() if t.state == timers.PENDING and t.due_at <= now),
            key=lambda t: t.due_at,
        )
        if not due:
            return outcomes
        for item in due:
            outcomes.append(f"{item.kind}:{timers.fire(item.id, float(item.due_at))}")


def deliver_notifications() -> int:
    """Run the notifications consumer over what the bus put on its queue; how many were new."""
    from chalicelib.core.aws import client, queue_url
    from chalicelib.core.config import get_settings
    from chalicelib.notifications.handlers import deliver

    sqs, url = client("sqs"), queue_url(get_settings().name("notifications"))
    stored = 0
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return stored
        for m in messages:
            stored += deliver(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def inbox(http: Http) -> list[dict]:
    deliver_notifications()
    status, body = http("GET", "/me/notifications?limit=100")
    assert status == 200, body
    return body["notifications"]
