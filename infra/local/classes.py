"""Local stack hooks of the classes domain (registered in its Domain, chalicelib.core.registry).

- ``provision()``: the LiveKit API key/secret, generated on first run (kept under ``.cache/local``
  so tokens stay valid across restarts) and stored in Secrets Manager, where the API reads it.
  No LiveKit server runs locally: room deletion is attempted, logged and skipped.
- ``seed(stack)``: an academy with scaled-down settings, a teacher, two students with credits,
  and two classes starting a few minutes after start-up, written through the classes service, so
  a newcomer watches them walk through their states (``muda classes explain ID``); prints tokens
  and curls to try.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

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


def seed(stack: Any) -> list[str]:
    """The demo, written through the classes service in this process (as the API would)."""
    from chalicelib.classes import handlers, service

    assert handlers.moment_due  # registers the classes.moment timer kind the sessions arm
    teacher = dev_token(TEACHER, ["teacher"])
    students = {s: dev_token(s, ["student"]) for s in STUDENTS}
    academy = service.create_academy(
        str(DEMO_ACADEMY["name"]),
        float(DEMO_ACADEMY["preparation_minutes"]),
        float(DEMO_ACADEMY["buffer_minutes"]),
        float(DEMO_ACADEMY["late_tolerance_minutes"]),
    )
    for student in STUDENTS:
        service.grant_credits(student, 5, "demo-seed")
    start = clock.now() + DEMO_START_MINUTES * 60
    group = service.create_session(
        academy, TEACHER, "group", list(STUDENTS), "Demo group class", start, DEMO_DURATION_MINUTES, TEACHER
    )
    single = service.create_session(
        academy,
        TEACHER,
        "individual",
        [STUDENTS[1]],
        "Demo individual class (nobody joins: ABSENT)",
        start,
        DEMO_DURATION_MINUTES,
        TEACHER,
    )
    m = {k: f"{clock.to_datetime(v):%H:%M:%S} UTC" for k, v in group.schedule.moments().items()}
    absent_at = f"{clock.to_datetime(single.schedule.moments()['absent']):%H:%M:%S} UTC"
    return [
        "",
        "Classes (docs/classes.md): an academy (ready 1 min before, 0.5 min buffer, absent after "
        "1.5 min) and two classes",
        f"  group class      READY {m['ready']}, ONGOING {m['start']}, COMPLETED {m['complete']}",
        f"  individual class ABSENT at {absent_at} unless student-2 joins",
        f"  export T={teacher}",
        f"  export S1={students['student-1']}",
        f"  export S2={students['student-2']}",
        f"  export ACADEMY={academy.academy_id} GROUP={group.class_id} SINGLE={single.class_id}",
        "  .venv/bin/muda classes explain $GROUP     # where it is and why",
        '  curl -s -H "Authorization: Bearer $S1" $API/classes/$GROUP/join     # once READY',
    ]
