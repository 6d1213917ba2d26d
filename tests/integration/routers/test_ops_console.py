"""The console's truth about provisioning, on in-process moto with a simulated router: a job that
is retrying shows as such (attempt n of N, last error) while it retries, the buyer is told
"setting up" until the router has the user, and "check now" probes one router."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client
from librouteros.query import Key

from chalicelib.core import clock
from chalicelib.ops import routers
from chalicelib.payments.models.items import PaymentAlias, PaymentItem, alias_key, payment_key, phone_index
from infra.local.routeros import RouterSimulator
from tests.integration.conftest import bearer
from tests.integration.routers.conftest import (
    ROUTER_ID,
    deliver,
    provision_command,
    put_subscription,
    router_api,
    send,
)

USERNAME = "u254700000001"


def paid_purchase(subscription_id: str) -> str:
    """A paid payment whose subscription waits for the router (as the payment worker leaves it)."""
    now = clock.now()
    checkout, payment_id = f"ws_CO_{subscription_id}", f"pay_{subscription_id}"
    PaymentItem(
        *payment_key(checkout),
        payment_id=payment_id,
        checkout_request_id=checkout,
        product="hotspot",
        offer_id="pkg_1h",
        offer={"name": "1 hour", "price": 20},
        scope=ROUTER_ID,
        phone="254700000001",
        amount=20,
        status="paid",
        grant_id=subscription_id,
        grant_version=1,
        created_at=now - 5,
        settled_at=now,
        gsi2pk=phone_index("254700000001"),
        gsi2sk=clock.time_key(now - 5),
    ).save()
    PaymentAlias(*alias_key(payment_id), checkout_request_id=checkout).save()
    put_subscription(
        subscription_id,
        username=USERNAME,
        phone="254700000001",
        package_id="pkg_1h",
        password="pw-123456",
        starts_at=int(now),
        expires_at_ts=int(now + 3600),
        created_at=int(now),
    )
    return payment_id


def get(api: Client, path: str, headers: dict[str, str] | None = None) -> Any:
    response = api.http.get(path, headers=headers or {})
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def test_a_router_down_for_two_tries_shows_the_retry_and_the_buyer_waits(
    api: Client, token, registered: RouterSimulator
) -> None:
    """Given a paid purchase and the router refusing connections
    When the provisioner fails two tries, then the router comes back and the third try runs
    Then while it retries the console lists it (attempt 2 of 6, the router's error) and the buyer's
    status says paid and "taking longer" with no "online"; after the third try the buyer is
    online, the router has the user, and the retry is gone."""
    admin = bearer(token("ops-1", "admin"))
    payment_id = paid_purchase("sub_000001")
    assert get(api, f"/payments/{payment_id}")["access"]["state"] == "setting_up"
    message_id = send(provision_command(username=USERNAME))
    registered.set_faults(down=True)

    for _ in range(2):
        assert len(deliver()["batchItemFailures"]) == 1

    [retry] = get(api, "/admin/retries", admin)["retries"]
    assert (retry["message_id"], retry["attempt"], retry["max_attempts"]) == (message_id, 2, 6)
    assert "refused the connection" in retry["error"]
    assert retry["summary"] == f"provision {USERNAME} on {ROUTER_ID}" and retry["next_try_at"] > 0
    status = get(api, f"/payments/{payment_id}")
    assert status["status"] == "paid"
    assert (status["access"]["state"], status["access"]["attempts"]) == ("slow", 2)
    assert "refused" not in json.dumps(status)  # the router's reason is the operator's

    registered.set_faults(down=False)
    assert deliver() == {"batchItemFailures": []}

    status = get(api, f"/payments/{payment_id}")
    assert (status["status"], status["access"]["state"]) == ("provisioned", "online")
    assert list(router_api(registered).path("ip", "hotspot", "user").select().where(Key("name") == USERNAME))
    assert get(api, "/admin/retries", admin)["retries"] == []
    [found] = get(api, "/admin/lookup/payments?checkout_request_id=ws_CO_sub_000001", admin)["payments"]
    assert found["access"] == "online" and found["router_id"] == ROUTER_ID
    by_phone = get(api, "/admin/lookup/payments?phone=0700000001", admin)["payments"]
    assert [p["payment_id"] for p in by_phone] == [payment_id]
    assert [e["what"] for e in found["timeline"]].count("provisioning_try") == 0  # cleared by the success
    assert {"initiated", "settled", "provisioned", "expires"} <= {e["what"] for e in found["timeline"]}


def test_check_now_probes_one_router_and_the_board_tells(
    api: Client, token, registered: RouterSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a registered router that goes down
    When the operator presses "check now" and the provisioner takes the request off its queue
    Then the board and GET /admin/routers/{id} show it offline with the error and the check's
    time; after it comes back and another check, online with no error."""
    admin = bearer(token("ops-1", "admin"))
    monkeypatch.setattr(routers, "CHECK_WAIT_SECONDS", 0.0)  # no runtime here: the test delivers
    registered.set_faults(down=True)

    response = api.http.post(f"/admin/routers/{ROUTER_ID}/check", headers=admin)
    assert response.status_code == 200 and json.loads(response.body)["checked"] is False
    assert deliver() == {"batchItemFailures": []}

    [row] = [r for r in get(api, "/admin/ops/routers", admin)["routers"] if r["router_id"] == ROUTER_ID]
    assert row["status"] == "offline" and "refused the connection" in row["status_error"]
    assert row["last_checked_at"] >= int(clock.now()) - 5 and row["users_provisioned"] == 0
    record = get(api, f"/admin/routers/{ROUTER_ID}", admin)
    assert record["status"] == "offline" and record["status_error"] and record["last_checked_at"]

    registered.set_faults(down=False)
    api.http.post(f"/admin/routers/{ROUTER_ID}/check", headers=admin)
    deliver()
    record = get(api, f"/admin/routers/{ROUTER_ID}", admin)
    assert (record["status"], record["status_error"]) == ("online", None)
    missing = api.http.post("/admin/routers/rtr_nope/check", headers=admin)
    assert missing.status_code == 404 and json.loads(missing.body)["error"]["code"] == "not_found"
