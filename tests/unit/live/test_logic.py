"""The live feed's pure rules: the frame a console gets, where a connection is reached, how long
its record lives."""

from __future__ import annotations

from chalicelib.live import logic


def test_message_carries_the_event_and_its_product() -> None:
    """Given an EventBridge envelope from muda.hotspot
    When it becomes a frame
    Then the frame holds the event as /admin/events lists it, with its product for the filter."""
    envelope = {
        "id": "e-1",
        "source": "muda.hotspot",
        "detail-type": "PaymentProcessed",
        "time": "2026-12-01T05:00:00Z",
        "detail": {"payment_id": "pay_1"},
    }
    assert logic.message(envelope) == {
        "kind": "event",
        "event": {
            "id": "e-1",
            "source": "muda.hotspot",
            "product": "hotspot",
            "type": "PaymentProcessed",
            "time": "2026-12-01T05:00:00Z",
            "detail": {"payment_id": "pay_1"},
        },
    }


def test_message_of_a_malformed_envelope_is_still_a_frame() -> None:
    """Given an envelope without a dict detail, Then the frame has an empty detail, not an error."""
    frame = logic.message({"source": "muda.x", "detail": "text"})
    assert frame["event"]["detail"] == {} and frame["event"]["product"] == "x"


def test_management_endpoint_is_the_api_the_client_came_through() -> None:
    """Given a connect through API Gateway, Then its @connections API is https://<domain>/<stage>;
    a configured endpoint (the local gateway) wins."""
    assert logic.management_endpoint("abc.execute-api.af-south-1.amazonaws.com", "api") == (
        "https://abc.execute-api.af-south-1.amazonaws.com/api"
    )
    assert logic.management_endpoint("x", "api", "http://127.0.0.1:8011") == "http://127.0.0.1:8011"


def test_a_connection_never_outlives_its_token() -> None:
    """Given a token expiring before API Gateway's 2 h limit, Then the record expires with it;
    else at the limit (a malformed exp is ignored)."""
    assert logic.expires_at(1000.0, 7200, 1600) == 1600
    assert logic.expires_at(1000.0, 7200, 99999) == 8200
    assert logic.expires_at(1000.0, 7200, True) == 8200
    assert logic.expires_at(1000.0, 7200, None) == 8200
