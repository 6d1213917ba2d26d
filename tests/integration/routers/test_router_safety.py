"""Safety on the router and moving an access, on in-process moto and the simulator through
librouteros: the operator's hand-made users are never taken over nor removed, and a command with
``previous_mac`` logs the old device out (API mode) or disconnects it (RADIUS mode)."""

from __future__ import annotations

import json
from typing import Any

from librouteros.query import Key

from chalicelib.core.aws import client
from chalicelib.core.config import get_settings
from chalicelib.ops import queues as ops_queues
from infra.local.routeros import RouterSimulator
from tests.integration.routers.conftest import (
    PASSWORD,
    ROUTER_ID,
    deliver,
    hotspot_item,
    provision_command,
    put_subscription,
    register_router,
    router_api,
    send,
    table,
)

OLD, NEW = "AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02"
USER = "u254700000001"


def operator_adds_user(api: Any, **attrs: str) -> None:
    """What an operator does in Winbox: a hotspot user by hand, with its own comment."""
    api.path("ip", "hotspot", "user").add(name=USER, password="operator-pw", comment="staff phone", **attrs)


def rows(api: Any, *path: str) -> list[dict[str, Any]]:
    return list(api.path("ip", "hotspot", *path))


def devices(api: Any, *path: str) -> list[str]:
    return sorted(r["mac-address"] for r in rows(api, *path))


def test_a_hand_made_user_is_not_overwritten_and_the_conflict_is_shown_once(registered, bus_events):
    """Given the operator's hand-made hotspot user with the buyer's username
    When the provisioning command comes, and comes again (a duplicate delivery)
    Then the user keeps its password and comment, nothing is added; the subscription is
    provision_failed with a 'conflict: …' reason naming router and user; ProvisioningFailed
    (conflict: true) is published once; the command is not retried but waits in the DLQ with the
    reason; and once the operator removes the user, the redriven command provisions it."""
    api = router_api(registered)
    operator_adds_user(api)
    put_subscription("sub_000001")
    send(provision_command())

    assert deliver() == {"batchItemFailures": []}
    assert deliver() is None  # no retry
    send(provision_command())
    assert deliver() == {"batchItemFailures": []}

    [user] = rows(api, "user")
    assert (user["password"], user["comment"]) == ("operator-pw", "staff phone")
    assert [p["name"] for p in rows(api, "user", "profile")] == ["default"]
    assert rows(api, "active") == []
    sub = hotspot_item("SUB#sub_000001", "SUB")
    assert sub["provision_status"] == "provision_failed"
    assert sub["provision_error"].startswith("conflict: router 'Demo router' rtr_test1")
    assert f"'{USER}'" in sub["provision_error"] and "staff phone" in sub["provision_error"]
    [failed] = [e for e in bus_events() if e["detail-type"] == "ProvisioningFailed"]
    assert failed["detail"]["conflict"] is True
    assert (failed["detail"]["subscription_id"], failed["detail"]["error"]) == (
        "sub_000001",
        sub["provision_error"],
    )
    dead = ops_queues.dead_letters("muda-test-provisioning")
    assert len(dead) == 2 and all(d.error == sub["provision_error"] for d in dead)  # `muda failed list`

    api.path("ip", "hotspot", "user").remove(user[".id"])  # the operator acts
    assert ops_queues.redrive(queue="muda-test-provisioning") == 2  # `muda failed retry --all`
    while deliver() is not None:
        pass
    [user] = rows(api, "user")
    assert (user["password"], user["comment"][:5]) == ("pw-123456", "muda ")
    assert hotspot_item("SUB#sub_000001", "SUB")["provision_status"] == "provisioned"
    assert len([e for e in bus_events() if e["detail-type"] == "ProvisioningFailed"]) == 1


def test_deprovision_leaves_a_hand_made_user_its_session_and_cookie(registered):
    """Given the operator's hand-made user of that name, logged in on his device (session and cookie)
    When Muda's deprovision for that username runs
    Then the user, its session and its cookie stay; the subscription is deprovisioned."""
    api = router_api(registered)
    operator_adds_user(api)
    list(
        api(
            "/ip/hotspot/active/login",
            user=USER,
            password="operator-pw",
            ip="10.5.50.9",
            **{"mac-address": OLD},
        )
    )
    put_subscription("sub_000001", status="provisioned")
    send(
        {
            "action": "deprovision",
            "subscription_id": "sub_000001",
            "router_id": ROUTER_ID,
            "version": 1,
            "username": USER,
            "mac": None,
        }
    )

    assert deliver() == {"batchItemFailures": []}

    assert [u["comment"] for u in rows(api, "user")] == ["staff phone"]
    assert (devices(api, "active"), devices(api, "cookie")) == ([OLD], [OLD])
    assert hotspot_item("SUB#sub_000001", "SUB")["provision_status"] == "deprovisioned"


def test_a_moved_access_logs_the_old_device_out_and_a_repeat_changes_nothing(registered, bus_events):
    """Given an access provisioned and logged in on the old device (session and MAC cookie)
    When it moves to a new device (version 2, mac = new, previous_mac = old), and the same command
    runs again after a lost record write
    Then the old device's session and cookie are gone, the new device is logged in with its cookie,
    the user is bound to the new MAC; the repeat leaves the router as it was."""
    put_subscription("sub_000001")
    send(provision_command(mac=OLD))
    deliver()
    api = router_api(registered)
    assert (devices(api, "active"), devices(api, "cookie")) == ([OLD], [OLD])

    moved = provision_command(version=2, mac=NEW, ip="10.5.50.24", previous_mac=OLD)
    put_subscription("sub_000001", version=2)
    send(moved)
    assert deliver() == {"batchItemFailures": []}

    assert (devices(api, "active"), devices(api, "cookie")) == ([NEW], [NEW])
    [user] = api.path("ip", "hotspot", "user").select().where(Key("name") == USER)
    assert user["mac-address"] == NEW
    assert hotspot_item("SUB#sub_000001", "SUB")["provision_status"] == "provisioned"

    def router_now() -> dict[str, Any]:
        skip = {".id", "uptime", "expires-in"}
        return {
            p: [{k: v for k, v in r.items() if k not in skip} for r in rows(api, p)]
            for p in ("user", "active", "cookie")
        }

    before = router_now()
    put_subscription("sub_000001", version=2)  # as if the first run's provisioned write was lost
    send(moved)
    assert deliver() == {"batchItemFailures": []}
    assert router_now() == before


def test_a_moved_access_on_a_radius_router_disconnects_the_old_device_once(
    provisioner, monkeypatch, bus_events
):
    """Given a RADIUS-mode router with the user's sessions from the old and the new device
    When the command moving the access to the new device comes twice (a duplicate delivery)
    Then one Disconnect-Request goes out, for the user on the old MAC (User-Name +
    Calling-Station-Id): only the old session ends; the subscription is provisioned. A re-run
    after a lost write finds the old device gone: NAK 503 (not online), harmless."""
    monkeypatch.setenv("MUDA_ROUTERS_RADIUS_TIMEOUT_SECONDS", "0.5")
    with RouterSimulator(
        username="muda", password=PASSWORD, radius_port=0, radius_secret="nas-s3cret"
    ) as nas:
        register_router(nas, ROUTER_ID)
        secret_id = f"muda/{get_settings().stage}/hotspot/routers/{ROUTER_ID}/radius"
        client("secretsmanager").create_secret(
            Name=secret_id, SecretString=json.dumps({"secret": "nas-s3cret"})
        )
        table(get_settings().name("hotspot")).update_item(
            Key={"pk": f"ROUTER#{ROUTER_ID}", "sk": "ROUTER"},
            UpdateExpression="SET #m = :radius, coa_port = :port, radius_secret = :secret",
            ExpressionAttributeNames={"#m": "mode"},
            ExpressionAttributeValues={":radius": "radius", ":port": nas.radius_port, ":secret": secret_id},
        )
        with nas.state.lock:
            for item, mac in (("*A1", OLD), ("*A2", NEW)):
                nas.state.menus["/ip/hotspot/active"].rows[item] = {
                    ".id": item,
                    "user": USER,
                    "mac-address": mac,
                }
        put_subscription("sub_000001")
        send(provision_command(previous_mac=OLD, mac=NEW))
        send(provision_command(previous_mac=OLD, mac=NEW))

        while deliver() is not None:
            pass

        assert [(d["user"], d["mac"], d["removed"]) for d in nas.radius.disconnects] == [(USER, OLD, 1)]
        assert [r["mac-address"] for r in nas.state.rows("/ip/hotspot/active")] == [NEW]
        sub = hotspot_item("SUB#sub_000001", "SUB")
        assert (sub["provision_status"], sub["radius_disconnect_result"]) == ("provisioned", "ack")
        assert nas.state.commands == 0  # nothing pushed through the API

        put_subscription("sub_000001")  # as if the first run's provisioned write was lost
        send(provision_command(previous_mac=OLD, mac=NEW))
        assert deliver() == {"batchItemFailures": []}
        assert [(d["mac"], d["removed"]) for d in nas.radius.disconnects] == [(OLD, 1), (OLD, 0)]
        sub = hotspot_item("SUB#sub_000001", "SUB")
        assert (sub["provision_status"], sub["radius_disconnect_cause"]) == ("provisioned", 503)
        assert [r["mac-address"] for r in nas.state.rows("/ip/hotspot/active")] == [NEW]
