"""Kept for existing imports: the shared test helpers live in ``tests/support``."""

from tests.support.polling import eventually

__all__ = ["eventually"]
