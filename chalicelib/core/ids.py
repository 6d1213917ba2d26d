"""Identifiers: time-ordered, URL-safe, unique without coordination."""

from __future__ import annotations

import os
import time

# The event detail field that names an event for good (the outbox sets it; a republished event is
# the same event, and consumers deduplicate on it). A product's own fields never collide with it.
IDEMPOTENCY_KEY = "idempotency_key"

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def new_id(prefix: str = "") -> str:
    """A 26-character ULID-like id (48-bit ms timestamp + 80 random bits), optionally prefixed."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return prefix + "".join(reversed(chars))
