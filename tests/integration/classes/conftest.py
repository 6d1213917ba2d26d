"""Classes on in-process moto: the LiveKit secret, dev tokens by role, timers fired by the clock."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from chalice.test import Client

from chalicelib.classes import service
from chalicelib.classes.settings import settings
from chalicelib.core import clock as core_clock
from chalicelib.core import events, secrets, timers
from chalicelib.core.aws import client
from chalicelib.integrations import livekit
from tests.integration.conftest import KID, bearer

LIVEKIT = livekit.Credentials("APItestkey", "test-livekit-secret-0123456789abcdef")


@pytest.fixture
def livekit_secret(aws: None) -> livekit.Credentials:
    """Given the LiveKit key/secret in Secrets Manager, where the API reads it."""
    secrets.clear()
    sm = client("secretsmanager")
    sm.put_secret_value(
        SecretId=settings().secret_id,
        SecretString=json.dumps({"api_key": LIVEKIT.api_key, "api_secret": LIVEKIT.api_secret}),
    )
    yield LIVEKIT
    secrets.clear()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[events.DomainEvent]:
    """Every event put on the bus (through the outbox's drain), recorded and still sent."""
    sent: list[events.DomainEvent] = []
    send = events.publish_many

    def record(batch: Any) -> None:
        batch = list(batch)
        send(batch)
        sent.extend(batch)

    monkeypatch.setattr(events, "publish_many", record)
    return sent


@pytest.fixture
def rooms_deleted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """LiveKit's DeleteRoom, recorded instead of called."""
    deleted: list[str] = []
    monkeypatch.setattr(livekit, "delete_room", lambda creds, url, room, timeout=3: deleted.append(room))
    return deleted


class Classes:
    """Calls the classes API as a given user, over the Chalice test client."""

    def __init__(self, api: Client, signing_key: str) -> None:
        self.api = api
        self.signing_key = signing_key

    def token(self, sub: str, *roles: str) -> str:
        """A token by the wall clock (the frozen clock may be hours ahead; pyjwt checks real time)."""
        now = int(time.time())
        claims = {
            "sub": sub,
            "roles": list(roles),
            "iss": "muda-test",
            "aud": "muda",
            "iat": now,
            "exp": now + 3600,
        }
        return jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": KID})

    def call(self, method: str, path: str, user: str, *roles: str, body: Any = None) -> Any:
        headers = {**bearer(self.token(user, *roles)), "Content-Type": "application/json"}
        raw = None if body is None else (body if isinstance(body, str) else json.dumps(body))
        return getattr(self.api.http, method.lower())(path, headers=headers, body=raw)

    def academy(self, **settings_minutes: float) -> str:
        body = {"name": "Test Academy", **settings_minutes}
        response = self.call("POST", "/academies", "admin-1", "admin", body=body)
        assert response.status_code == 201, response.json_body
        return response.json_body["id"]

    def create(
        self, academy: str, starts_in: float, students: list[str], kind: str = "individual", **extra: Any
    ) -> Any:
        start = datetime.fromtimestamp(core_clock.now() + starts_in, tz=UTC).isoformat()
        body = {
            "academy_id": academy,
            "type": kind,
            "student_ids": students,
            "title": "Algebra",
            "scheduled_at": start,
            "duration_minutes": 30,
            **extra,
        }
        return self.call("POST", "/classes", "teacher-1", "teacher", body=body)

    def get(self, class_id: str) -> dict[str, Any]:
        response = self.call("GET", f"/classes/{class_id}", "admin-1", "admin")
        assert response.status_code == 200, response.json_body
        return response.json_body

    def credits(self, student: str) -> dict[str, Any]:
        return self.call("GET", f"/class-credits/{student}", "admin-1", "admin").json_body

    def grant(self, student: str, credits: int, reference: str = "r1") -> Any:
        return self.call(
            "POST",
            f"/class-credits/{student}/grants",
            "admin-1",
            "admin",
            body={"credits": credits, "reference": reference},
        )


@pytest.fixture
def classes(
    api: Client, signing_key: str, livekit_secret: livekit.Credentials, rooms_deleted: list[str]
) -> Iterator[Classes]:
    yield Classes(api, signing_key)


def fire_due(kind: str = service.MOMENT_TIMER) -> int:
    """Deliver every pending timer of ``kind`` that is due by the (frozen) clock, in due order,
    as the timers queue consumer would."""
    due = sorted(
        (
            t
            for t in timers.pending()
            if t.kind == kind and t.state == timers.PENDING and t.due_at <= core_clock.now()
        ),
        key=lambda t: t.due_at,
    )
    for item in due:
        timers.fire(item.id, float(item.due_at))
    return len(due)


@pytest.fixture(autouse=True)
def _empty_world(fresh_stack: object) -> None:
    """These tests name fixed users (student-1 ...) whose credits they count from zero, and count
    pending moment timers: each starts on a freshly deployed stack (see ``fresh_stack``)."""
