"""Local stack hooks of the consult domain: demo data for ``make run``.

``seed(stack)``: a plan, a doctor (a general practitioner in Nairobi working Mon-Sat 08:00-18:00
and Sun 10:00-14:00, every mode), a patient subscribed to the plan (5 text sessions, 2 voice
calls, 1 video call), their dev tokens, and the first curl of a walkthrough (docs/consult.md).
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

DOCTOR, PATIENT = "doctor-1", "patient-1"
HOURS = {
    **{day: [("08:00", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri", "sat")},
    "sun": [("10:00", "14:00")],
}
PROFILE = {
    "name": "Dr Amina Wanjiru",
    "bio": "General practitioner; family health and follow-ups.",
    "specialties": ["general practice", "family medicine"],
    "languages": ["en", "sw"],
    "modes": ["text", "voice", "video"],
    "timezone": "Africa/Nairobi",
    "weekly": HOURS,
}


def seed(stack: Any) -> list[str]:
    from chalicelib.consult import service
    from chalicelib.consult.settings import settings
    from chalicelib.core.auth import dev_token
    from chalicelib.core.errors import Conflict

    plan = service.create_plan(
        "Standard",
        text_sessions=5,
        voice_calls=2,
        video_calls=1,
        price=150_000,
        currency="KES",
        plan_id="plan_demo_standard",
    )
    with suppress(Conflict):  # seeded before: the credits were granted once
        service.subscribe(PATIENT, plan.plan_id, "demo-seed", "seed")
    with suppress(Conflict):  # seeded before: the doctor is registered
        service.doctors.register(DOCTOR, PROFILE, by="seed", approved=True)
    patient, doctor = dev_token(PATIENT, ["patient"]), dev_token(DOCTOR, ["doctor"])
    return [
        "",
        f"Consultations (docs/consult.md): {PATIENT} has 5 text, 2 voice, 1 video credits, billed "
        f"every {settings().interval_seconds:g} s; {DOCTOR} ({PROFILE['name']}, Nairobi hours) answers",
        f"  export PATIENT={patient}",
        f"  export DOCTOR={doctor}",
        '  curl -s -X POST $API/text-sessions -H "Authorization: Bearer $PATIENT" '
        f'-d \'{{"doctor_id": "{DOCTOR}"}}\'',
    ]
