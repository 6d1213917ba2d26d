"""e2e: the local stack's event runtime runs the router provisioner against the RouterOS simulator,
through its failure path: a router down past the last try sends the command to the DLQ, and a
redrive once it is back provisions the user (read back through librouteros). The provisioning
walk itself is in the hotspot's tests (the burst, the browser purchase).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import librouteros
import pytest
from librouteros.query import Key

from chalicelib.core.aws import client, queue_url
from chalicelib.core.config import get_settings
from infra.local.routeros import SimulatorControl
from infra.local.stack import LocalStack
from tests.e2e.conftest import WAIT
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def router(stack: LocalStack) -> Iterator[dict[str, Any]]:
    """Given the stack's simulated router registered under a fresh id (record + password secret)."""
    env = stack.env
    router_id = f"rtr_e2e{uuid.uuid4().hex[:8]}"
    secret = f"muda/{get_settings().stage}/hotspot/routers/{router_id}"
    client("secretsmanager").create_secret(
        Name=secret, SecretString=json.dumps({"password": env["MUDA_LOCAL_ROUTER_PASSWORD"]})
    )
    record = {
        "pk": f"ROUTER#{router_id}",
        "sk": "ROUTER",
        "gsi1pk": "ROUTERS",
        "gsi1sk": router_id,
        "router_id": router_id,
        "name": "e2e router",
        "host": env["MUDA_LOCAL_ROUTER_HOST"],
        "port": int(env["MUDA_LOCAL_ROUTER_PORT"]),
        "username": env["MUDA_LOCAL_ROUTER_USERNAME"],
        "password_secret": secret,
        "login_url": "http://10.5.50.1/login",
        "status": "unknown",
        "created_at": 1_700_000_000,
    }
    hotspot().put_item(Item=record)
    control = SimulatorControl(env["MUDA_LOCAL_ROUTER_CONTROL_URL"])
    yield {**record, "control": control}
    control.faults(down=False, slow=0, refuse_login=False, trap_on_add=None)
    hotspot().delete_item(Key={"pk": record["pk"], "sk": "ROUTER"})  # the health check stops probing it


def hotspot() -> Any:
    import boto3

    return boto3.resource("dynamodb", region_name=get_settings().region).Table(get_settings().name("hotspot"))


def subscription(subscription_id: str) -> dict[str, Any]:
    return hotspot().get_item(Key={"pk": f"SUB#{subscription_id}", "sk": "SUB"}, ConsistentRead=True)["Item"]


def order(router: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """A pending subscription and its provisioning command, as the payments side queues them."""
    subscription_id = f"sub_{uuid.uuid4().hex[:10]}"
    username = f"u{uuid.uuid4().hex[:8]}"
    hotspot().put_item(
        Item={
            "pk": f"SUB#{subscription_id}",
            "sk": "SUB",
            "router_id": router["router_id"],
            "username": username,
            "provision_status": "pending",
            "provision_version": 1,
        }
    )
    command = {
        "action": "provision",
        "subscription_id": subscription_id,
        "router_id": router["router_id"],
        "version": 1,
        "username": username,
        "password": "pw-e2e",
        "profile": {"name": "muda-e2e", "rate_limit": "2M/2M", "shared_users": 1, "session_timeout": "1h"},
        "limit_uptime": "1h",
        "limit_bytes_total": None,
        "comment": f"muda {subscription_id}",
        "mac": f"AA:BB:CC:{uuid.uuid4().hex[:2]}:{uuid.uuid4().hex[:2]}:01".upper(),
        "ip": "10.5.50.77",
    }
    return subscription_id, username, command


def send(command: dict[str, Any]) -> None:
    client("sqs").send_message(
        QueueUrl=queue_url(get_settings().name("provisioning")), MessageBody=json.dumps(command)
    )


def on_router(stack: LocalStack, path: tuple[str, ...], **where: str) -> list[dict[str, Any]]:
    env = stack.env
    api = librouteros.connect(
        env["MUDA_LOCAL_ROUTER_HOST"],
        env["MUDA_LOCAL_ROUTER_USERNAME"],
        env["MUDA_LOCAL_ROUTER_PASSWORD"],
        port=int(env["MUDA_LOCAL_ROUTER_PORT"]),
        timeout=3,
    )
    try:
        query = api.path(*path).select()
        return list(query.where(*(Key(k) == v for k, v in where.items())))
    finally:
        api.close()


def status_is(subscription_id: str, status: str) -> Any:
    return lambda: subscription(subscription_id).get("provision_status") == status


def test_down_past_the_last_try_then_redriven(stack: LocalStack, router: dict[str, Any]):
    """Given the router down for good
    When every try has failed
    Then the subscription is provision_failed with the reason and the command is in the DLQ;
    redriven (`muda failed retry`) once the router is back, the user is provisioned."""
    from chalicelib.ops import queues as ops_queues

    subscription_id, username, command = order(router)
    router["control"].faults(down=True)
    send(command)

    eventually(status_is(subscription_id, "provision_failed"), timeout=WAIT, what="provision_failed")
    assert "refused the connection" in subscription(subscription_id)["provision_error"]
    queue = get_settings().name("provisioning")
    dead = eventually(
        lambda: [d for d in ops_queues.dead_letters(queue) if subscription_id in d.body],
        timeout=WAIT,
        what="in DLQ",
    )
    assert "refused the connection" in dead[0].error

    router["control"].faults(down=False)
    assert ops_queues.redrive(dead[0].message_id, queue) == 1
    eventually(status_is(subscription_id, "provisioned"), timeout=WAIT, what="provisioned after redrive")
    assert on_router(stack, ("ip", "hotspot", "user"), name=username)
