"""Academies: created once, read, and their settings changed (sessions keep the ones they got)."""

from __future__ import annotations

from typing import Any

from chalicelib.classes.models.items import Academy, academy_key
from chalicelib.core import clock, db


def create_academy(
    academy_id: str, name: str, preparation: float, buffer: float, tolerance: float
) -> Academy:
    now = clock.now()
    pk, sk = academy_key(academy_id)
    item = Academy(
        pk=pk,
        sk=sk,
        academy_id=academy_id,
        name=name,
        preparation_minutes=preparation,
        buffer_minutes=buffer,
        late_tolerance_minutes=tolerance,
        created_at=now,
        updated_at=now,
    )
    if not db.put_if_absent(item):
        raise RuntimeError(f"academy id {academy_id} already taken")  # a fresh ULID: never expected
    return item


def get_academy(academy_id: str) -> Academy | None:
    return db.get_or_none(Academy, *academy_key(academy_id), consistent=True)


def update_academy(academy: Academy, changes: dict[str, Any]) -> bool:
    """Change settings of an existing academy (sessions already scheduled keep theirs)."""
    actions = [getattr(Academy, k).set(v) for k, v in changes.items()]
    return db.update_if(academy, [*actions, Academy.updated_at.set(clock.now())], Academy.pk.exists())
