"""The rules of a class session without AWS: moments, the order of transitions, catch-up,
who may join, whose credit a final session uses, LiveKit tokens and webhook signatures."""

from __future__ import annotations

import json

import jwt
import pytest

from chalicelib.classes import logic
from chalicelib.classes.logic import ABSENT, COMPLETED, ONGOING, READY, SCHEDULED, Schedule, State
from chalicelib.integrations import livekit
from chalicelib.integrations.livekit.client import decode_token, http_url, webhook_authorization

T0 = 1_800_000_000.0
MIN = 60


def individual(duration: float = 30, tolerance: float = 15) -> Schedule:
    return Schedule("individual", T0, duration, 10, 5, tolerance)


def group() -> Schedule:
    return Schedule("group", T0, 30, 10, 5, 15)


def walk(state: State, now: float) -> list[str]:
    return [t.to_status for t in logic.due_transitions(state, now)]


def test_moments_follow_the_academy_settings() -> None:
    """Given 10/5/15 minutes and a 30-minute class, the moments are -10, 0, +15, +35 minutes."""
    assert individual().moments() == {
        "ready": T0 - 10 * MIN,
        "start": T0,
        "absent": T0 + 15 * MIN,
        "complete": T0 + 35 * MIN,
    }
    assert "absent" not in group().moments()


def test_nothing_is_due_before_the_ready_moment() -> None:
    assert logic.due_transitions(State(SCHEDULED, group()), T0 - 10 * MIN - 0.001) == []


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (T0 - 10 * MIN, [READY]),
        (T0, [READY, ONGOING]),
        (T0 + 35 * MIN, [READY, ONGOING, COMPLETED]),
    ],
)
def test_a_late_group_session_catches_up_in_order(now: float, expected: list[str]) -> None:
    """Given a group session still SCHEDULED, when its moments have passed, every missed
    transition is due, in the order the moments fall."""
    assert walk(State(SCHEDULED, group()), now) == expected


def test_individual_with_no_student_becomes_absent_at_start_plus_tolerance() -> None:
    steps = logic.due_transitions(State(SCHEDULED, individual()), T0 + 15 * MIN)
    assert [(t.to_status, t.due_at) for t in steps] == [(READY, T0 - 600), (ONGOING, T0), (ABSENT, T0 + 900)]


def test_individual_whose_student_joined_completes_instead() -> None:
    state = State(ONGOING, individual(), student_joined=True, first_join_at=T0 + 60)
    assert walk(state, T0 + 15 * MIN) == []
    assert walk(state, T0 + 35 * MIN) == [COMPLETED]


def test_absent_is_decided_at_complete_when_the_class_is_shorter_than_the_tolerance() -> None:
    """Given a 5-minute class with a 15-minute tolerance, no student by its end is ABSENT then."""
    schedule = individual(duration=5)
    assert "absent" not in schedule.timer_moments()
    (step,) = logic.due_transitions(State(ONGOING, schedule), T0 + 10 * MIN)
    assert (step.to_status, step.due_at, step.moment) == (ABSENT, T0 + 10 * MIN, "complete")


def test_first_join_starts_a_ready_session_early() -> None:
    state = State(READY, group(), first_join_at=T0 - 5 * MIN)
    (step,) = logic.due_transitions(state, T0 - 4 * MIN)
    assert (step.to_status, step.due_at) == (ONGOING, T0 - 5 * MIN)


def test_final_states_have_nothing_due() -> None:
    for status in logic.FINAL:
        assert logic.due_transitions(State(status, group()), T0 + 10**6) == []
        assert logic.next_due(State(status, group())) is None


def test_next_due_is_the_next_moment() -> None:
    assert logic.next_due(State(SCHEDULED, group())) == T0 - 600
    assert logic.next_due(State(READY, group())) == T0
    assert logic.next_due(State(ONGOING, individual())) == T0 + 900
    assert logic.next_due(State(ONGOING, individual(), student_joined=True)) == T0 + 35 * MIN


def test_timer_keys_carry_the_schedule_version() -> None:
    key = logic.timer_key("cl_1", "ready", 3)
    assert key == "cl_1#ready#v3"
    assert logic.parse_timer_key(key) == ("cl_1", "ready", 3)
    assert logic.timer_key("cl_1", "ready", 4) != key


def test_room_names_map_back_to_their_class() -> None:
    room = logic.room_name("local", "cl_9")
    assert logic.class_id_of_room("local", room) == "cl_9"
    assert logic.class_id_of_room("prod", room) is None
    assert logic.class_id_of_room("local", "muda-local-class-") is None


def test_who_may_join_and_when() -> None:
    assert logic.role_in("t", "t", ["s"]) == "teacher"
    assert logic.role_in("s", "t", ["s"]) == "student"
    assert logic.role_in("x", "t", ["s"]) is None
    assert logic.join_refusal(READY, 0) is None and logic.join_refusal(ONGOING, 0) is None
    assert "opens at" in logic.join_refusal(SCHEDULED, 0)
    assert "closed" in logic.join_refusal(COMPLETED, 0)


@pytest.mark.parametrize(
    ("kind", "teacher", "students", "ok"),
    [
        ("individual", "t", ["a"], True),
        ("individual", "t", ["a", "b"], False),
        ("group", "t", ["a", "b"], True),
        ("group", "t", ["a", "a"], False),
        ("group", "t", ["t"], False),
        ("group", "t", [f"s{n}" for n in range(41)], False),
    ],
)
def test_participants_are_validated(kind: str, teacher: str, students: list[str], ok: bool) -> None:
    assert (logic.validate_students(kind, teacher, students) is None) is ok


def test_whose_credit_a_final_session_uses() -> None:
    assert logic.students_to_charge("individual", ABSENT, ["a"], set()) == ["a"]
    assert logic.students_to_charge("individual", COMPLETED, ["a"], {"a"}) == ["a"]
    assert logic.students_to_charge("group", COMPLETED, ["a", "b", "c"], {"a", "c"}) == ["a", "c"]
    assert logic.students_to_charge("group", logic.CANCELLED, ["a"], {"a"}) == []
    assert logic.students_to_charge("individual", logic.CANCELLED, ["a"], set()) == []


def test_token_lives_until_the_end_at_least_the_minimum() -> None:
    assert logic.token_ttl(T0, T0 + 3600.2, 300) == 3601
    assert logic.token_ttl(T0, T0 + 10, 300) == 300


# --- LiveKit ----------------------------------------------------------------------------------

CREDS = livekit.Credentials("APIkey", "secret-" + "x" * 32)


def test_access_token_has_livekits_claims() -> None:
    token = livekit.access_token(
        CREDS, livekit.VideoGrant(room="r1", room_join=True), identity="u1", name="Una", ttl_seconds=120
    )
    claims = decode_token(CREDS, token)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert (claims["iss"], claims["sub"], claims["name"]) == ("APIkey", "u1", "Una")
    assert claims["exp"] - claims["nbf"] == 120
    assert claims["video"]["room"] == "r1" and claims["video"]["roomJoin"] is True


def test_joining_without_a_room_or_identity_is_refused() -> None:
    with pytest.raises(ValueError):
        livekit.access_token(CREDS, livekit.VideoGrant(room="", room_join=True), identity="u1")


def test_webhook_verifies_signature_and_body_hash() -> None:
    body = json.dumps({"event": "participant_joined", "room": {"name": "r"}}).encode()
    auth = webhook_authorization(CREDS, body)

    assert livekit.verify_webhook(CREDS, body, auth)["event"] == "participant_joined"
    assert livekit.verify_webhook(CREDS, body, f"Bearer {auth}")["room"] == {"name": "r"}
    for bad_body, bad_auth in [
        (body + b" ", auth),
        (body, None),
        (body, webhook_authorization(livekit.Credentials("APIkey", "other-secret-" + "y" * 30), body)),
        (body, webhook_authorization(livekit.Credentials("APIother", CREDS.api_secret), body)),
        (b"[]", webhook_authorization(CREDS, b"[]")),
    ]:
        with pytest.raises(livekit.WebhookError):
            livekit.verify_webhook(CREDS, bad_body, bad_auth)


def test_room_service_speaks_http_on_the_websocket_host() -> None:
    assert http_url("wss://lk.example.com") == "https://lk.example.com"
    assert http_url("ws://127.0.0.1:7880") == "http://127.0.0.1:7880"


def test_delete_room_on_an_unreachable_server_raises_livekit_error() -> None:
    with pytest.raises(livekit.LiveKitError):
        livekit.delete_room(CREDS, "ws://127.0.0.1:9", "r1", timeout=1)
