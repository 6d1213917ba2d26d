"""Online status over the API on moto: ``available`` lapses on its spine timer unless renewed, a
text request reaches an available doctor at once or waits in the queue the doctor sees."""

from __future__ import annotations

from chalicelib.consult import service
from chalicelib.consult.settings import settings
from chalicelib.core import timers
from tests.integration.consult.conftest import fire_due, inbox


def presence(http) -> dict:
    status, body = http("GET", "/me/consult/presence")
    assert status == 200, body
    return body


def test_available_lapses_on_its_timer_unless_renewed(users, clock) -> None:
    """Given a doctor available, a heartbeat before the idle time moves the one lapse timer, so
    the old time passes with the doctor still available; the new time turns them offline (by
    the timer, once) and they are told."""
    doctor = users["doctor"]
    idle = settings().presence_idle_seconds
    status, body = doctor("PUT", "/me/consult/presence", {"status": "available"})
    assert status == 200 and body["status"] == "available" and body["available_until"]
    clock.advance(idle - 60)
    doctor("PUT", "/me/consult/presence", {"status": "available"})  # heartbeat
    clock.advance(60)
    fire_due()
    assert presence(doctor)["status"] == "available"
    assert users["patient"]("GET", f"/doctors/{doctor.sub}")[1]["presence"] == "available"

    clock.advance(idle)
    outcomes = fire_due()

    assert [o for o in outcomes if o.startswith(service.PRESENCE_LAPSE)] == [
        f"{service.PRESENCE_LAPSE}:fired"
    ]
    assert presence(doctor)["status"] == "offline"
    assert service.lapse_presence(doctor.sub) == "skipped"  # a redelivery changes nothing
    assert [n["type"] for n in inbox(doctor)].count("PresenceLapsed") == 1


def test_busy_and_offline_drop_the_timer(users, clock) -> None:
    doctor = users["doctor"]
    doctor("PUT", "/me/consult/presence", {"status": "available"})
    assert doctor("PUT", "/me/consult/presence", {"status": "busy"})[1]["available_until"] is None
    assert timers.get(service.PRESENCE_LAPSE, doctor.sub).state == timers.CANCELLED
    clock.advance(settings().presence_idle_seconds + 1)
    fire_due()
    assert presence(doctor)["status"] == "busy"
    assert doctor("PUT", "/me/consult/presence", {"status": "asleep"})[0] == 422


def test_requests_reach_an_available_doctor_or_wait_in_the_queue(users, credits, clock) -> None:
    """Given an offline doctor, a text request waits in the queue (no ping); when the doctor
    turns available they hear how many wait, and a new request is announced at once. The queue
    lists both, oldest first; answering one takes it off the queue."""
    doctor, patient = users["doctor"], users["patient"]
    credits(2)
    status, queued = patient("POST", "/text-sessions", {"doctor_id": doctor.sub})
    assert status == 201 and queued["routing"] == "queued"
    assert not [n for n in inbox(doctor) if n["type"] == "SessionRequested"]

    assert doctor("PUT", "/me/consult/presence", {"status": "available"})[1]["waiting"] == 1
    assert [n["detail"]["waiting"] for n in inbox(doctor) if n["type"] == "RequestsWaiting"] == [1]
    clock.advance(1)
    delivered = patient("POST", "/text-sessions", {"doctor_id": doctor.sub})[1]
    assert delivered["routing"] == "delivered"
    assert [n["detail"]["session_id"] for n in inbox(doctor) if n["type"] == "SessionRequested"] == [
        delivered["id"]
    ]

    waiting = doctor("GET", "/me/consult/queue")[1]["waiting"]
    assert [(w["session_id"], w["routing"], w["position"]) for w in waiting] == [
        (queued["id"], "queued", 1),
        (delivered["id"], "delivered", 2),
    ]
    assert doctor("POST", f"/text-sessions/{queued['id']}/messages", {"body": "Hello"})[0] == 201
    assert patient("POST", f"/text-sessions/{delivered['id']}/end", {})[0] == 200
    assert doctor("GET", "/me/consult/queue")[1]["waiting"] == []
    assert users["patient"]("GET", "/me/consult/queue")[0] == 403
