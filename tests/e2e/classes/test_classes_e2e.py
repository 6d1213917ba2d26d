"""Classes on the local stack as `make run` starts it, durations scaled down to seconds: sessions
walk their states with nothing but the stack running (catch-up and duplicate timers are the
integration tier's, on a frozen clock)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest
import requests

from chalicelib.core import clock
from chalicelib.core.auth import dev_token
from infra.local.stack import LocalStack
from tests.e2e.conftest import WAIT
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e

# Scaled down: READY 3 s before start, 3 s buffer, ABSENT 3 s after start, 6-second classes.
ACADEMY = {"name": "e2e", "preparation_minutes": 0.05, "buffer_minutes": 0.05, "late_tolerance_minutes": 0.05}
DURATION = 0.1


class Http:
    def __init__(self, stack: LocalStack) -> None:
        self.base = stack.api_url

    def __call__(self, method: str, path: str, user: str, role: str, body: Any = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {dev_token(user, [role])}"}
        return requests.request(method, f"{self.base}{path}", json=body, headers=headers, timeout=WAIT)

    def create(self, academy: str, starts_in: float, kind: str, students: list[str]) -> dict[str, Any]:
        start = (clock.utcnow() + timedelta(seconds=starts_in)).isoformat()
        body = {
            "academy_id": academy,
            "type": kind,
            "student_ids": students,
            "title": f"e2e {kind}",
            "scheduled_at": start,
            "duration_minutes": DURATION,
        }
        response = self("POST", "/classes", "teacher-e2e", "teacher", body)
        assert response.status_code == 201, response.text
        return response.json()

    def session(self, class_id: str) -> dict[str, Any]:
        return self("GET", f"/classes/{class_id}", "admin-1", "admin").json()

    def credits(self, student: str) -> int:
        return self("GET", f"/class-credits/{student}", "admin-1", "admin").json()["credits"]


@pytest.fixture(scope="module")
def http(stack: LocalStack) -> Http:
    return Http(stack)


@pytest.fixture(scope="module")
def academy(http: Http) -> str:
    response = http("POST", "/academies", "admin-1", "admin", ACADEMY)
    assert response.status_code == 201, response.text
    for student in ("e2e-s1", "e2e-s2", "e2e-s3"):
        http(
            "POST", f"/class-credits/{student}/grants", "admin-1", "admin", {"credits": 3, "reference": "e2e"}
        )
    return response.json()["id"]


def walked(session: dict[str, Any]) -> list[str]:
    return [h["to_status"] for h in session["history"]]


def test_sessions_walk_their_states_with_nothing_but_the_stack(http: Http, academy: str) -> None:
    """Given a group class and an individual class starting in 10 s, with nobody running anything,
    then the group class goes READY -> ONGOING -> COMPLETED (using the credit of the student who
    joined), the individual one nobody joins becomes ABSENT and uses its student's credit, join
    tokens decode with the LiveKit key, and every change reaches the event feed with recipients."""
    group = http.create(academy, 10, "group", ["e2e-s1", "e2e-s2"])
    single = http.create(academy, 10, "individual", ["e2e-s3"])
    early = http("GET", f"/classes/{group['id']}/join", "e2e-s1", "student")
    if clock.now() < datetime.fromisoformat(group["moments"]["ready_at"]).timestamp():
        assert early.status_code == 409  # answered before READY (a loaded machine may be later)

    eventually(
        lambda: http.session(group["id"])["status"] in ("ready", "ongoing"), WAIT, 0.2, "group class READY"
    )
    joined = http("GET", f"/classes/{group['id']}/join", "e2e-s1", "student")
    assert joined.status_code == 200, joined.text
    claims = jwt.decode(joined.json()["token"], options={"verify_signature": False})  # LiveKit verifies it
    assert claims["sub"] == "e2e-s1" and claims["video"]["room"] == http.session(group["id"])["room_name"]
    assert http("GET", f"/classes/{group['id']}/join", "e2e-s9", "student").status_code == 403
    eventually(lambda: http.session(group["id"])["status"] == "ongoing", WAIT, 0.2, "group class ONGOING")
    attend = http("POST", f"/classes/{group['id']}/attendance", "e2e-s1", "student", {"action": "join"})
    assert attend.status_code == 200, attend.text

    done = eventually(
        lambda: (s := http.session(group["id"]))["status"] == "completed" and s,
        WAIT,
        0.3,
        "group class COMPLETED",
    )
    absent = eventually(
        lambda: (s := http.session(single["id"]))["status"] == "absent" and s, WAIT, 0.3, "individual ABSENT"
    )

    assert walked(done) == ["ready", "ongoing", "completed"]
    assert walked(absent) == ["ready", "ongoing", "absent"]
    assert all(h["reason"].endswith(" timer") for h in done["history"]), done["history"]  # not the backstop
    assert eventually(lambda: [http.credits(s) for s in ("e2e-s1", "e2e-s2", "e2e-s3")] == [2, 3, 2], WAIT)
    assert http("GET", f"/classes/{group['id']}/join", "e2e-s1", "student").status_code == 409

    def feed() -> list[dict[str, Any]]:
        events = http("GET", "/admin/events?type=ClassStatusChanged&limit=200", "admin-1", "admin").json()[
            "events"
        ]
        return [e["detail"] for e in events if e["detail"]["class_id"] == group["id"]]

    changes = eventually(lambda: (f := feed()) and len(f) == 3 and f, WAIT, 0.5, "three ClassStatusChanged")
    assert sorted(c["to"] for c in changes) == ["completed", "ongoing", "ready"]
    assert all(c["recipients"] == ["teacher-e2e", "e2e-s1", "e2e-s2"] for c in changes)
