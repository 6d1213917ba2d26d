"""Which inbox items an event makes."""

from __future__ import annotations

from chalicelib.notifications import logic


def envelope(**detail) -> dict:
    return {
        "id": "e-1",
        "source": "muda.consult",
        "detail-type": "CallFailed",
        "time": "2026-11-25T10:00:00Z",
        "detail": detail,
    }


def test_one_delivery_per_distinct_recipient_with_a_stable_time_ordered_id() -> None:
    found = logic.deliveries(
        envelope(
            recipients=["a", "b", "a", 7, ""],
            message="hi",
            session_id="s",
            occurred_at="2026-11-25T10:00:00.250+00:00",
        )
    )
    assert [d.recipient for d in found] == ["a", "b"]
    assert (
        found[0].notification_id
        == "1795600800.250000-e-1"
        == logic.deliveries(envelope(recipients=["a"], occurred_at="2026-11-25T10:00:00.250+00:00"))[
            0
        ].notification_id
    )
    assert found[0].message == "hi" and found[0].detail == {
        "session_id": "s",
        "occurred_at": "2026-11-25T10:00:00.250+00:00",
    }


def test_no_recipients_no_deliveries() -> None:
    assert logic.deliveries(envelope()) == []
    assert logic.deliveries(envelope(recipients="a")) == []
    assert logic.deliveries({"id": "x", "detail": "nope"}) == []


def test_time_falls_back_to_the_envelope_and_ignores_naive_or_bad_stamps() -> None:
    assert logic.occurred_at(envelope(occurred_at="2026-11-25T10:00:00")) == 1795600800.0
    assert logic.occurred_at(envelope(occurred_at="garbage")) == 1795600800.0
    assert logic.occurred_at({"detail": {}}) == 0.0
