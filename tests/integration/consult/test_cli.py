"""The operator commands reconcile from the data: with a timer lost, they still bill, fail and
expire what is due — once, whatever runs beside them; --dry-run changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner

from chalicelib.consult import models, service
from chalicelib.core import timers
from chalicelib.ops.cli import main


def muda(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_process_due_bills_an_interval_whose_timer_was_lost(users, credits, clock) -> None:
    """Given an active session whose tick-1 timer was deleted, after the interval process-due
    --dry-run only reports it; process-due bills it once and re-arms tick 2; again: nothing."""
    credits(3)
    sid = users["patient"]("POST", "/text-sessions", {"doctor_id": users["doctor"].sub})[1]["id"]
    users["doctor"]("POST", f"/text-sessions/{sid}/messages", {"body": "hi"})
    meter = models.Meter.of(models.get_session(sid))
    assert timers.cancel(service.TICK, service.tick_key(meter, 1))
    clock.advance(601)

    assert f"would    text {sid} (active, 0 billed): bill interval 1" in muda(
        "sessions", "process-due", "--dry-run"
    )
    assert int(models.get_session(sid).billed) == 0
    assert f"text {sid} (active, 0 billed): bill interval 1 -> billed through interval 1, active" in muda(
        "sessions", "process-due"
    )
    assert int(models.get_session(sid).billed) == 1
    assert timers.get(service.TICK, service.tick_key(meter, 2)).state == timers.PENDING
    assert "changed 0" in muda("sessions", "process-due")
    assert len(models.ledger_of_session(sid)) == 2


def test_calls_cleanup_stale_fails_calls_past_the_timeout(users, credits, clock) -> None:
    credits(1, "voice")
    cid = users["patient"]("POST", "/calls", {"doctor_id": users["doctor"].sub, "kind": "voice"})[1]["id"]
    timers.cancel(service.CONNECT_TIMEOUT, cid)
    clock.advance(89)
    assert f"voice {cid}" not in muda("calls", "cleanup-stale")
    clock.advance(1)
    assert "would" in muda("calls", "cleanup-stale", "--dry-run")
    assert f"voice {cid} (connecting, 0 billed): fail: not connected within 90 s -> failed" in muda(
        "calls", "cleanup-stale"
    )
    assert models.get_session(cid).failure_reason == "Connection timeout after 90 seconds"


def test_appointments_expire_cancels_stale_pending_ones(users, clock) -> None:
    at = datetime.fromtimestamp((int(clock.t) // 1800 + 2) * 1800, tz=UTC)
    aid = users["patient"](
        "POST", "/appointments", {"doctor_id": users["doctor"].sub, "scheduled_at": at.isoformat()}
    )[1]["id"]
    timers.cancel(service.APPOINTMENT_EXPIRY, aid)
    clock.t = at.timestamp()
    assert f"would    appointment {aid}" in muda("appointments", "expire", "--dry-run", "--verbose")
    assert models.get_appointment(aid).status == "pending"
    assert "Automatically expired - scheduled time has passed -> expired" in muda("appointments", "expire")
    assert models.slot_holder(users["doctor"].sub, at.timestamp()) is None


def test_doctor_commands_list_approve_report_earnings_and_lapse_presence(users, credits, clock) -> None:
    """Given a pending doctor, a billed interval and a doctor available past its time (its timer
    lost), the commands approve, list, print a statement that reconciles, and set offline once."""
    from chalicelib.consult.service import doctors
    from tests.support.ids import unique

    pending = unique("dr-cli")
    doctors.register(pending, {"name": "Dr Pending"}, by=pending, approved=False)
    assert pending in muda("doctors", "list", "--status", "pending")
    assert f"{pending} active" in muda("doctors", "approve", pending)
    credits(1)
    sid = users["patient"]("POST", "/text-sessions", {"doctor_id": users["doctor"].sub})[1]["id"]
    users["doctor"]("POST", f"/text-sessions/{sid}/messages", {"body": "hi"})
    users["patient"]("POST", f"/text-sessions/{sid}/end", {})
    report = muda("doctors", "earnings", users["doctor"].sub)
    assert report.splitlines()[-2].endswith(",all,1,1,500,KES") and "reconciles" in report.splitlines()[-1]

    users["doctor"]("PUT", "/me/consult/presence", {"status": "available"})
    assert timers.cancel(service.PRESENCE_LAPSE, users["doctor"].sub)
    clock.advance(3600)
    assert f"{users['doctor'].sub}: available past its time" in muda("doctors", "presence-lapse", "--dry-run")
    assert "-> offline" in muda("doctors", "presence-lapse")
    assert models.get_presence(users["doctor"].sub).status == "offline"
    assert users["doctor"].sub not in muda("doctors", "presence-lapse")
