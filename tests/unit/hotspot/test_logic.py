"""Hotspot rules and the Daraja payloads, without AWS."""

from __future__ import annotations

import pytest

from chalicelib.hotspot import logic


def test_mac_addresses() -> None:
    assert logic.normalize_mac("aa-bb-cc-dd-ee-0f") == "AA:BB:CC:DD:EE:0F"
    for bad in ("", "AA:BB:CC:DD:EE", "GG:BB:CC:DD:EE:FF", "AABBCCDDEEFF"):
        with pytest.raises(logic.InvalidInput):
            logic.normalize_mac(bad)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (3600, "1h"), (5400, "1h30m"), (90061, "1d1h1m1s"), (604800, "1w")],
)
def test_routeros_durations(seconds: int, text: str) -> None:
    assert logic.routeros_duration(seconds) == text


def test_renewal_extends_from_the_later_of_now_and_expiry() -> None:
    """Given an active term ending at 1000 with caps, when renewed at 400, then it ends at 1000 +
    validity and the caps add up; an expired term starts afresh."""
    current = logic.Term(0, 1000, 3600, 10)
    renewed = logic.purchase_term(400, 3600, 3600, 5, current)
    assert renewed == logic.Term(0, 4600, 7200, 15)
    assert logic.purchase_term(2000, 3600, None, None, current) == logic.Term(2000, 5600, None, None)
    assert logic.purchase_term(400, 3600, 3600, None, current).limit_bytes_total is None


PACKAGE = {"validity_seconds": 3600, "limit_uptime_seconds": 1800, "limit_bytes_total": None}


def test_a_first_purchase_plans_a_new_subscription_at_version_1() -> None:
    """Given no active subscription, when a package is bought, then a new term from now, v1."""
    plan = logic.plan_purchase(1000.0, PACKAGE)
    assert plan == logic.Purchase(logic.Term(1000.0, 4600.0, 1800, None), renewal=False, version=1)


def test_a_purchase_while_active_extends_it_at_its_next_version() -> None:
    """Given an active term at provisioning version 3, when bought again, then it is extended
    (validity and uptime add up) and version 4 is commanded."""
    active = logic.Term(0.0, 2000.0, 600, None)
    plan = logic.plan_purchase(1000.0, PACKAGE, active, active_version=3)
    assert plan == logic.Purchase(logic.Term(0.0, 5600.0, 2400, None), renewal=True, version=4)


def test_only_an_unexpired_active_subscription_is_extended() -> None:
    assert logic.still_active(logic.ACTIVE, 1001.0, 1000.0)
    assert not logic.still_active(logic.ACTIVE, 1000.0, 1000.0)
    assert not logic.still_active(logic.EXPIRED, 5000.0, 1000.0)


def test_provision_command_has_the_contract_shape() -> None:
    term = logic.Term(0, 3600, 1800, 1073741824)
    command = logic.provision_command(
        subscription_id="sub_1",
        router_id="rtr_1",
        version=3,
        username="m712345678",
        password="pw",
        package_id="pkg_1",
        rate_limit="2M/2M",
        shared_users=1,
        term=term,
        now=0,
        mac=None,
        ip=None,
    )
    assert command["profile"] == {
        "name": "muda-pkg_1",
        "rate_limit": "2M/2M",
        "shared_users": 1,
        "session_timeout": "1h",
    }
    assert command["limit_uptime"] == "30m" and command["limit_bytes_total"] == 1073741824
    assert command["comment"] == "muda sub_1 until 1970-01-01T01:00:00Z" and command["version"] == 3


def test_public_state() -> None:
    assert logic.public_state("pending", None, None, None) == "pending"
    assert logic.public_state("paid", "pending", 1, 1) == "paid"
    assert logic.public_state("paid", "provisioned", 1, 1) == "provisioned"
    assert logic.public_state("paid", "pending", 1, 2) == "provisioned"
    assert logic.public_state("paid", "provision_failed", 1, 1) == "provision_failed"
    assert logic.public_state("cancelled", None, None, None) == "cancelled"
