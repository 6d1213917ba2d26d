"""Consult API routes: plans and credits (``credits``), text sessions and calls (``sessions``),
appointments (``appointments``), the doctor registry, hours, slots and presence (``doctors``),
earnings statements (``earnings``). Thin: parse, call ``service``, shape the answer (``shapes``).
Only a consultation's patient and doctor act on it; admins see all."""

from __future__ import annotations

from chalicelib.core.http import Api

api = Api(__name__, tag="consult")
ADMIN = ("admin",)
PATIENT = ("patient",)
PARTIES = ("patient", "doctor", "admin")

# The route modules register their routes on ``api`` as they are imported.
from chalicelib.consult.api import appointments, credits, doctors, earnings, sessions  # noqa: E402

__all__ = ["ADMIN", "PARTIES", "PATIENT", "api", "appointments", "credits", "doctors", "earnings", "sessions"]
