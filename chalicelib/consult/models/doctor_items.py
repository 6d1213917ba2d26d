"""The doctor registry's items: profile, presence, dated exceptions, queued requests. Their keys
are spelled in ``items`` with every other consult key."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute

from chalicelib.consult.models.items import ByDoctor, _Item


class Doctor(_Item):
    """A registry entry. ``version`` moves with what decides a booking (status, hours,
    exceptions), so a booking conditioned on the version it read cannot slip past a change."""

    table = "consult"
    doctor_id = UnicodeAttribute()
    name = UnicodeAttribute()
    bio = UnicodeAttribute(null=True)
    specialties = UnicodeSetAttribute(null=True)
    languages = UnicodeSetAttribute(null=True)
    modes = UnicodeSetAttribute(null=True)
    status = UnicodeAttribute()  # pending | active | inactive
    timezone = UnicodeAttribute()
    weekly = JSONAttribute(null=True)  # {"mon": [["09:00", "17:00"]], …}
    version = NumberAttribute(default=0)
    booked = NumberAttribute(null=True)  # bookings ever taken; a change of hours is conditioned on it
    registered_by = UnicodeAttribute()
    approved_by = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    updated_at = NumberAttribute(null=True)
    by_doctor = ByDoctor()  # gsi1 "DOCTORS#<status>"


class Presence(_Item):
    table = "consult"
    doctor_id = UnicodeAttribute()
    status = UnicodeAttribute()  # available | busy | offline
    until = NumberAttribute(null=True)  # when ``available`` lapses without a new heartbeat
    changed_at = NumberAttribute()


class ScheduleException(_Item):
    table = "consult"
    doctor_id = UnicodeAttribute()
    day = UnicodeAttribute()  # local date YYYY-MM-DD
    hours = JSONAttribute()  # [] is leave
    reason = UnicodeAttribute(null=True)
    created_at = NumberAttribute()


class QueueEntry(_Item):
    table = "consult"
    session_id = UnicodeAttribute()
    patient_id = UnicodeAttribute()
    routing = UnicodeAttribute()  # delivered (doctor was available) | queued
    created_at = NumberAttribute()
