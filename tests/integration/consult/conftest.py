"""Consult on in-process moto: a doctor, a patient with credits, and time driven by hand."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.core import auth, timers
from chalicelib.core import clock as core_clock
from tests.integration.conftest import bearer
from tests.support.ids import unique
from tests.support.queues import bodies
from tests.support.stack import KID, Stack

ADMIN = "admin-1"
ROLES = {"doctor": "doc", "patient": "pat", "stranger": "pat-x", "other_doctor": "doc-x"}
_ids = itertools.count()


@pytest.fixture(scope="package")
def stage(aws: Stack) -> str:
    """Given the tier's one deployment (tests/integration/conftest.py); tests keep apart by using
    their own user ids. The signing key's private PEM."""
    return aws.signing_key


@pytest.fixture
def token(stage: str) -> Callable[..., str]:
    def make(sub: str, *roles: str) -> str:
        return auth.mint(stage, KID, sub, roles or ("patient",), 3600)

    return make


@pytest.fixture
def ids() -> dict[str, str]:
    """This test's own users."""
    return {role: unique(prefix) for role, prefix in ROLES.items()}


class Http:
    """The test client with JSON in and out, as one user."""

    def __init__(self, api: Client, token: str, sub: str) -> None:
        self.api, self.sub = api, sub
        self.headers = {**bearer(token), "Content-Type": "application/json"}

    def __call__(self, method: str, path: str, body: Any = None, raw: str | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = getattr(self.api.http, method.lower())(path, headers=self.headers, body=data)
        return response.status_code, json.loads(response.body) if response.body else None


ALWAYS = {day: [("00:00", "24:00")] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def register_doctor(doctor_id: str, zone: str = "UTC", weekly: dict | None = None, **profile: Any) -> None:
    """Put ``doctor_id`` in the registry, active, offering every mode (by default at any hour)."""
    from chalicelib.consult.service import doctors

    fields = {"name": f"Dr {doctor_id}", "timezone": zone, "weekly": ALWAYS if weekly is None else weekly}
    doctors.register(doctor_id, {**fields, **profile}, by=ADMIN, approved=True)


@pytest.fixture(autouse=True)
def registered(stage: str, ids: dict[str, str]) -> None:
    """Given this test's doctors registered, active, working around the clock (UTC): the tests
    of the registry and of hours make doctors of their own."""
    register_doctor(ids["doctor"])
    register_doctor(ids["other_doctor"])


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
    from chalicelib.notifications.handlers import deliver

    return sum(deliver(body) for body in bodies("notifications"))


def inbox(http: Http) -> list[dict]:
    deliver_notifications()
    status, body = http("GET", "/me/notifications?limit=100")
    assert status == 200, body
    return body["notifications"]
