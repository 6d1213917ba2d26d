"""Binding a paid access to a device (a Paybill claim, a reconnect), the receipt as typed, and
the provisioning command's ``previous_mac``, without AWS."""

from __future__ import annotations

import pytest

from chalicelib.hotspot import logic

A, B = "AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02"


@pytest.mark.parametrize(
    ("current", "shared", "move", "kind", "previous"),
    [
        (A, 1, True, "same", None),  # the same device again: the command re-sent, nothing written
        (A, 1, False, "same", None),
        (None, 1, False, "first", None),  # a Paybill payment's first device
        (None, 1, True, "first", None),
        (B, 1, True, "moved", B),  # one device: the old one's session removed
        (B, 3, True, "moved", None),  # shared: the old device may stay
        (B, 3, False, "shared", None),  # a claim on a shared access: log in with the credentials
    ],
)
def test_binding_an_access_to_a_device(
    current: str | None, shared: int, move: bool, kind: str, previous: str | None
) -> None:
    plan = logic.bind(current, A, shared, move)
    assert (plan.kind, plan.previous_mac) == (kind, previous)
    assert plan.writes == (kind in ("first", "moved"))


def test_a_claim_of_a_one_device_access_held_by_another_device_is_refused() -> None:
    """Given a one-device access on device B
    When device A claims it (not a reconnect)
    Then AlreadyClaimed: that buyer moves it with the receipt instead."""
    with pytest.raises(logic.AlreadyClaimed):
        logic.bind(B, A, 1, move=False)


@pytest.mark.parametrize(
    ("typed", "receipt"), [("nlj7rt61sv", "NLJ7RT61SV"), (" NLJ7 RT61SV ", "NLJ7RT61SV")]
)
def test_a_receipt_is_read_in_any_case_without_spaces(typed: str, receipt: str) -> None:
    assert logic.normalize_receipt(typed) == receipt


@pytest.mark.parametrize("typed", ["", "ABC", "NLJ7RT61S!", "X" * 21, "NLJ7-RT61SV"])
def test_a_malformed_receipt_is_invalid_input(typed: str) -> None:
    with pytest.raises(logic.InvalidInput):
        logic.normalize_receipt(typed)


def test_the_command_names_the_previous_device_only_when_the_access_moved() -> None:
    """Given a provisioning command
    When built for a move from B, and for anything else
    Then the first carries "previous_mac": B beside "mac"; the other has no previous_mac key
    (absent means none, as in commands from before the field)."""
    term = logic.Term(0, 3600, None, None)
    common = dict(
        subscription_id="sub_1",
        router_id="rtr_1",
        version=2,
        username="u",
        password="p",
        package_id="pkg_1",
        rate_limit=None,
        shared_users=1,
        term=term,
        now=0,
        mac=A,
        ip=None,
    )
    moved = logic.provision_command(**common, previous_mac=B)
    assert (moved["mac"], moved["previous_mac"]) == (A, B)
    assert "previous_mac" not in logic.provision_command(**common)


@pytest.mark.parametrize(
    ("status", "provision_status", "state"),
    [
        ("active", "pending", "paid"),
        ("active", "provisioned", "provisioned"),
        ("active", "provision_failed", "provision_failed"),
        ("expired", "provisioned", "expired"),  # ended before the router was told
        ("expired", "deprovisioned", "expired"),
    ],
)
def test_the_access_view_state_of_a_subscription(status: str, provision_status: str, state: str) -> None:
    assert logic.subscription_state(status, provision_status, 2) == state
