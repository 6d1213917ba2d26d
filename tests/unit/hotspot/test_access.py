"""The buyer's access state: paid is not online until the router has the user."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chalicelib.hotspot.service.access import SLOW_AFTER_SECONDS, access


def sub(error: str | None = None, attempts: int | None = None) -> SimpleNamespace:
    return SimpleNamespace(provision_error=error, provision_attempts=attempts)


@pytest.mark.parametrize(
    ("public", "subscription", "paid_ago", "state"),
    [
        ("pending", None, None, "waiting"),
        ("paid", sub(), 1.0, "setting_up"),
        ("paid", sub("router refused the connection", 2), 1.0, "slow"),
        ("paid", sub(), SLOW_AFTER_SECONDS + 1, "slow"),
        ("provisioned", sub(None, 3), 1.0, "online"),
        ("provision_failed", sub("down", 6), 60.0, "failed"),
        ("expired", sub(), 9000.0, "ended"),
        ("cancelled", None, None, "none"),
    ],
)
def test_access_follows_the_router_not_the_payment(public, subscription, paid_ago, state) -> None:
    """Given a payment's public state and its subscription as the provisioner left it
    When the buyer's access is worked out
    Then it is online only once provisioned, slow after a failed try or a long wait, failed after the last."""
    now = 1_000_000.0
    result = access(public, subscription, None if paid_ago is None else now - paid_ago, now)
    assert result.state == state
    assert result.message
    if state == "slow" and subscription.provision_attempts:
        assert result.public()["attempts"] == 2 and result.error
    assert "error" not in result.public()  # the router's reason is for the operator only
