"""Local stack hooks of the classes domain (see infra.local.stack.DOMAINS).

- ``provision()``: the LiveKit API key/secret, generated on first run (kept under ``.cache/local``
  so tokens stay valid across restarts) and stored in Secrets Manager, where the API reads it.
  No LiveKit server runs locally: room deletion is attempted, logged and skipped.
- ``seed(stack)``: an academy with scaled-down settings, a teacher, two students with credits,
  and two classes starting a few minutes after start-up, so a newcomer watches them walk through
  their states (``muda classes explain ID``); prints tokens and curls to try.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from botocore.exceptions import ClientError

from chalicelib.classes.settings import settings
from chalicelib.core import clock
from chalicelib.core.auth import dev_token
from chalicelib.core.aws import client

ROOT = Path(__file__).resolve().parents[2]
KEY_FILE = ROOT / ".cache" / "local" / "livekit.json"

# The demo, scaled down: ready 1 min before, 2 min long, 0.5 min buffer, absent after 1.5 min.
DEMO_ACADEMY = {
    "name": "Demo Academy",
    "preparation_minutes": 1,
    "buffer_minutes": 0.5,
    "late_tolerance_minutes": 1.5,
}
DEMO_START_MINUTES = 3
DEMO_DURATION_MINUTES = 2
TEACHER, STUDENTS = "teacher-1", ("student-1", "student-2")


def livekit_keys() -> dict[str, str]:
    """The local LiveKit key pair, generated on first run."""
    if KEY_FILE.exists():
        return json.loads(KEY_FILE.read_text())
    keys = {"api_key": "API" + secrets.token_hex(6), "api_secret": secrets.token_urlsafe(32)}
    KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    KEY_FILE.touch(mode=0o600)
    KEY_FILE.write_text(json.dumps(keys))
    return keys


def provision() -> None:
    secret = json.dumps(livekit_keys())
    sm = client("secretsmanager")
    try:
        sm.put_secret_value(SecretId=settings().secret_id, SecretString=secret)
    except ClientError:
        sm.create_secret(Name=settings().secret_id, SecretString=secret)


def _call(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = requests.request(
        method, url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    response.raise_for_status()
    return response.json()


def seed(stack: Any) -> list[str]:
    api = stack.api_url
    admin = dev_token("admin-1", ["admin"])
    teacher = dev_token(TEACHER, ["teacher"])
    students = {s: dev_token(s, ["student"]) for s in STUDENTS}
    academy = _call("POST", f"{api}/academies", admin, DEMO_ACADEMY)
    for student in STUDENTS:
        _call(
            "POST", f"{api}/class-credits/{student}/grants", admin, {"credits": 5, "reference": "demo-seed"}
        )
    start = (clock.utcnow() + timedelta(minutes=DEMO_START_MINUTES)).isoformat()
    group = _call(
        "POST",
        f"{api}/classes",
        teacher,
        {
            "academy_id": academy["id"],
            "type": "group",
            "student_ids": list(STUDENTS),
            "title": "Demo group class",
            "scheduled_at": start,
            "duration_minutes": DEMO_DURATION_MINUTES,
        },
    )
    single = _call(
        "POST",
        f"{api}/classes",
        teacher,
        {
            "academy_id": academy["id"],
            "type": "individual",
            "student_ids": [STUDENTS[1]],
            "title": "Demo individual class (nobody joins: ABSENT)",
            "scheduled_at": start,
            "duration_minutes": DEMO_DURATION_MINUTES,
        },
    )
    m = group["moments"]
    return [
        "",
        "Classes (docs/classes.md walks through the demo)",
        f"  academy {academy['id']} (ready 1 min before, 0.5 min buffer, absent after 1.5 min)",
        f"  group class      {group['id']}  READY {m['ready_at']}, ONGOING {m['start_at']}, "
        f"COMPLETED {m['complete_at']}",
        f"  individual class {single['id']}  ABSENT at {single['moments']['absent_at']} "
        "unless student-2 joins",
        f"  teacher-1 token:  {teacher}",
        f"  student-1 token:  {students['student-1']}",
        f"  student-2 token:  {students['student-2']}",
        f"  watch: .venv/bin/muda classes explain {group['id']}",
        "  join (once READY):",
        f"  curl -s -H 'Authorization: Bearer <student-1 token>' {api}/classes/{group['id']}/join",
        "",
    ]
