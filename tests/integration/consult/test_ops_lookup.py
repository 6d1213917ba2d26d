"""The console's consultation look-up: the session and its ledger, as JSON."""

from __future__ import annotations


def test_the_console_shows_a_session_with_its_ledger(users, credits) -> None:
    """Given an active text session (the patient opened it, the doctor answered)
    When an admin looks it up in the console
    Then the answer carries the session and its ledger; a patient may not use the console's route."""
    credits(3)
    sid = users["patient"]("POST", "/text-sessions", {"doctor_id": users["doctor"].sub})[1]["id"]
    users["doctor"]("POST", f"/text-sessions/{sid}/messages", {"body": "hi"})

    status, body = users["admin"]("GET", f"/admin/lookup/consult/{sid}")

    assert status == 200, body
    assert body["session"]["id"] == sid and body["session"]["status"] == "active"
    assert body["ledger"] == users["admin"]("GET", f"/text-sessions/{sid}/ledger")[1]
    assert users["patient"]("GET", f"/admin/lookup/consult/{sid}")[0] == 403
