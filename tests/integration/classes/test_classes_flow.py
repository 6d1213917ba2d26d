"""Class sessions on in-process moto, time driven by a frozen clock and timers fired as the
timers queue consumer fires them: the status flow, catch-up, duplicates, reschedule, cancel,
credits, the reconcile and the CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from chalicelib.classes import logic, models, service
from chalicelib.classes.models import items
from chalicelib.core import outbox, timers
from chalicelib.ops.cli import main as muda
from tests.integration.classes.conftest import Classes, fire_due
from tests.support.ids import unique

MIN = 60


def statuses(session: dict) -> list[str]:
    return [session["history"][0]["from_status"], *[h["to_status"] for h in session["history"]]]


def test_individual_class_walks_every_state_on_its_timers(classes: Classes, clock, rooms_deleted) -> None:
    """Given an academy with 10/5/15 minutes and a class in an hour for a student with credits,
    when time reaches each moment and its timer fires (the student joins after the start),
    then it goes SCHEDULED -> READY -> ONGOING -> COMPLETED, each at its moment, and uses one credit."""
    academy = classes.academy()
    classes.grant("student-1", 3)
    created = classes.create(academy, 60 * MIN, ["student-1"]).json_body
    cid = created["id"]
    assert created["status"] == "scheduled"
    assert {t.key.split("#")[1] for t in timers.pending() if t.kind == service.MOMENT_TIMER} == {
        "ready",
        "start",
        "absent",
        "complete",
    }

    clock.advance(50 * MIN)
    assert fire_due() == 1
    assert classes.get(cid)["status"] == "ready"
    clock.advance(10 * MIN)
    fire_due()
    assert classes.get(cid)["status"] == "ongoing"
    clock.advance(2 * MIN)
    joined = classes.call(
        "POST", f"/classes/{cid}/attendance", "student-1", "student", body={"action": "join"}
    )
    assert joined.status_code == 200 and joined.json_body["outcome"] == "joined"
    clock.advance(13 * MIN)
    fire_due()  # the absent moment: a student joined, so nothing
    assert classes.get(cid)["status"] == "ongoing"
    clock.advance(20 * MIN)
    fire_due()

    session = classes.get(cid)
    assert statuses(session) == ["scheduled", "ready", "ongoing", "completed"]
    assert [h["at"] == h["due_at"] for h in session["history"]] == [True] * 3
    wallet = classes.credits("student-1")
    assert (wallet["credits"], wallet["used"]) == (2, 1)
    assert [(e["delta"], e["outcome"], e["class_id"]) for e in wallet["ledger"]][:1] == [(-1, "used", cid)]
    assert rooms_deleted == [session["room_name"]]
    attendance = {a["user_id"]: a for a in session["attendance"]}
    assert attendance["student-1"]["minutes"] == pytest.approx(33, abs=0.01)  # closed at the complete moment
    assert models.get_session(cid).settled is True


def test_individual_class_with_no_join_becomes_absent_and_uses_one_credit(classes: Classes, clock) -> None:
    """Given an individual class nobody joins, when start + 15 minutes passes, then it is ABSENT,
    its student's credit is used once, and the complete moment later changes nothing."""
    academy = classes.academy()
    classes.grant("student-1", 1)
    cid = classes.create(academy, 30 * MIN, ["student-1"]).json_body["id"]

    for minutes in (20, 10, 15, 20):
        clock.advance(minutes * MIN)
        fire_due()

    session = classes.get(cid)
    assert statuses(session) == ["scheduled", "ready", "ongoing", "absent"]
    assert session["history"][-1]["due_at"] == session["moments"]["absent_at"]
    assert classes.credits("student-1")["credits"] == 0


def test_absent_decided_at_complete_when_the_class_ends_before_the_tolerance(classes: Classes, clock) -> None:
    """Given a 10-minute class with a 15-minute late tolerance, when it ends with no student,
    then it becomes ABSENT at its complete moment (there is no later moment to wait for)."""
    academy = classes.academy()
    cid = classes.create(academy, 20 * MIN, ["student-1"], duration_minutes=5).json_body["id"]
    assert "absent" not in {t.key.split("#")[1] for t in timers.pending() if cid in t.key}

    clock.advance(40 * MIN)
    fire_due()

    session = classes.get(cid)
    assert (
        session["status"] == "absent"
        and session["history"][-1]["due_at"] == session["moments"]["complete_at"]
    )
    assert classes.credits("student-1")["ledger"][0]["outcome"] == "owed"  # no credit left: recorded, once


@pytest.mark.parametrize(
    ("starts_in", "expected"),
    [
        (5 * MIN, ["scheduled", "ready"]),
        (-5 * MIN, ["scheduled", "ready", "ongoing"]),
        (-2 * 60 * MIN, ["scheduled", "ready", "ongoing", "absent"]),
    ],
)
def test_class_created_with_its_moments_past_catches_up_at_once(
    classes: Classes, clock, starts_in, expected
) -> None:
    """Given a class whose moments already passed when it is created, then the creation answers
    with the status it should have, reached through each state in order."""
    academy = classes.academy()

    response = classes.create(academy, starts_in, ["student-1"])

    assert response.status_code == 201
    assert statuses(response.json_body) == expected
    assert response.json_body["status"] == expected[-1]


def test_duplicate_timers_change_nothing(classes: Classes, clock, published) -> None:
    """Given a class at its complete moment, when the same moment's handler runs three times
    (duplicate delivery, a re-run after a crash), then it completes once, uses one credit, and
    each status change left the outbox once, in order."""
    academy = classes.academy()
    classes.grant("student-1", 5)
    cid = classes.create(academy, 15 * MIN, ["student-1"], kind="group").json_body["id"]
    clock.advance(15 * MIN)
    fire_due()
    classes.call("POST", f"/classes/{cid}/attendance", "student-1", "student", body={"action": "join"})
    clock.advance(40 * MIN)
    version = int(models.get_session(cid).version)
    timer = timers.Timer(service.MOMENT_TIMER, logic.timer_key(cid, "complete", version), 0, {}, 1)

    for _ in range(3):
        service.on_moment(timer)
    fire_due()

    session = classes.get(cid)
    assert statuses(session) == ["scheduled", "ready", "ongoing", "completed"]
    assert classes.credits("student-1")["credits"] == 4
    changes = [e.detail for e in published if e.name == "ClassStatusChanged" and e.detail["class_id"] == cid]
    assert [c["to"] for c in changes] == ["ready", "ongoing", "completed"]
    assert len({c["idempotency_key"] for c in changes}) == 3
    assert not [e for e in outbox.waiting() if e.aggregate.endswith(items.aggregate(cid))]


def test_a_crash_between_a_transition_and_its_event_loses_nothing(
    classes: Classes, clock, published, monkeypatch
) -> None:
    """Given a worker that dies right after a READY transition commits (before the outbox is
    drained), then the class is READY and its ClassStatusChanged waits in the outbox; when the
    outbox sweeper runs, the event reaches the bus once, and a second sweep sends nothing."""
    cid = classes.create(classes.academy(), 20 * MIN, [unique("student")], kind="group").json_body["id"]
    clock.advance(10 * MIN)

    def die(_: object) -> None:
        raise SystemExit("killed between commit and publish")

    drain = outbox.drain_after_commit
    monkeypatch.setattr(outbox, "drain_after_commit", die)
    with pytest.raises(SystemExit):
        service.on_moment(timers.Timer(service.MOMENT_TIMER, logic.timer_key(cid, "ready", 1), 0, {}, 1))
    monkeypatch.setattr(outbox, "drain_after_commit", drain)

    def sent() -> list[str]:
        return [e.detail["to"] for e in published if e.detail.get("class_id") == cid]

    assert classes.get(cid)["status"] == "ready" and sent() == []
    assert [e.name for e in outbox.waiting() if e.aggregate.endswith(items.aggregate(cid))] == [
        "ClassStatusChanged"
    ]
    clock.advance(outbox.SWEEP_AFTER_SECONDS + 1)
    outbox.sweep()
    outbox.sweep()
    assert sent() == ["ready"]


def test_reschedule_moves_every_timer_and_old_ones_do_nothing(classes: Classes, clock) -> None:
    """Given a scheduled class, when it is moved an hour later, then its old timers are
    cancelled, new ones pending, and an old timer that fires anyway changes nothing."""
    academy = classes.academy()
    cid = classes.create(academy, 30 * MIN, ["student-1"]).json_body["id"]
    old = logic.timer_key(cid, "ready", 1)

    moved = classes.call(
        "POST",
        f"/classes/{cid}/reschedule",
        "teacher-1",
        "teacher",
        body={"scheduled_at": classes.get(cid)["scheduled_at"].replace("Z", "+00:00")[:19] + "+00:00"},
    )
    assert moved.status_code == 200
    later = classes.call(
        "POST",
        f"/classes/{cid}/reschedule",
        "teacher-1",
        "teacher",
        body={"scheduled_at": _iso(clock.t + 90 * MIN)},
    )
    assert later.status_code == 200 and later.json_body["version"] == 3

    assert timers.get(service.MOMENT_TIMER, old).state == timers.CANCELLED
    pending = {t.key for t in timers.pending() if cid in t.key}
    assert pending == {logic.timer_key(cid, m, 3) for m in ("ready", "start", "absent", "complete")}
    clock.advance(25 * MIN)
    service.on_moment(timers.Timer(service.MOMENT_TIMER, old, 0, {}, 1))  # cancel raced its delivery
    assert classes.get(cid)["status"] == "scheduled"
    clock.advance(55 * MIN)
    fire_due()
    assert classes.get(cid)["status"] == "ready"


def test_cancel_cancels_timers_and_uses_no_credit(classes: Classes, clock, rooms_deleted) -> None:
    """Given a READY class, when its teacher cancels it, then it is CANCELLED, its pending timers
    are cancelled, no credit is used, and later moments change nothing."""
    academy = classes.academy()
    classes.grant("student-1", 1)
    cid = classes.create(academy, 5 * MIN, ["student-1"]).json_body["id"]

    response = classes.call("POST", f"/classes/{cid}/cancel", "teacher-1", "teacher", body={"reason": "sick"})

    assert response.status_code == 200 and response.json_body["status"] == "cancelled"
    assert not [t for t in timers.pending() if cid in t.key]
    clock.advance(60 * MIN)
    assert fire_due() == 0
    assert classes.get(cid)["status"] == "cancelled"
    assert classes.credits("student-1")["credits"] == 1
    assert rooms_deleted == [response.json_body["room_name"]]
    again = classes.call("POST", f"/classes/{cid}/cancel", "teacher-1", "teacher", body={})
    assert again.status_code == 409 and again.json_body["error"]["code"] == "not_cancellable"


def test_group_class_uses_a_credit_of_each_attending_student_only(classes: Classes, clock) -> None:
    """Given a group class of three, when two join, then completion uses one credit of each of
    those two and none of the third."""
    academy = classes.academy()
    for s in ("s1", "s2", "s3"):
        classes.grant(s, 2)
    cid = classes.create(academy, 10 * MIN, ["s1", "s2", "s3"], kind="group").json_body["id"]
    clock.advance(1 * MIN)
    fire_due()
    for s in ("s1", "s2"):
        assert (
            classes.call(
                "POST", f"/classes/{cid}/attendance", s, "student", body={"action": "join"}
            ).status_code
            == 200
        )
    assert classes.get(cid)["status"] == "ongoing"  # the first join started it early
    classes.call("POST", f"/classes/{cid}/attendance", "s2", "student", body={"action": "leave"})

    clock.advance(60 * MIN)
    fire_due()

    assert classes.get(cid)["status"] == "completed"
    assert [classes.credits(s)["credits"] for s in ("s1", "s2", "s3")] == [1, 1, 2]


def test_reconcile_moves_a_class_whose_timers_were_lost(classes: Classes, clock) -> None:
    """Given a class whose timers were all lost, when its moments pass, then the per-minute
    reconcile (after its grace) and `muda classes update-statuses` bring it where it belongs."""
    academy = classes.academy()
    cid = classes.create(academy, 20 * MIN, ["student-1"], kind="group").json_body["id"]
    for t in list(timers.pending()):
        timers.cancel(t.kind, t.key)
    clock.advance(10 * MIN + 30)
    assert service.reconcile(grace=60) == []  # READY is 30 s overdue: within the backstop's grace
    clock.advance(15 * MIN)

    dry = CliRunner().invoke(muda, ["classes", "update-statuses", "--dry-run", "--verbose"])
    assert dry.exit_code == 0 and "scheduled -> ready, ready -> ongoing" in dry.output
    assert classes.get(cid)["status"] == "scheduled"
    real = CliRunner().invoke(muda, ["classes", "update-statuses"])

    assert real.exit_code == 0 and "1 session(s) changed" in real.output
    assert classes.get(cid)["status"] == "ongoing"
    explained = CliRunner().invoke(muda, ["classes", "explain", cid])
    assert explained.exit_code == 0
    assert "ongoing until" in explained.output and "then completed" in explained.output
    assert "reconcile" in explained.output


def test_explain_unknown_class_fails_clearly(classes: Classes) -> None:
    result = CliRunner().invoke(muda, ["classes", "explain", "cl_nope"])
    assert result.exit_code == 1 and "no class cl_nope" in result.output


def _iso(epoch: float) -> str:
    from chalicelib.core import clock as core_clock

    return core_clock.to_datetime(epoch).isoformat()
