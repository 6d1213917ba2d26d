"""Consultations: metered text and call sessions, appointments without double booking."""
