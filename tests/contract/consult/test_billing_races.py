"""Money and state under real races (DynamoDB Local): duplicate ticks, manual end and auto-end
all at once on one session; concurrent activations; concurrent activity; bookings of one slot."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.consult import logic, models, service
from chalicelib.core import clock as core_clock
from chalicelib.core import timers
from chalicelib.core.auth import Principal
from tests.contract.consult.conftest import give_credits, race, register_doctor

pytestmark = pytest.mark.contract
INTERVAL = 600.0


def principal(sub: str, role: str) -> Principal:
    return Principal(sub=sub, roles=frozenset({role}))


def active_session(patient: str, doctor: str, credits: int) -> models.Session:
    register_doctor(doctor)
    give_credits(patient, credits)
    session = service.create_text_session(principal(patient, "patient"), doctor)
    service.send_message(session.session_id, principal(doctor, "doctor"), "hello")
    active = models.get_session(session.session_id)
    assert active is not None and active.status == logic.ACTIVE
    return active


def books_balance(session: models.Session) -> None:
    """Each billed interval has one debit and one award; credits and wallet moved by as much."""
    ledger = models.ledger_of_session(session.session_id)
    debits = sorted(int(e.interval) for e in ledger if e.entry == "debit")
    awards = sorted(int(e.interval) for e in ledger if e.entry == "award")
    billed = int(session.billed)
    assert debits == awards == list(range(1, billed + 1))
    assert sum(int(e.amount) for e in ledger if e.entry == "award") == billed * int(session.award)


@pytest.mark.parametrize("credits", [5, 2])
def test_duplicate_ticks_manual_end_and_auto_end_racing_bill_each_interval_once(
    clock, credits: int, offline: list
) -> None:
    """Given an active session 2.5 intervals old, when 50 duplicate deliveries of ticks 1 and 2,
    a manual end, the idle auto-end and a reconcile pass all run at once, then each interval is
    billed once, credits never go negative, debits == awards, and the session ends once, with
    one SessionEnded that tells what was billed."""
    patient, doctor = f"p-race-{credits}", f"d-race-{credits}"
    session = active_session(patient, doctor, credits)
    meter = models.Meter.of(session)
    clock.advance(2.5 * INTERVAL)
    jobs = [lambda i=1 + n % 2: service.tick(meter, i) for n in range(50)]
    jobs += [
        lambda: service.end_session(session.session_id, principal(patient, "patient"), text=True),
        lambda: service.settle(session.session_id, logic.IDLE),
        lambda: service.settle(session.session_id, None),
    ]

    results = race(*jobs)

    assert not [r for r in results if isinstance(r, Exception)], results
    final = models.get_session(session.session_id)
    assert final.status == logic.ENDED
    billed = int(final.billed)
    assert billed == min(credits, 3) if final.ended_reason == logic.MANUAL else billed <= min(credits, 3)
    subscription = models.get_subscription(patient)
    assert subscription.text_sessions_remaining == credits - billed >= 0
    assert models.get_wallet(doctor).balance == billed * int(session.award)
    books_balance(final)
    ended = [
        e.detail for e in offline if e.name == "SessionEnded" and e.detail["session_id"] == session.session_id
    ]
    assert len({e["idempotency_key"] for e in ended}) == 1
    assert (ended[0]["intervals_billed"], ended[0]["reason"]) == (billed, final.ended_reason)
    # whatever raced, a later tick or end changes nothing
    assert service.tick(meter, billed + 1) == "skipped"
    again = service.end_session(session.session_id, principal(doctor, "doctor"), text=True)
    assert (again.status, int(again.billed), again.ended_reason) == (final.status, billed, final.ended_reason)


def test_fifty_duplicate_deliveries_of_one_tick_bill_once(clock) -> None:
    """Given an active session at its first tick, when tick 1 is delivered 50 times at once,
    one credit moves and one award is paid."""
    session = active_session("p-dup", "d-dup", 4)
    clock.advance(INTERVAL)

    outcomes = race(*[lambda: service.tick(models.Meter.of(session), 1) for _ in range(50)])

    assert sorted(outcomes).count("billed") == 1 and outcomes.count("skipped") == 49
    assert models.get_subscription("p-dup").text_sessions_remaining == 3
    assert models.get_wallet("d-dup").credits_earned == 1
    books_balance(models.get_session(session.session_id))


def test_the_tick_that_takes_the_last_credit_ends_the_session(clock) -> None:
    """Given 2 credits, tick 1 bills and continues, tick 2 bills the last credit and ends it."""
    session = active_session("p-last", "d-last", 2)
    meter = models.Meter.of(session)
    clock.advance(INTERVAL)
    assert service.tick(meter, 1) == "billed"
    clock.advance(INTERVAL)
    assert service.tick(meter, 2) == "ended"
    final = models.get_session(session.session_id)
    assert (final.status, final.ended_reason, int(final.billed)) == ("ended", "credits_exhausted", 2)
    assert models.get_subscription("p-last").text_sessions_remaining == 0


def test_concurrent_first_doctor_messages_activate_once(clock) -> None:
    """Given a pending session, when the doctor sends 20 messages at once, it activates once and
    every message is stored."""
    give_credits("p-act", 1)
    register_doctor("d-act")
    session = service.create_text_session(principal("p-act", "patient"), "d-act")
    doctor = principal("d-act", "doctor")

    results = race(
        *[lambda n=n: service.send_message(session.session_id, doctor, f"m{n}") for n in range(20)]
    )

    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(models.messages(session.session_id)) == 20
    active = models.get_session(session.session_id)
    assert active.status == logic.ACTIVE and active.activated_at is not None
    ticks = [t for t in timers.pending() if t.kind == service.TICK and t.key.startswith(session.session_id)]
    assert len(ticks) == 1 and ticks[0].key == service.tick_key(models.Meter.of(active), 1)


def test_concurrent_activity_of_both_parties_loses_nothing(clock) -> None:
    """Given an active session, when both parties record activity 10 times each at once, both
    parties' last activity is recorded."""
    session = active_session("p-touch", "d-touch", 1)
    clock.advance(5)
    jobs = [lambda: models.touch(session.session_id, "patient", core_clock.now())] * 10
    jobs += [lambda: models.touch(session.session_id, "doctor", core_clock.now())] * 10

    assert all(race(*jobs))

    after = models.get_session(session.session_id)
    assert after.patient_active_at == after.doctor_active_at == core_clock.now()


def test_hundred_concurrent_bookings_of_one_slot_one_wins(clock) -> None:
    """Given a free slot inside the doctor's hours, when 100 patients book it at once, exactly
    one booking exists; after it is cancelled the slot can be booked again."""
    at = datetime.fromtimestamp((int(core_clock.now()) // 1800 + 4) * 1800, tz=UTC)
    hour = f"{at:%H}:00"
    weekly = {f"{at:%a}".lower(): [(hour, "24:00" if at.hour == 23 else f"{at.hour + 1:02d}:00")]}
    register_doctor("d-book", weekly)
    results = race(
        *[lambda n=n: service.book(principal(f"p-b{n}", "patient"), "d-book", at, None) for n in range(100)]
    )

    won = [r for r in results if isinstance(r, models.Appointment)]
    lost = [r for r in results if not isinstance(r, models.Appointment)]
    assert len(won) == 1
    assert all(getattr(e, "code", None) == "slot_taken" for e in lost), {repr(e) for e in lost}
    assert models.slot_holder("d-book", at.timestamp()) == won[0].appointment_id
    service.cancel_appointment(won[0].appointment_id, principal(won[0].patient_id, "patient"), None)
    again = service.book(principal("p-b-again", "patient"), "d-book", at, None)
    assert models.slot_holder("d-book", at.timestamp()) == again.appointment_id


def test_requests_racing_a_deactivation_write_only_what_they_answered(clock) -> None:
    """Given an active doctor, when 20 patients open text sessions and book slots while an admin
    deactivates the doctor, each request either succeeds or is refused with a doctor code, every
    refused one wrote nothing (the doctor's condition is in its transaction), and afterwards
    every request is refused."""
    from chalicelib.consult.models import appointments
    from chalicelib.consult.service import doctors
    from chalicelib.core.errors import MudaError

    register_doctor("d-gone")
    base = (int(core_clock.now()) // 1800 + 4) * 1800
    for n in range(10):
        give_credits(f"p-gone{n}", 1)
    jobs = [
        lambda n=n: service.create_text_session(principal(f"p-gone{n}", "patient"), "d-gone")
        for n in range(10)
    ]
    jobs += [
        lambda n=n: service.book(
            principal(f"p-gone-b{n}", "patient"),
            "d-gone",
            datetime.fromtimestamp(base + n * 1800, tz=UTC),
            None,
        )
        for n in range(10)
    ]
    jobs.insert(10, lambda: doctors.set_status("d-gone", "inactive", "admin"))

    results = race(*jobs)

    refused = [r for r in results if isinstance(r, MudaError)]
    assert {e.code for e in refused} <= {"doctor_inactive", "doctor_changed"}, refused
    sessions = [r for r in results if isinstance(r, models.Session)]
    booked = [r for r in results if isinstance(r, models.Appointment)]
    assert len(sessions) + len(booked) + len(refused) == 20
    stored = models.items.party_list(models.Session, "doctor", "d-gone", models.items.SESSIONS, 100)
    assert sorted(s.session_id for s in stored) == sorted(s.session_id for s in sessions)
    assert len(appointments.appointments_of("d-gone", "doctor", 100)) == len(booked)
    with pytest.raises(MudaError, match="not active"):
        service.create_text_session(principal("p-gone0", "patient"), "d-gone")


def test_bookings_racing_a_change_of_hours_are_all_listed_or_refused(clock) -> None:
    """Given a doctor working around the clock, when 15 patients book slots of one day while
    the doctor drops that weekday from the hours, every booking that stands outside the new hours
    is in the change's own list of affected appointments (none slipped in after it), and the
    refused ones say why."""
    from chalicelib.consult.service import availability
    from chalicelib.core.errors import MudaError

    register_doctor("d-hours")
    day = datetime.fromtimestamp((int(core_clock.now()) // 86400 + 3) * 86400, tz=UTC)
    dropped = f"{day:%a}".lower()
    hours = {
        d: [("00:00", "24:00")] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun") if d != dropped
    }
    jobs = [
        lambda n=n: service.book(
            principal(f"p-hours{n}", "patient"),
            "d-hours",
            datetime.fromtimestamp(day.timestamp() + n * 1800, tz=UTC),
            None,
        )
        for n in range(15)
    ]
    jobs.insert(7, lambda: availability.set_weekly("d-hours", hours, None))

    results = race(*jobs)

    change = next(r for r in results if isinstance(r, tuple))
    affected = {a.appointment_id for a in change[1]}
    booked = {r.appointment_id for r in results if isinstance(r, models.Appointment)}
    refused = [r for r in results if isinstance(r, MudaError)]
    assert {e.code for e in refused} <= {"outside_availability", "doctor_changed"}, refused
    assert len(booked) + len(refused) == 15
    assert {a.appointment_id for a in availability.conflicts("d-hours")} == affected == booked
