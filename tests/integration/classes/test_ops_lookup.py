"""The console's class look-up: the class and its explanation, as JSON."""

from __future__ import annotations

from tests.integration.classes.conftest import Classes

MIN = 60


def test_the_console_explains_a_class(classes: Classes) -> None:
    """Given a scheduled class
    When an admin looks it up in the console
    Then the answer carries the class and explain's moments, timers, history and why."""
    academy = classes.academy()
    cid = classes.create(academy, 20 * MIN, ["student-1"], kind="group").json_body["id"]

    response = classes.call("GET", f"/admin/lookup/classes/{cid}", "ops-1", "admin")

    assert response.status_code == 200, response.json_body
    body = response.json_body
    assert body["class"]["class_id"] == cid and body["class"]["status"] == "scheduled"
    explain = body["explain"]
    assert {"moments", "timers", "history", "attendance", "why"} <= set(explain)
    assert explain["why"].startswith("scheduled until") and explain["timers"]
