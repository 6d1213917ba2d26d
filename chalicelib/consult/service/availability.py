"""A doctor's hours: the weekly schedule and dated exceptions, the slots patients see, the check
a booking passes, and the appointments a change of hours leaves outside them.

A change of hours never cancels anything: it answers (and ``conflicts`` keeps answering) the
booked appointments that now fall outside the hours, for the doctor to reschedule or cancel
through the appointment flow; the doctor is told in the change's own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.consult import availability, logic
from chalicelib.consult.logic import Notice
from chalicelib.consult.models import appointments, doctors, items
from chalicelib.consult.models.doctor_items import Doctor, ScheduleException
from chalicelib.consult.models.items import Appointment
from chalicelib.consult.service.doctors import check_zone, load, stored_weekly, until_written
from chalicelib.consult.settings import settings
from chalicelib.core import clock
from chalicelib.core.errors import BadRequest, Conflict, Unprocessable

HORIZON_DAYS = 366  # how far ahead a change of hours looks for appointments it leaves outside


@dataclass(frozen=True)
class Hours:
    """A doctor's working intervals (UTC instants) around a range, and their zone."""

    tz: ZoneInfo
    intervals: list[tuple[float, float]]


def weekly_of(doctor: Doctor) -> dict[str, availability.Hours]:
    return availability.parse_weekly(doctor.weekly or {})


def hours(
    doctor: Doctor, start: float, end: float, *, weekly: dict | None = None, exceptions: dict | None = None
) -> Hours:
    """The doctor's working intervals around ``[start, end)``: weekly hours, dated exceptions."""
    tz = availability.zone(doctor.timezone)
    dates = availability.local_dates(start, end, tz)
    if exceptions is None:
        found = doctors.exceptions_between(doctor.doctor_id, str(dates[0]), str(dates[-1]))
        exceptions = {date.fromisoformat(e.day): availability.parse_hours(e.hours) for e in found}
    intervals = availability.working_intervals(
        weekly if weekly is not None else weekly_of(doctor), exceptions, tz, start, end
    )
    return Hours(tz, intervals)


def slot_seconds() -> float:
    return settings().slot_minutes * 60.0


def taken_between(doctor_id: str, start: float, end: float) -> set[float]:
    return {
        float(a.scheduled_at)
        for a in appointments.appointments_on(doctor_id, start, end)
        if a.status in logic.HOLDING
    }


def free_slots(doctor: Doctor, start: float, end: float) -> tuple[ZoneInfo, list[float]]:
    """The slots in ``[start, end)`` a patient may book: in hours, not taken, not past."""
    found = hours(doctor, start, end)
    taken = taken_between(doctor.doctor_id, start, end)
    return found.tz, availability.offered(found.intervals, slot_seconds(), start, end, clock.now(), taken)


def works_on(doctor: Doctor, day: date) -> bool:
    """Whether the doctor has a free slot on their local ``day``."""
    tz = availability.zone(doctor.timezone)
    start, end = availability.local_day_bounds(day, tz)
    return bool(free_slots(doctor, start, end)[1])


def check_bookable(doctor: Doctor, at: datetime) -> float:
    """``at`` as an instant if it is a future slot inside the doctor's hours: 422 ``invalid_slot``
    when past or between slots, 409 ``outside_availability`` when outside the hours."""
    epoch = at.timestamp()
    if epoch <= clock.now():
        raise Unprocessable("time must be in the future", code="invalid_slot")
    step = slot_seconds()
    found = hours(doctor, epoch - step, epoch + step)
    where = availability.placement(epoch, found.intervals, step)
    local = availability.local_text(epoch, found.tz)
    if where == "outside":
        raise Conflict(
            f"{local} ({doctor.timezone}) is outside the doctor's working hours; "
            f"GET /doctors/{doctor.doctor_id}/slots lists the free ones",
            code="outside_availability",
        )
    if where == "off_grid":
        raise Unprocessable(
            f"{local} is between the doctor's {settings().slot_minutes}-minute slots; "
            f"GET /doctors/{doctor.doctor_id}/slots lists them",
            code="invalid_slot",
        )
    return epoch


# --- changes of hours ---------------------------------------------------------------------------


def upcoming(doctor_id: str) -> list[Appointment]:
    """The doctor's booked appointments from now on."""
    now = clock.now()
    found = appointments.appointments_on(doctor_id, now, now + HORIZON_DAYS * 86400)
    return sorted((a for a in found if a.status in logic.HOLDING), key=lambda a: float(a.scheduled_at))


def outside(doctor: Doctor, booked: list[Appointment], **given: Any) -> list[Appointment]:
    """Of ``booked``, those not on a slot of the doctor's hours (as given, or as stored)."""
    if not booked:
        return []
    start, end = float(booked[0].scheduled_at), float(booked[-1].scheduled_at) + 1
    found = hours(doctor, start, end, **given)
    grid = set(availability.slot_starts(found.intervals, slot_seconds()))
    return [a for a in booked if float(a.scheduled_at) not in grid]


def conflicts(doctor_id: str) -> list[Appointment]:
    """Booked appointments that the doctor's current hours leave outside (to reschedule or cancel)."""
    return outside(load(doctor_id), upcoming(doctor_id))


def _conflict_notice(doctor_id: str, affected: list[Appointment], what: str) -> Notice | None:
    if not affected:
        return None
    ids = [a.appointment_id for a in affected]
    return Notice(
        f"doctor#{doctor_id}",
        "ScheduleConflicts",
        {"doctor_id": doctor_id, "appointment_ids": ids, "change": what},
        (doctor_id,),
        f"{len(ids)} booked appointment(s) fall outside your new hours; reschedule or cancel them.",
    )


def set_weekly(
    doctor_id: str, weekly: dict[str, Any], timezone: str | None
) -> tuple[Doctor, list[Appointment]]:
    """Replace the weekly hours (and zone); answers the appointments now outside them."""
    stored = stored_weekly(weekly)
    if timezone:
        check_zone(timezone)

    def step() -> tuple[Doctor, list[Appointment]]:
        doctor = load(doctor_id)
        zone_name = timezone or doctor.timezone
        probe = Doctor(doctor_id=doctor_id, timezone=zone_name, weekly=stored)
        affected = outside(probe, upcoming(doctor_id))
        actions = [
            Doctor.weekly.set(stored),
            Doctor.timezone.set(zone_name),
            Doctor.updated_at.set(clock.now()),
        ]
        doctors.update_doctor(
            doctor,
            actions,
            bump=True,
            notice=_conflict_notice(doctor_id, affected, "weekly hours"),
            hours=True,
        )
        return load(doctor_id), affected

    return until_written(step)


def set_exception(
    doctor_id: str, day: date, hours_text: list[list[str]] | None, reason: str | None
) -> tuple[list[ScheduleException], list[Appointment]]:
    """Put (``hours_text`` given; ``[]`` is leave) or remove (``None``) the exception of local
    ``day``; answers the appointments now outside the hours."""
    parsed = None
    if hours_text is not None:
        try:
            parsed = availability.parse_hours(hours_text)
        except ValueError as error:
            raise BadRequest(str(error), code="invalid_hours") from None

    def step() -> tuple[list[ScheduleException], list[Appointment]]:
        doctor = load(doctor_id)
        tz = availability.zone(doctor.timezone)
        start, end = availability.local_day_bounds(day, tz)
        dates = availability.local_dates(start, end, tz)
        current = doctors.exceptions_between(doctor_id, str(dates[0]), str(dates[-1]))
        exceptions = {date.fromisoformat(e.day): availability.parse_hours(e.hours) for e in current}
        exceptions.pop(day, None)
        if parsed is not None:
            exceptions[day] = parsed
        booked = [a for a in upcoming(doctor_id) if start - 86400 <= float(a.scheduled_at) < end + 86400]
        affected = outside(doctor, booked, exceptions=exceptions)
        now = clock.now()
        item = None
        if parsed is not None:
            item = ScheduleException(
                *items.exception_key(doctor_id, str(day)),
                doctor_id=doctor_id,
                day=str(day),
                hours=availability.as_text(parsed),
                reason=reason,
                created_at=now,
            )
        notice = _conflict_notice(doctor_id, affected, f"hours of {day}")
        doctors.set_exception(doctor, item, str(day), now, notice)
        return exceptions_from(doctor_id, clock.now()), affected

    return until_written(step)


def exceptions_from(doctor_id: str, since: float, days: int = HORIZON_DAYS) -> list[ScheduleException]:
    first = clock.to_datetime(since).date() - timedelta(days=1)
    return doctors.exceptions_between(doctor_id, str(first), str(first + timedelta(days=days)))
