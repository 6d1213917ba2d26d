"""The doctor registry: admins add doctors, doctors register themselves for an admin to approve,
profiles change, doctors are listed and found. A doctor's id is their token's ``sub``.

``require_doctor`` is what sessions, calls and appointments ask first (404 unknown, 409
inactive or not offering the mode); their own transactions then check the same condition, so a
doctor deactivated between the read and the write still writes nothing."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chalicelib.consult import availability
from chalicelib.consult.logic import Notice
from chalicelib.consult.models import doctors, items
from chalicelib.consult.models.doctor_items import Doctor, Presence
from chalicelib.consult.models.doctors import ACTIVE, INACTIVE, PENDING
from chalicelib.core import clock, db
from chalicelib.core.errors import BadRequest, Conflict, NotFound

DEFAULT_ZONE = "Africa/Nairobi"
PROFILE_FIELDS = ("name", "bio", "specialties", "languages", "modes")


def _doctor_notice(doctor_id: str, name: str, message: str, **detail: Any) -> Notice:
    return Notice(f"doctor#{doctor_id}", name, {"doctor_id": doctor_id, **detail}, (doctor_id,), message)


def not_found(doctor_id: str) -> NotFound:
    return NotFound(f"no doctor {doctor_id}", code="doctor_not_found")


def require_doctor(doctor_id: str, mode: str | None = None) -> Doctor:
    """The doctor, if registered, active and (given ``mode``) offering it; else 404/409."""
    doctor = doctors.get_doctor(doctor_id)
    if doctor is None:
        raise not_found(doctor_id)
    if doctor.status != ACTIVE:
        what = "awaiting approval" if doctor.status == PENDING else "not active"
        raise Conflict(f"doctor {doctor_id} is {what}", code="doctor_inactive")
    if mode is not None and mode not in (doctor.modes or set()):
        offered = ", ".join(sorted(doctor.modes or ())) or "nothing"
        raise Conflict(
            f"doctor {doctor_id} does not offer {mode} consultations (offers {offered})",
            code="mode_not_offered",
        )
    return doctor


def refusal(doctor_id: str, mode: str | None = None) -> Exception:
    """Why a transaction's doctor condition refused (re-read now): the same answer as
    ``require_doctor`` would give, or 409 ``doctor_changed`` if it passes again."""
    try:
        require_doctor(doctor_id, mode)
    except (NotFound, Conflict) as error:
        return error
    return Conflict("the doctor's details changed meanwhile; please retry", code="doctor_changed")


def load(doctor_id: str) -> Doctor:
    doctor = doctors.get_doctor(doctor_id)
    if doctor is None:
        raise not_found(doctor_id)
    return doctor


def _clean(values: list[str] | None) -> set[str] | None:
    cleaned = {v.strip().casefold() for v in values or () if v.strip()}
    return cleaned or None  # DynamoDB stores no empty set


def register(doctor_id: str, profile: dict[str, Any], *, by: str, approved: bool) -> Doctor:
    """A new registry entry: active when an admin adds it, ``pending`` when the doctor registers
    (an admin approves). 409 ``doctor_exists`` if the id is taken."""
    zone = profile.get("timezone") or DEFAULT_ZONE
    check_zone(zone)
    weekly = profile.get("weekly")
    status = ACTIVE if approved else PENDING
    now = clock.now()
    doctor = Doctor(
        *items.doctor_key(doctor_id),
        doctor_id=doctor_id,
        name=profile["name"],
        bio=profile.get("bio"),
        specialties=_clean(profile.get("specialties")),
        languages=_clean(profile.get("languages")),
        modes=_clean(profile.get("modes") or ["text", "voice", "video"]),
        status=status,
        timezone=zone,
        weekly=stored_weekly(weekly) if weekly is not None else {},
        version=0,
        registered_by=by,
        approved_by=by if approved else None,
        created_at=now,
        updated_at=now,
        gsi1pk=items.doctors_listed(status),
        gsi1sk=items.doctor_sort(profile["name"], doctor_id),
    )
    if not doctors.add_doctor(doctor):
        raise Conflict(f"doctor {doctor_id} is already registered", code="doctor_exists")
    return doctor


def check_zone(name: str) -> None:
    try:
        availability.zone(name)
    except ValueError as error:
        raise BadRequest(str(error), code="invalid_timezone") from None


def stored_weekly(weekly: dict[str, Any]) -> dict[str, list[list[str]]]:
    try:
        parsed = availability.parse_weekly(weekly)
    except ValueError as error:
        raise BadRequest(str(error), code="invalid_hours") from None
    return {day: availability.as_text(hours) for day, hours in parsed.items() if hours}


def update_profile(doctor_id: str, changes: dict[str, Any]) -> Doctor:
    """Change the profile's descriptive fields (name, bio, specialties, languages, modes)."""

    def step() -> Doctor:
        doctor = load(doctor_id)
        actions: list[Any] = [Doctor.updated_at.set(clock.now())]
        for name in PROFILE_FIELDS:
            if name not in changes:
                continue
            value = changes[name]
            attr = getattr(Doctor, name)
            if name == "name" and not value:
                raise BadRequest("a doctor has a name", code="no_name")
            if name in ("specialties", "languages", "modes"):
                value = _clean(value)
                if name == "modes" and not value:
                    raise BadRequest("a doctor offers at least one mode", code="no_modes")
            actions.append(attr.set(value) if value is not None else attr.remove())
        if "name" in changes:
            actions.append(Doctor.gsi1sk.set(items.doctor_sort(changes["name"], doctor_id)))
        # modes decide which sessions may open: a change moves the version like status does
        doctors.update_doctor(doctor, actions, bump="modes" in changes)
        return load(doctor_id)

    return until_written(step)


def set_status(doctor_id: str, status: str, by: str) -> Doctor:
    """Approve (pending → active), deactivate or reactivate. A change moves the version, so a
    booking or session in flight against the old state writes nothing."""

    def step() -> Doctor:
        doctor = load(doctor_id)
        if doctor.status == status:
            return doctor
        actions = [
            Doctor.status.set(status),
            Doctor.gsi1pk.set(items.doctors_listed(status)),
            Doctor.updated_at.set(clock.now()),
        ]
        if status == ACTIVE and doctor.approved_by is None:
            actions.append(Doctor.approved_by.set(by))
        message = {
            ACTIVE: "Your doctor profile is active: patients can find and book you.",
            INACTIVE: "Your doctor profile was deactivated: patients can no longer book you.",
        }[status]
        doctors.update_doctor(
            doctor,
            actions,
            bump=True,
            notice=_doctor_notice(doctor_id, "DoctorStatusChanged", message, status=status),
        )
        return load(doctor_id)

    return until_written(step)


def until_written(step: Any) -> Any:
    """Re-read and retry while a concurrent edit moved the version under the step."""
    for _ in range(5):
        try:
            return db.retry_on_conflict(step)
        except db.Refused as refused:
            if not refused.by(doctors.DOCTOR):
                raise
    raise Conflict("the doctor's profile is being changed; please retry", code="busy")


@dataclass(frozen=True)
class Listed:
    doctors: list[Doctor]
    presence: dict[str, Presence]
    next: str | None


def listing(
    status: str, specialty: str | None, mode: str | None, after: str | None, limit: int, keep: Any = None
) -> Listed:
    """A page of doctors in ``status`` by name, filtered; ``keep(doctor)`` a further filter
    (e.g. works on a date). ``next`` is the cursor of the following page."""
    condition = None
    if specialty:
        condition = Doctor.specialties.contains(specialty.strip().casefold())
    if mode:
        by_mode = Doctor.modes.contains(mode)
        condition = by_mode if condition is None else condition & by_mode
    found: list[Doctor] = []
    more = False
    source: Iterator[Doctor] = doctors.list_doctors(status, _uncursor(after), condition)
    for doctor in source:
        if keep is not None and not keep(doctor):
            continue
        if len(found) == limit:
            more = True
            break
        found.append(doctor)
    cursor = _cursor(found[-1].gsi1sk) if more else None
    return Listed(found, doctors.presences([d.doctor_id for d in found]), cursor)


def _cursor(sort_key: str) -> str:
    """A page cursor safe in a URL as it is (no ``#``, ``+`` or ``/``)."""
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


def _uncursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("after is not a cursor this list gave", code="invalid_query") from None
