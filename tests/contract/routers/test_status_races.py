"""The provisioner's conditional writes on DynamoDB Local: racing tries and checks change a
record once, and a stale command never overwrites a newer one."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from functions.router_provisioner import store as store_module
from functions.router_provisioner.config import Settings
from functions.router_provisioner.logic import Command
from functions.router_provisioner.router import Router
from functions.router_provisioner.store import Store
from tests.support.races import race

pytestmark = pytest.mark.contract


@pytest.fixture
def store(tables: list[str], dynamodb_local: str) -> Iterator[Store]:
    """Given the provisioner's store on DynamoDB Local's copy of the template's tables."""
    store_module.reset_clients()
    yield Store(Settings(stage="test"))
    store_module.reset_clients()


def table():
    return boto3.resource("dynamodb", region_name="us-east-1").Table("muda-test-hotspot")


def subscription(subscription_id: str, version: int, status: str = "pending") -> Command:
    table().put_item(
        Item={
            "pk": f"SUB#{subscription_id}",
            "sk": "SUB",
            "provision_status": status,
            "provision_version": version,
        }
    )
    return Command("provision", subscription_id, "rtr_1", version, "u1")


def read(subscription_id: str) -> dict:
    return table().get_item(Key={"pk": f"SUB#{subscription_id}", "sk": "SUB"}, ConsistentRead=True)["Item"]


def test_racing_tries_provision_once(store: Store):
    """Given a pending subscription
    When 12 duplicate tries mark it provisioned at the same moment
    Then exactly one wins (and owes the one UserProvisioned event)."""
    command = subscription("sub_race1", 1)
    wins = race(lambda: store.mark_provisioned(command, 1), n=12, strict=True)
    assert wins.count(True) == 1
    item = read("sub_race1")
    assert (item["provision_status"], item["provision_event"]) == ("provisioned", "UserProvisioned")


def test_success_and_give_up_race_success_stays(store: Store):
    """Given a pending subscription
    When a success and a last-try failure race, many times over
    Then once provisioned it is never turned into provision_failed."""
    command = subscription("sub_race2", 1)
    results = race(
        lambda: (store.mark_provisioned(command, 2), store.mark_failed(command, "router down", 6)),
        n=10,
        strict=True,
    )
    assert sum(won for won, _ in results) == 1
    assert read("sub_race2")["provision_status"] == "provisioned"


def test_stale_version_never_writes(store: Store):
    """Given a subscription renewed to version 2
    When version-1 tries race to mark it provisioned or failed
    Then nothing changes."""
    subscription("sub_race3", 2)
    stale = Command("provision", "sub_race3", "rtr_1", 1, "u1")
    results = race(
        lambda: (store.mark_provisioned(stale, 1), store.mark_failed(stale, "x", 6)), n=6, strict=True
    )
    assert results == [(False, False)] * 6
    assert read("sub_race3")["provision_status"] == "pending"


def test_deprovision_once_after_provision(store: Store):
    """Given a provisioned subscription
    When 8 duplicate deprovision tries race
    Then one wins; a late provision of the same version can no longer bring it back."""
    command = subscription("sub_race4", 3, status="provisioned")
    deprovision = Command("deprovision", "sub_race4", "rtr_1", 3, "u1")
    assert race(lambda: store.mark_deprovisioned(deprovision, 1), n=8, strict=True).count(True) == 1
    assert store.mark_provisioned(command, 1) is False
    assert read("sub_race4")["provision_status"] == "deprovisioned"


def test_racing_health_checks_report_one_change(store: Store):
    """Given an online router
    When 10 health checks see it down at once, then 10 see it up
    Then exactly one of each batch reports the change (one RouterOffline, one RouterOnline)."""
    table().put_item(
        Item={
            "pk": "ROUTER#rtr_race",
            "sk": "ROUTER",
            "router_id": "rtr_race",
            "status": "online",
            "gsi1pk": "ROUTERS",
            "gsi1sk": "rtr_race",
            "host": "127.0.0.1",
            "port": 8728,
            "username": "muda",
            "password_secret": "secret",
        }
    )
    router = Router("rtr_race", "race", "127.0.0.1", 8728, "muda", "secret")
    down = race(lambda: store.set_router_status(router, False, "refused"), n=10, strict=True)
    assert [d for d in down if d is not None] == ["online"]
    up = race(lambda: store.set_router_status(router, True, None), n=10, strict=True)
    assert [u for u in up if u is not None] == ["offline"]
    item = table().get_item(Key={"pk": "ROUTER#rtr_race", "sk": "ROUTER"})["Item"]
    assert item["status"] == "online" and "status_error" not in item and item["last_seen_at"] > 0
    half = {"pk": "ROUTER#half", "sk": "ROUTER", "router_id": "half", "gsi1pk": "ROUTERS", "gsi1sk": "half"}
    table().put_item(Item=half)
    assert [r.router_id for r in store.routers()] == ["rtr_race"]  # a half-written record is skipped
