"""The local stack's classes demo, seeded through the service."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from chalice.test import Client

from chalicelib.classes import logic, service
from chalicelib.core import timers
from infra.local import classes as local_classes


def test_the_demo_is_an_academy_two_classes_with_their_timers_and_students_with_credits(
    api: Client, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the stage
    When the classes seed runs
    Then a group and an individual class of teacher-1 are scheduled a few minutes ahead with a
    timer per moment, both students hold their demo credits, and the banner names both classes."""
    monkeypatch.setattr(local_classes, "dev_token", lambda sub, roles: f"token-of-{sub}")  # local stage only
    lines = local_classes.seed(SimpleNamespace(api_url="http://127.0.0.1:8000"))

    ids = list(dict.fromkeys(re.findall(r"\bcl_[0-9a-z]{26}\b", "\n".join(lines))))
    demo = [service.session_or_404(cid) for cid in ids]
    assert len(ids) == 2
    assert sorted(s.kind for s in demo) == ["group", "individual"]
    assert all(s.status == logic.SCHEDULED and s.teacher_id == local_classes.TEACHER for s in demo)
    for session in demo:
        armed = {t.key for t in timers.pending() if session.class_id in t.key}
        assert armed == {logic.timer_key(session.class_id, m, 1) for m in session.schedule.timer_moments()}
    assert [int(service.get_wallet(s).credits) >= 5 for s in local_classes.STUDENTS] == [True, True]
