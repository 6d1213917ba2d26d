"""The provisioner against a simulated router through librouteros, on in-process moto."""

from __future__ import annotations

import json
import threading
import uuid

from librouteros.query import Key

from chalicelib.core.config import get_settings
from functions.router_provisioner import handler
from infra.local.routeros import RouterSimulator
from tests.integration.routers.conftest import (
    PASSWORD,
    dead_letters,
    deliver,
    hotspot_item,
    provision_command,
    put_subscription,
    register_router,
    router_api,
    send,
    table,
)


def test_provision_creates_profile_and_user_with_limits(registered: RouterSimulator, bus_events):
    """Given a pending subscription and its provisioning command on the queue
    When the provisioner runs
    Then the router has the profile (rate limit, shared users) and the user (password, limits,
    MAC, comment), the device is logged in, the subscription is provisioned and UserProvisioned
    is emitted once."""
    put_subscription("sub_000001")
    send(provision_command())

    assert deliver() == {"batchItemFailures": []}

    api = router_api(registered)
    [profile] = api.path("ip", "hotspot", "user", "profile").select().where(Key("name") == "muda-pkg_1h")
    assert (profile["rate-limit"], profile["shared-users"], profile["session-timeout"]) == ("2M/2M", 1, "1h")
    [user] = api.path("ip", "hotspot", "user").select().where(Key("name") == "u254700000001")
    assert user["password"] == "pw-123456"
    assert user["profile"] == "muda-pkg_1h"
    assert user["limit-uptime"] == "1h"
    assert user["limit-bytes-total"] == 1073741824
    assert user["mac-address"] == "AA:BB:CC:DD:EE:01"
    assert "sub_000001" in user["comment"]
    [active] = api.path("ip", "hotspot", "active")
    assert (active["user"], active["address"]) == ("u254700000001", "10.5.50.23")

    sub = hotspot_item("SUB#sub_000001", "SUB")
    assert sub["provision_status"] == "provisioned"
    assert sub["provision_attempts"] == 1
    assert "provision_event" not in sub
    events = [e for e in bus_events() if e["source"] == "muda.hotspot"]
    assert [e["detail-type"] for e in events] == ["UserProvisioned"]
    assert events[0]["detail"]["subscription_id"] == "sub_000001"


def test_duplicate_commands_leave_one_user(registered: RouterSimulator, bus_events):
    """Given the same provisioning command three times on the queue (at-least-once delivery)
    When the provisioner runs them, in one batch and again later
    Then the router has one user and one profile, and one UserProvisioned was emitted."""
    put_subscription("sub_000001")
    for _ in range(3):
        send(provision_command())

    while deliver() is not None:
        pass
    send(provision_command())
    deliver()

    api = router_api(registered)
    users = list(api.path("ip", "hotspot", "user").select().where(Key("name") == "u254700000001"))
    profiles = list(api.path("ip", "hotspot", "user", "profile").select().where(Key("name") == "muda-pkg_1h"))
    assert (len(users), len(profiles)) == (1, 1)
    assert [e["detail-type"] for e in bus_events() if e["source"] == "muda.hotspot"] == ["UserProvisioned"]


def test_renewal_updates_the_user_in_place(registered: RouterSimulator):
    """Given a provisioned user
    When a renewal (version 2) changes the package: no uptime limit, another profile
    Then the same user (same .id) carries the new profile and no limit; no second user exists."""
    put_subscription("sub_000001")
    send(provision_command())
    deliver()
    api = router_api(registered)
    [before] = api.path("ip", "hotspot", "user")

    put_subscription("sub_000001", version=2)
    renewal = provision_command(version=2, limit_uptime=None, limit_bytes_total=None)
    renewal["profile"] = {"name": "muda-pkg_day", "rate_limit": "5M/5M", "shared_users": 2}
    send(renewal)
    assert deliver() == {"batchItemFailures": []}

    [after] = api.path("ip", "hotspot", "user")
    assert after[".id"] == before[".id"]
    assert (after["profile"], after["limit-uptime"], after["limit-bytes-total"]) == ("muda-pkg_day", "0s", 0)
    assert hotspot_item("SUB#sub_000001", "SUB")["provision_status"] == "provisioned"


def test_stale_command_does_not_touch_the_router(registered: RouterSimulator):
    """Given a subscription already at version 2 (renewed)
    When a late version-1 command arrives
    Then it is acknowledged without any change on the router or the record."""
    put_subscription("sub_000001", version=2)
    send(provision_command(version=1))

    assert deliver() == {"batchItemFailures": []}

    assert list(router_api(registered).path("ip", "hotspot", "user")) == []
    assert hotspot_item("SUB#sub_000001", "SUB")["provision_status"] == "pending"


def test_router_down_then_back_is_provisioned(registered: RouterSimulator, bus_events):
    """Given the router is down
    When the provisioner tries three times, and the router comes back before the fourth try
    Then the fourth try provisions the user; the failed tries recorded their reason."""
    put_subscription("sub_000001")
    send(provision_command())
    registered.set_faults(down=True)

    for attempt in (1, 2, 3):
        assert len(deliver()["batchItemFailures"]) == 1
        sub = hotspot_item("SUB#sub_000001", "SUB")
        assert sub["provision_status"] == "pending"
        assert sub["provision_attempts"] == attempt
        assert "refused the connection" in sub["provision_error"]
    registered.set_faults(down=False)
    assert deliver() == {"batchItemFailures": []}

    sub = hotspot_item("SUB#sub_000001", "SUB")
    assert (sub["provision_status"], sub["provision_attempts"]) == ("provisioned", 4)
    assert "provision_error" not in sub
    assert [e["detail-type"] for e in bus_events() if e["source"] == "muda.hotspot"] == ["UserProvisioned"]


def test_down_past_the_last_try_fails_and_can_be_redriven(registered: RouterSimulator, bus_events):
    """Given the router down for good
    When every try (the first and five retries) has failed
    Then the subscription is provision_failed with the reason, ProvisioningFailed is emitted once,
    the message is in the DLQ; and redriven once the router is back, it provisions the user."""
    from chalicelib.ops import queues as ops_queues

    put_subscription("sub_000001")
    send(provision_command())
    registered.set_faults(down=True)

    tries = 0
    while deliver() is not None:
        tries += 1
    assert tries == 6

    sub = hotspot_item("SUB#sub_000001", "SUB")
    assert (sub["provision_status"], sub["provision_attempts"]) == ("provision_failed", 6)
    assert "refused the connection" in sub["provision_error"]
    [failed] = [e for e in bus_events() if e["detail-type"] == "ProvisioningFailed"]
    assert failed["detail"]["attempts"] == 6 and "refused" in failed["detail"]["error"]
    [dead] = ops_queues.dead_letters("muda-test-provisioning")
    assert "refused the connection" in dead.error  # what `muda failed list` shows

    registered.set_faults(down=False)
    assert ops_queues.redrive(queue="muda-test-provisioning") == 1  # `muda failed retry --all`
    assert deliver() == {"batchItemFailures": []}
    assert hotspot_item("SUB#sub_000001", "SUB")["provision_status"] == "provisioned"
    assert dead_letters() == []


def test_traps_and_refused_login_are_recorded_reasons(registered: RouterSimulator):
    """Given a router that traps every add, then one that refuses the API login
    When the provisioner tries
    Then each failed try records the router's own words."""
    put_subscription("sub_000001")
    send(provision_command())

    registered.set_faults(trap_on_add="failure: out of memory")
    deliver()
    assert (
        "refused a command: failure: out of memory"
        in hotspot_item("SUB#sub_000001", "SUB")["provision_error"]
    )

    registered.set_faults(trap_on_add=None, refuse_login=True)
    deliver()
    assert "login refused" in hotspot_item("SUB#sub_000001", "SUB")["provision_error"]


def test_invalid_command_goes_to_the_dlq_at_once(registered: RouterSimulator):
    """Given a malformed command (bad MAC)
    When the provisioner reads it
    Then it is not retried: it is in the DLQ with the reason, and the router is untouched."""
    from chalicelib.ops import queues as ops_queues

    send(provision_command(mac="not-a-mac"))

    assert deliver() == {"batchItemFailures": []}
    assert deliver() is None
    [dead] = ops_queues.dead_letters("muda-test-provisioning")
    assert "mac" in dead.error
    assert list(router_api(registered).path("ip", "hotspot", "user")) == []


def test_deprovision_removes_user_sessions_and_cookies(registered: RouterSimulator, bus_events):
    """Given a provisioned user whose device is logged in (active session and MAC cookie)
    When the deprovision command (on expiry) runs, twice
    Then the user, its active session and its cookies are gone, the subscription is
    deprovisioned and UserDeprovisioned is emitted once."""
    put_subscription("sub_000001")
    send(provision_command())
    deliver()
    api = router_api(registered)
    assert len(list(api.path("ip", "hotspot", "cookie"))) == 1

    deprovision = {
        "action": "deprovision",
        "subscription_id": "sub_000001",
        "router_id": "rtr_test1",
        "version": 1,
        "username": "u254700000001",
        "mac": "AA:BB:CC:DD:EE:01",
    }
    send(deprovision)
    send(deprovision)
    while deliver() is not None:
        pass

    for path in (("ip", "hotspot", "user"), ("ip", "hotspot", "active"), ("ip", "hotspot", "cookie")):
        assert list(api.path(*path)) == [], path
    assert hotspot_item("SUB#sub_000001", "SUB")["provision_status"] == "deprovisioned"
    kinds = [e["detail-type"] for e in bus_events() if e["source"] == "muda.hotspot"]
    assert kinds == ["UserProvisioned", "UserDeprovisioned"]


def test_deprovision_of_a_renewed_subscription_is_skipped(registered: RouterSimulator):
    """Given a user provisioned, then renewed (version 2)
    When the old expiry's deprovision (version 1) arrives late
    Then the user stays on the router."""
    put_subscription("sub_000001")
    send(provision_command())
    deliver()
    put_subscription("sub_000001", version=2, status="provisioned")
    send(
        {
            "action": "deprovision",
            "subscription_id": "sub_000001",
            "router_id": "rtr_test1",
            "version": 1,
            "username": "u254700000001",
            "mac": None,
        }
    )

    assert deliver() == {"batchItemFailures": []}
    assert len(list(router_api(registered).path("ip", "hotspot", "user"))) == 1


def test_slow_router_times_out_with_a_clear_reason(registered: RouterSimulator, monkeypatch):
    """Given a router that answers after 1 s and a 0.3 s client timeout
    When the provisioner tries
    Then the try fails and records that the router did not answer in time."""
    monkeypatch.setenv("MUDA_ROUTERS_TIMEOUT_SECONDS", "0.3")
    put_subscription("sub_000001")
    send(provision_command())
    registered.set_faults(slow=1.0)

    assert len(deliver()["batchItemFailures"]) == 1
    assert "did not answer in time" in hotspot_item("SUB#sub_000001", "SUB")["provision_error"]


def test_router_before_7_18_without_empty_replies(registered: RouterSimulator):
    """Given a router older than RouterOS 7.18 (no !empty on a print that finds nothing)
    When a user is provisioned
    Then it works the same."""
    registered.set_faults(empty_replies=False)
    put_subscription("sub_000001")
    send(provision_command())

    assert deliver() == {"batchItemFailures": []}
    assert len(list(router_api(registered).path("ip", "hotspot", "user"))) == 1


def test_api_ssl_router_with_a_verified_certificate(provisioner: None, monkeypatch):
    """Given a router serving API-SSL (record flag api_ssl) whose certificate the provisioner trusts
    When a user is provisioned, and then the provisioner trusts only the system's CAs
    Then the first works over TLS; the second fails the handshake with a clear reason."""
    with RouterSimulator(username="muda", password=PASSWORD, tls=True) as secure:
        register_router(secure, "rtr_test1")
        table(get_settings().name("hotspot")).update_item(
            Key={"pk": "ROUTER#rtr_test1", "sk": "ROUTER"},
            UpdateExpression="SET api_ssl = :yes",
            ExpressionAttributeValues={":yes": True},
        )
        monkeypatch.setenv("MUDA_ROUTERS_TLS_CA_FILE", secure.ca_file)
        put_subscription("sub_000001")
        send(provision_command())
        assert deliver() == {"batchItemFailures": []}
        assert [u["name"] for u in secure.state.rows("/ip/hotspot/user")] == ["u254700000001"]

        monkeypatch.delenv("MUDA_ROUTERS_TLS_CA_FILE")
        put_subscription("sub_000002")
        send(provision_command("sub_000002", username="u254700000002"))
        assert len(deliver()["batchItemFailures"]) == 1
        assert "TLS handshake" in hotspot_item("SUB#sub_000002", "SUB")["provision_error"]


def test_concurrent_duplicates_race_to_one_user_and_one_event(registered: RouterSimulator, bus_events):
    """Given one provisioning command delivered to 6 invocations at the same moment
    When they run side by side (each sees no user yet and adds it)
    Then the adds that lose the race become sets: one user, one profile, one UserProvisioned as
    its consumers see it (a duplicate that finds the event still owed may publish it again, with
    the same idempotency key, which consumers dedupe on: at least once, as every event here)."""
    put_subscription("sub_000001")
    body = json.dumps(provision_command())
    start = threading.Barrier(6)
    results = []

    def invoke() -> None:
        record = {"messageId": str(uuid.uuid4()), "receiptHandle": "r", "body": body, "attributes": {}}
        start.wait()
        results.append(handler.handle({"Records": [record]}))

    threads = [threading.Thread(target=invoke) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [{"batchItemFailures": []}] * 6
    api = router_api(registered)
    assert len(list(api.path("ip", "hotspot", "user"))) == 1
    assert (
        len(list(api.path("ip", "hotspot", "user", "profile").select().where(Key("name") == "muda-pkg_1h")))
        == 1
    )
    events = [e for e in bus_events() if e["source"] == "muda.hotspot"]
    assert {e["detail-type"] for e in events} == {"UserProvisioned"}
    assert len({e["detail"]["idempotency_key"] for e in events}) == 1
