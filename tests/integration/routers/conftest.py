"""Router side of the hotspot on in-process moto: the template's tables and queues, a simulated
router reached through librouteros, and the provisioner's handler fed real SQS events."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import librouteros
import pytest

from chalicelib.core.aws import client, queue_url
from chalicelib.core.config import get_settings
from functions.router_provisioner import handler, store
from infra.local.routeros import RouterSimulator
from tests.support.queues import bodies, invoke, receive

ROUTER_ID = "rtr_test1"
PASSWORD = "router-secret-1"


@pytest.fixture
def router() -> Iterator[RouterSimulator]:
    """Given a simulated MikroTik router on a free loopback port."""
    with RouterSimulator(username="muda", password=PASSWORD) as simulated:
        yield simulated


@pytest.fixture
def provisioner(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Given the provisioner pointed at the stage (no waiting between tries unless a test says so)."""
    monkeypatch.setenv("MUDA_ROUTERS_BACKOFF_SECONDS", "0,0,0,0,0")
    monkeypatch.setenv("MUDA_ROUTERS_TIMEOUT_SECONDS", "2")
    store.reset_clients()
    yield
    store.reset_clients()


@pytest.fixture
def registered(provisioner: None, router: RouterSimulator) -> RouterSimulator:
    """Given the router registered as the payments side's admin API does: record + secret."""
    register_router(router, ROUTER_ID)
    return router


def register_router(router: RouterSimulator, router_id: str, name: str = "Demo router") -> None:
    secret_id = f"muda/{get_settings().stage}/hotspot/routers/{router_id}"
    client("secretsmanager").create_secret(
        Name=secret_id, SecretString=json.dumps({"password": router.password})
    )
    table(get_settings().name("hotspot")).put_item(
        Item={
            "pk": f"ROUTER#{router_id}",
            "sk": "ROUTER",
            "gsi1pk": "ROUTERS",
            "gsi1sk": router_id,
            "router_id": router_id,
            "name": name,
            "host": router.host,
            "port": router.port,
            "username": router.username,
            "password_secret": secret_id,
            "login_url": "http://10.5.50.1/login",
            "status": "unknown",
            "created_at": 1_700_000_000,
        }
    )


def table(name: str) -> Any:
    import boto3

    return boto3.resource("dynamodb", region_name=get_settings().region).Table(name)


def hotspot_item(pk: str, sk: str) -> dict[str, Any]:
    return table(get_settings().name("hotspot")).get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True)[
        "Item"
    ]


def put_subscription(subscription_id: str, version: int = 1, status: str = "pending", **extra: Any) -> None:
    table(get_settings().name("hotspot")).put_item(
        Item={
            "pk": f"SUB#{subscription_id}",
            "sk": "SUB",
            "subscription_id": subscription_id,
            "router_id": ROUTER_ID,
            "username": f"u{subscription_id[-6:]}",
            "provision_status": status,
            "provision_version": version,
            **extra,
        }
    )


def provision_command(
    subscription_id: str = "sub_000001", version: int = 1, **changes: Any
) -> dict[str, Any]:
    return {
        "action": "provision",
        "subscription_id": subscription_id,
        "router_id": ROUTER_ID,
        "version": version,
        "username": "u254700000001",
        "password": "pw-123456",
        "profile": {"name": "muda-pkg_1h", "rate_limit": "2M/2M", "shared_users": 1, "session_timeout": "1h"},
        "limit_uptime": "1h",
        "limit_bytes_total": 1073741824,
        "comment": f"muda {subscription_id} until 2026-11-25T15:00:00Z",
        "mac": "AA:BB:CC:DD:EE:01",
        "ip": "10.5.50.23",
        **changes,
    }


def send(command: dict[str, Any] | str) -> str:
    body = command if isinstance(command, str) else json.dumps(command)
    name = get_settings().name("provisioning")
    return client("sqs").send_message(QueueUrl=queue_url(name), MessageBody=body)["MessageId"]


def deliver(max_messages: int = 10) -> dict[str, Any] | None:
    """One Lambda invocation as the SQS event source makes it: receive, invoke, delete what the
    handler did not report as failed. ``None`` when nothing was visible."""
    messages = receive("provisioning", max_messages=max_messages)
    if not messages:
        return None
    return invoke(handler.handle, "provisioning", messages)


def dead_letters() -> list[dict[str, Any]]:
    url = queue_url(get_settings().name("provisioning") + "-dlq")
    return (
        client("sqs")
        .receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        .get("Messages", [])
    )


@pytest.fixture
def bus_events(aws: None) -> Callable[[], list[dict[str, Any]]]:
    """The domain events put on the bus (read from the events queue the bus rule feeds)."""
    seen: list[dict[str, Any]] = []

    def read() -> list[dict[str, Any]]:
        seen.extend(bodies("events"))
        return seen

    return read


def router_api(router: RouterSimulator) -> Any:
    return librouteros.connect(router.host, router.username, router.password, port=router.port, timeout=3)


@pytest.fixture(autouse=True)
def _empty_world(fresh_stack: object) -> None:
    """These tests register the fixed router rtr_test1 (its secret can be created once) and
    health-check every registered router: each starts on a freshly deployed stack."""
