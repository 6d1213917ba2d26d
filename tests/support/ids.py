"""Unique ids per test: tests share one deployed stack and keep apart by never reusing an id."""

from __future__ import annotations

import uuid


def unique(prefix: str = "t") -> str:
    """``prefix`` and 10 random hex digits, e.g. ``doc-3f9a0c1b2d`` (valid in keys, paths, ARNs)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
