"""Waiting room: event-driven admission under a cap, with RS256 checkout tokens."""
