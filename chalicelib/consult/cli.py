"""``muda`` commands of the consult domain: the old cron jobs, as reconcile passes.

Each reads the open items (``OPEN#`` markers), decides from the data what is due now, and does it
through the same conditional writes the timers use — so it is safe at any time, twice, or beside
the workers (whoever comes second finds nothing to do). ``--dry-run`` prints without changing.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from chalicelib.consult import handlers, logic, service  # handlers: registers the timer kinds
from chalicelib.consult.models import appointments, items, sessions
from chalicelib.consult.models.items import Session
from chalicelib.consult.settings import settings
from chalicelib.core import clock
from chalicelib.core.observability import logger

assert handlers.blueprint  # imported for its timer registrations


def _options(fn: Callable[..., None]) -> Callable[..., None]:
    fn = click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")(fn)
    return click.option("--verbose", is_flag=True, help="Also list what was checked and left alone.")(fn)


def _sessions(calls: bool | None) -> list[Session]:
    found = []
    for session_id in items.open_ids("session"):
        session = sessions.get_session(session_id)
        if session is not None and (calls is None or (session.kind != "text") == calls):
            found.append(session)
    return found


def _due(session: Session) -> tuple[str, str] | None:
    cfg = settings()
    return logic.session_due(
        kind=session.kind,
        status=session.status,
        now=clock.now(),
        created_at=float(session.created_at),
        metered_from=None if session.metered_from is None else float(session.metered_from),
        billed=int(session.billed),
        interval_seconds=float(session.interval_seconds),
        last_activity=session.last_activity,
        idle_seconds=cfg.idle_seconds,
        pending_timeout=cfg.pending_timeout_seconds,
        connect_timeout=cfg.call_connect_timeout_seconds,
    )


def _apply(session: Session, action: str) -> str:
    if action == "bill":
        after = service.settle(session.session_id, None)
        return f"billed through interval {int(after.billed)}, {after.status}" if after else "gone"
    if action == "idle":
        after = service.settle(session.session_id, logic.IDLE)
        return f"{after.status} ({after.ended_reason}), {int(after.billed)} billed" if after else "gone"
    if action == "expire":
        return service.expire_pending(session.session_id)
    return service.fail_call(session.session_id)


def _reconcile(found: list[Session], actions: tuple[str, ...], dry_run: bool, verbose: bool) -> None:
    changed = 0
    for session in found:
        due = _due(session)
        label = f"{session.kind} {session.session_id} ({session.status}, {int(session.billed)} billed)"
        if due is None or due[0] not in actions:
            if verbose:
                click.echo(f"ok       {label}: nothing due")
            continue
        action, description = due
        if dry_run:
            click.echo(f"would    {label}: {description}")
            changed += 1
            continue
        result = _apply(session, action)
        logger.info(
            "reconciled", extra={"session_id": session.session_id, "action": action, "result": result}
        )
        click.echo(f"done     {label}: {description} -> {result}")
        changed += 1
    verb = "would change" if dry_run else "changed"
    click.echo(f"checked {len(found)}, {verb} {changed}")


@click.group("sessions")
def sessions_group() -> None:
    """Text sessions and calls."""


@sessions_group.command("process-due")
@_options
def process_due(dry_run: bool, verbose: bool) -> None:
    """Bill every elapsed interval not billed yet, end idle sessions, expire unanswered requests."""
    _reconcile(_sessions(None), ("bill", "idle", "expire"), dry_run, verbose)


@click.group("calls")
def calls_group() -> None:
    """Voice and video calls."""


@calls_group.command("cleanup-stale")
@_options
def cleanup_stale(dry_run: bool, verbose: bool) -> None:
    """Fail calls still connecting after the connection timeout (no charge; patient notified)."""
    _reconcile(_sessions(True), ("fail",), dry_run, verbose)


@click.group("appointments")
def appointments_group() -> None:
    """Appointments."""


@appointments_group.command("expire")
@_options
def expire(dry_run: bool, verbose: bool) -> None:
    """Cancel pending appointments whose time passed or that waited 24 h; release their slots."""
    cfg = settings()
    checked = changed = 0
    for appointment_id in items.open_ids("appointment"):
        appointment = appointments.get_appointment(appointment_id)
        if appointment is None:
            continue
        checked += 1
        label = f"appointment {appointment_id} ({appointment.status})"
        due, why = logic.appointment_expiry(
            float(appointment.created_at), float(appointment.scheduled_at), cfg.appointment_pending_seconds
        )
        if appointment.status != logic.A_PENDING or clock.now() < due:
            if verbose:
                click.echo(f"ok       {label}: nothing due")
            continue
        changed += 1
        if dry_run:
            click.echo(f"would    {label}: {logic.expiry_reason(why)}")
            continue
        click.echo(
            f"done     {label}: {logic.expiry_reason(why)} -> {service.expire_appointment(appointment_id)}"
        )
    click.echo(f"checked {checked}, {'would change' if dry_run else 'changed'} {changed}")


@click.group("doctors")
def doctors_group() -> None:
    """The doctor registry, online status and earnings."""


@doctors_group.command("list")
@click.option("--status", type=click.Choice(["active", "pending", "inactive"]), default="active")
def list_doctors(status: str) -> None:
    """Doctors in a status (``pending``: awaiting approval), by name."""
    found = service.doctors.listing(status, None, None, None, 10_000)
    for d in found.doctors:
        modes = ",".join(sorted(d.modes or ()))
        click.echo(f"{d.doctor_id}\t{d.name}\t{d.status}\t{d.timezone}\t{modes}")
    click.echo(f"{len(found.doctors)} {status}")


@doctors_group.command("approve")
@click.argument("doctor_id")
def approve(doctor_id: str) -> None:
    """Approve a self-registered doctor."""
    doctor = service.doctors.set_status(doctor_id, "active", "cli")
    click.echo(f"{doctor.doctor_id} {doctor.status}")


@doctors_group.command("earnings")
@click.argument("doctor_id")
@click.option("--group", type=click.Choice(["day", "week", "month"]), default="month")
def earnings(doctor_id: str, group: str) -> None:
    """A doctor's earnings of all time as CSV, then whether it reconciles with the wallet."""
    found = service.earnings.earnings(doctor_id, None, None, group)  # type: ignore[arg-type]
    click.echo(service.earnings.as_csv(found), nl=False)
    click.echo(
        f"# wallet balance {found.balance} + paid out {found.paid_out} = "
        f"{found.balance + found.paid_out}; statement {found.total.total.amount}; "
        f"{'reconciles' if found.reconciles else 'DOES NOT RECONCILE'}"
    )


@doctors_group.command("presence-lapse")
@_options
def presence_lapse(dry_run: bool, verbose: bool) -> None:
    """Set offline every doctor whose ``available`` ran out (what the lapse timers do)."""
    found = service.doctors.listing("active", None, None, None, 10_000)
    now = clock.now()
    changed = 0
    for d in found.doctors:
        p = found.presence.get(d.doctor_id)
        due = p is not None and p.status == "available" and (p.until is None or float(p.until) <= now)
        if not due:
            if verbose:
                click.echo(f"ok       {d.doctor_id}: {p.status if p else 'offline'}")
            continue
        changed += 1
        result = "would lapse" if dry_run else service.lapse_presence(d.doctor_id)
        click.echo(
            f"{'would   ' if dry_run else 'done    '} {d.doctor_id}: available past its time -> {result}"
        )
    click.echo(f"checked {len(found.doctors)}, {'would change' if dry_run else 'changed'} {changed}")


commands: list[click.Command] = [sessions_group, calls_group, appointments_group, doctors_group]
