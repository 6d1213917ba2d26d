"""The classes API's edges on in-process moto: join tokens, who may do what, bad input, the
LiveKit webhook, credits."""

from __future__ import annotations

import json
from datetime import timedelta

import jwt
import pytest

from chalicelib.classes import service
from chalicelib.classes.models import sessions
from chalicelib.core import clock as core_clock
from chalicelib.core import timers
from chalicelib.integrations import livekit
from chalicelib.integrations.livekit.client import webhook_authorization
from tests.integration.classes.conftest import Classes, fire_due
from tests.support.ids import unique

MIN = 60


@pytest.fixture
def ready_class(classes: Classes, clock) -> str:
    """Given a group class of student-1 and student-2 with teacher-1, now READY."""
    academy = classes.academy()
    cid = classes.create(academy, 5 * MIN, ["student-1", "student-2"], kind="group").json_body["id"]
    assert classes.get(cid)["status"] == "ready"
    return cid


def test_join_token_decodes_with_the_livekit_key_and_carries_room_and_identity(
    classes: Classes, ready_class: str, livekit_secret: livekit.Credentials
) -> None:
    """Given a READY class, when a student asks to join, then they get the meeting URL and a
    LiveKit token (HS256, iss = API key) for the class's room and their own identity."""
    response = classes.call("GET", f"/classes/{ready_class}/join", "student-1", "student")

    assert response.status_code == 200, response.json_body
    body = response.json_body
    claims = jwt.decode(
        body["token"],
        livekit_secret.api_secret,
        algorithms=["HS256"],
        issuer=livekit_secret.api_key,
        leeway=10**6,
    )
    room = classes.get(ready_class)["room_name"]
    assert room and body["room"] == room and body["url"].startswith("ws")
    assert claims["sub"] == "student-1" and claims["name"] == "student-1"
    assert claims["video"] == {
        "room": room,
        "roomJoin": True,
        "canPublish": True,
        "canSubscribe": True,
        "canPublishData": True,
    }
    assert claims["exp"] > claims["nbf"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(body["token"], "another-secret", algorithms=["HS256"], options={"verify_exp": False})


def test_join_is_for_participants_only(classes: Classes, ready_class: str) -> None:
    """Given a READY class, when a user who is neither its teacher nor a student asks, then 403."""
    teacher = classes.call("GET", f"/classes/{ready_class}/join", "teacher-1", "teacher")
    stranger = classes.call("GET", f"/classes/{ready_class}/join", "student-9", "student")
    other_teacher = classes.call("GET", f"/classes/{ready_class}/join", "teacher-2", "teacher")

    assert teacher.status_code == 200 and teacher.json_body["role"] == "teacher"
    assert stranger.status_code == 403 and stranger.json_body["error"]["code"] == "forbidden"
    assert other_teacher.status_code == 403


def test_join_before_ready_is_409_and_after_the_end_too(classes: Classes, clock) -> None:
    """Given a class still SCHEDULED, a join is 409 saying when it opens; once completed, 409 again
    and no attendance can be recorded."""
    academy = classes.academy()
    cid = classes.create(academy, 60 * MIN, ["student-1"], kind="group").json_body["id"]

    early = classes.call("GET", f"/classes/{cid}/join", "student-1", "student")
    early_attend = classes.call(
        "POST", f"/classes/{cid}/attendance", "student-1", "student", body={"action": "join"}
    )
    assert early.status_code == 409 and early.json_body["error"]["code"] == "meeting_not_open"
    assert "opens at" in early.json_body["error"]["message"]
    assert early_attend.status_code == 409
    assert classes.get(cid)["attendance"] == []

    clock.advance(2 * 60 * MIN)
    fire_due()
    late = classes.call("GET", f"/classes/{cid}/join", "student-1", "student")
    assert late.status_code == 409 and "closed" in late.json_body["error"]["message"]


def test_repeated_joins_and_leaves_count_once(classes: Classes, ready_class: str, clock) -> None:
    """Given a READY class, when a student joins twice, leaves twice, then one interval counts."""
    for action in ("join", "join"):
        classes.call(
            "POST", f"/classes/{ready_class}/attendance", "student-1", "student", body={"action": action}
        )
    clock.advance(3 * MIN)
    outcomes = [
        classes.call(
            "POST", f"/classes/{ready_class}/attendance", "student-1", "student", body={"action": "leave"}
        ).json_body["outcome"]
        for _ in range(2)
    ]

    assert outcomes == ["left", "not_in_room"]
    (att,) = classes.get(ready_class)["attendance"]
    assert (att["joins"], att["minutes"], att["in_room"]) == (1, 3.0, False)
    assert classes.get(ready_class)["status"] == "ongoing"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"scheduled_at": "2030-01-01T10:00:00"}, 422, "validation_error"),  # naive datetime
        ({"scheduled_at": "tomorrow"}, 422, "validation_error"),
        ({"duration_minutes": 0}, 422, "validation_error"),
        ({"type": "seminar"}, 422, "validation_error"),
        ({"student_ids": ["s1", "s2"]}, 400, "invalid_students"),  # individual with two
        ({"student_ids": ["TEACHER"]}, 400, "invalid_students"),  # the teacher as a student
        ({"student_ids": ["a b"]}, 422, "validation_error"),
        ({"academy_id": "ac_missing"}, 404, "not_found"),
        ({"teacher_id": "teacher-2"}, 403, "forbidden"),
        ({"scheduled_at": "1999-01-01T10:00:00+00:00"}, 400, "out_of_range"),
        ({"extra": 1}, 422, "validation_error"),
    ],
)
def test_bad_class_input_is_a_clear_4xx_and_changes_nothing(
    classes: Classes, clock, change, status, code
) -> None:
    """Given a teacher, when they create a class with a bad field, then a clear 4xx and nothing is
    written (no class, no timer)."""
    teacher = unique("teacher")
    change = {
        k: [teacher if s == "TEACHER" else s for s in v] if k == "student_ids" else v
        for k, v in change.items()
    }
    academy = classes.academy()
    body = {
        "academy_id": academy,
        "type": "individual",
        "student_ids": ["s1"],
        "title": "x",
        "scheduled_at": (core_clock.utcnow() + timedelta(days=1)).isoformat(),
        "duration_minutes": 30,
        **change,
    }
    response = classes.call("POST", "/classes", teacher, "teacher", body=body)

    assert response.status_code == status, response.json_body
    assert response.json_body["error"]["code"] == code
    assert sessions.sessions_of_teacher(teacher) == []
    assert [t for t in timers.pending() if t.kind == service.MOMENT_TIMER and t.state == timers.PENDING] == []


def test_malformed_json_and_wrong_roles(classes: Classes, ready_class: str) -> None:
    """Malformed JSON is 400; a student cannot schedule, cancel or grant; an admin must name the teacher."""
    assert classes.call("POST", "/classes", "teacher-1", "teacher", body="{nope").status_code == 400
    assert classes.call("POST", "/classes", "student-1", "student", body={}).status_code == 403
    assert (
        classes.call("POST", f"/classes/{ready_class}/cancel", "student-1", "student", body={}).status_code
        == 403
    )
    assert (
        classes.call("POST", f"/classes/{ready_class}/cancel", "teacher-2", "teacher", body={}).status_code
        == 403
    )
    grant = classes.call(
        "POST", "/class-credits/s1/grants", "teacher-1", "teacher", body={"credits": 1, "reference": "x"}
    )
    assert grant.status_code == 403
    no_teacher = classes.call(
        "POST",
        "/classes",
        "admin-1",
        "admin",
        body={
            "academy_id": "a",
            "type": "group",
            "student_ids": ["s"],
            "title": "t",
            "scheduled_at": "2030-01-01T10:00:00Z",
            "duration_minutes": 5,
        },
    )
    assert no_teacher.status_code == 400 and no_teacher.json_body["error"]["code"] == "teacher_required"
    assert classes.call("GET", "/classes/cl_missing", "admin-1", "admin").status_code == 404
    assert classes.call("GET", f"/classes/{ready_class}", "student-9", "student").status_code == 403


def test_reschedule_of_a_started_class_is_409(classes: Classes, ready_class: str) -> None:
    """Given a READY class, a reschedule is refused with 409 (only a scheduled class moves)."""
    response = classes.call(
        "POST",
        f"/classes/{ready_class}/reschedule",
        "teacher-1",
        "teacher",
        body={"scheduled_at": (core_clock.utcnow() + timedelta(days=1)).isoformat()},
    )
    assert response.status_code == 409 and response.json_body["error"]["code"] == "not_reschedulable"


def test_academy_settings_default_and_can_be_changed(classes: Classes) -> None:
    """Given a new academy without settings, it has 10/5/15 minutes; an admin changes one."""
    academy = classes.academy()
    got = classes.call("GET", f"/academies/{academy}", "teacher-1", "teacher").json_body
    assert (got["preparation_minutes"], got["buffer_minutes"], got["late_tolerance_minutes"]) == (10, 5, 15)

    patched = classes.call("PATCH", f"/academies/{academy}", "admin-1", "admin", body={"buffer_minutes": 7.5})

    assert patched.status_code == 200 and patched.json_body["buffer_minutes"] == 7.5
    assert classes.call("PATCH", f"/academies/{academy}", "admin-1", "admin", body={}).status_code == 422
    assert (
        classes.call("PATCH", "/academies/nope", "admin-1", "admin", body={"buffer_minutes": 1}).status_code
        == 404
    )
    bad = classes.call("POST", "/academies", "admin-1", "admin", body={"name": "x", "buffer_minutes": -1})
    assert bad.status_code == 422


def test_credit_grants_are_once_per_reference_and_students_read_their_own(classes: Classes) -> None:
    first = classes.grant("student-1", 4, "mpesa-RCP1")
    again = classes.grant("student-1", 4, "mpesa-RCP1")

    assert first.status_code == 201 and first.json_body["granted_now"] is True
    assert again.json_body["granted_now"] is False and again.json_body["credits"] == 4
    mine = classes.call("GET", "/me/class-credits", "student-1", "student").json_body
    assert (mine["credits"], mine["ledger"][0]["reference"]) == (4, "mpesa-RCP1")
    assert classes.call("GET", "/class-credits/student-1", "student-1", "student").status_code == 403
    assert classes.grant("student-1", 0, "r2").status_code == 422


# --- the LiveKit webhook ----------------------------------------------------------------------


def post_webhook(classes: Classes, event: dict, credentials: livekit.Credentials, tamper: bool = False):
    body = json.dumps(event).encode()
    auth = webhook_authorization(credentials, body)
    sent = body + b" " if tamper else body
    return classes.api.http.post(
        "/webhooks/livekit",
        headers={"Content-Type": "application/webhook+json", "Authorization": auth},
        body=sent,
    )


def test_livekit_webhook_joins_and_leaves_record_attendance(
    classes: Classes, ready_class: str, livekit_secret: livekit.Credentials, clock
) -> None:
    """Given a READY class, when LiveKit reports a participant joining then leaving (signed as
    LiveKit signs), then attendance is recorded and the class has started."""
    room = classes.get(ready_class)["room_name"]
    joined = {
        "event": "participant_joined",
        "id": "EV_1",
        "room": {"name": room},
        "participant": {"identity": "student-2"},
    }

    first = post_webhook(classes, joined, livekit_secret)
    clock.advance(2 * MIN)
    left = post_webhook(classes, {**joined, "event": "participant_left", "id": "EV_2"}, livekit_secret)

    assert first.status_code == 200 and first.json_body == {"handled": True, "detail": "joined"}
    assert left.json_body == {"handled": True, "detail": "left"}
    session = classes.get(ready_class)
    assert session["status"] == "ongoing"
    assert [(a["user_id"], a["minutes"]) for a in session["attendance"]] == [("student-2", 2.0)]
    ignored = post_webhook(classes, {"event": "room_started", "room": {"name": room}}, livekit_secret)
    assert ignored.json_body["handled"] is False


def test_livekit_webhook_with_a_bad_signature_or_body_is_401_and_changes_nothing(
    classes: Classes, ready_class: str, livekit_secret: livekit.Credentials
) -> None:
    room = classes.get(ready_class)["room_name"]
    event = {"event": "participant_joined", "room": {"name": room}, "participant": {"identity": "student-1"}}

    tampered = post_webhook(classes, event, livekit_secret, tamper=True)
    forged = post_webhook(classes, event, livekit.Credentials(livekit_secret.api_key, "not-the-secret"))
    unsigned = classes.api.http.post(
        "/webhooks/livekit", headers={"Content-Type": "application/json"}, body=b"{}"
    )

    assert [r.status_code for r in (tampered, forged, unsigned)] == [401, 401, 401]
    assert tampered.json_body["error"]["code"] == "invalid_webhook"
    assert classes.get(ready_class)["attendance"] == []
