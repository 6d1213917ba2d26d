"""RADIUS on in-process moto: the admin API's router mode, the rlm_rest endpoints behind their
key, and the router provisioner for a RADIUS-mode router (no user push; Disconnect-Requests to
the simulator's incoming RADIUS, answers recorded)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.core import clock, secrets
from chalicelib.core.config import get_settings
from chalicelib.radius import service
from chalicelib.radius.settings import radius_settings
from functions.router_provisioner import store
from infra.local.routeros import RouterSimulator
from tests.integration.conftest import bearer
from tests.integration.routers.conftest import deliver, hotspot_item, send, table
from tests.support.ids import unique

KEY = "k" * 32
NAS_SECRET = "nas-secret-1"


@pytest.fixture
def admin(api: Client, token: Callable[..., str]) -> Callable[..., Any]:
    headers = {**bearer(token("admin-1", "admin")), "Content-Type": "application/json"}

    def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return getattr(api.http, method)(path, headers=headers, body=json.dumps(body) if body else None)

    return call


@pytest.fixture
def key(aws: None) -> str:
    secrets.write(radius_settings().key_secret, {"key": KEY})
    service.clear_caches()
    return "Basic " + base64.b64encode(f"freeradius:{KEY}".encode()).decode()


def router_body(nas: str, **changes: Any) -> dict[str, Any]:
    return {
        "name": "radius",
        "host": "127.0.0.1",
        "port": 1,  # no API there: a RADIUS-mode router is never pushed to
        "username": "muda-api",
        "password": "api-password",
        "login_url": "http://10.5.50.1/login",
        "mode": "radius",
        "nas_identifier": nas,
        "radius_secret": NAS_SECRET,
        **changes,
    }


def test_router_mode_is_set_in_the_admin_api_and_its_secret_kept_apart(admin: Callable[..., Any]) -> None:
    # Given a RADIUS-mode router registered through the admin API
    nas = unique("nas")
    created = admin("post", "/admin/routers", router_body(nas))
    assert created.status_code == 201, created.body
    out = json.loads(created.body)
    # Then it says its mode and NAS identity, never its secret, which is in Secrets Manager
    assert (out["mode"], out["nas_identifier"], out["coa_port"]) == ("radius", nas, 3799)
    assert "radius_secret" not in out
    item = hotspot_item(f"ROUTER#{out['router_id']}", "ROUTER")
    assert secrets.read(item["radius_secret"]) == {"secret": NAS_SECRET}

    # When a second router claims the same NAS identity, or comes without a secret or identity
    taken = admin("post", "/admin/routers", router_body(nas))
    no_secret = admin("post", "/admin/routers", router_body(unique("nas"), radius_secret=None))
    no_nas = admin("post", "/admin/routers", router_body(None, radius_secret=NAS_SECRET))
    api_router = admin("post", "/admin/routers", router_body(None, mode="api", radius_secret=None))
    switched = admin(
        "patch", f"/admin/routers/{json.loads(api_router.body)['router_id']}", {"mode": "radius"}
    )

    # Then each is refused with 422 and nothing is written
    assert json.loads(taken.body)["error"]["code"] == "nas_taken" and taken.status_code == 422
    assert (no_secret.status_code, no_nas.status_code, switched.status_code) == (422, 422, 422)
    assert api_router.status_code == 201 and json.loads(api_router.body)["mode"] == "api"


@pytest.fixture
def paid(admin: Callable[..., Any]) -> dict[str, Any]:
    """Given a RADIUS-mode router and a subscription on it, as a settled payment leaves them."""
    nas = unique("nas")
    router_id = json.loads(admin("post", "/admin/routers", router_body(nas)).body)["router_id"]
    phone = "2547" + unique("")[-8:].translate(str.maketrans("abcdef", "123456"))
    sub_id, username, now = "sub_" + unique("")[-10:], "m" + phone[-9:], clock.now()
    hotspot = table(get_settings().name("hotspot"))
    hotspot.put_item(
        Item={
            "pk": f"USER#{phone}",
            "sk": "USER",
            "phone": phone,
            "username": username,
            "password": "pw",
            "created_at": int(now),
        }
    )
    hotspot.put_item(Item={"pk": f"CURRENT#{phone}#{router_id}", "sk": "CURRENT", "subscription_id": sub_id})
    hotspot.put_item(
        Item={
            "pk": f"SUB#{sub_id}",
            "sk": "SUB",
            "subscription_id": sub_id,
            "phone": phone,
            "package_id": "p",
            "router_id": router_id,
            "username": username,
            "password": "pw",
            "starts_at": int(now),
            "expires_at_ts": int(now) + 600,
            "status": "active",
            "created_at": int(now),
            "shared_users": 1,
            "rate_limit": "1M/2M",
            "provision_version": 1,
            "provision_status": "pending",
        }
    )
    return {"nas": nas, "router_id": router_id, "sub": sub_id, "user": username, "phone": phone}


def post(api: Client, path: str, body: Any, auth: str | None) -> Any:
    headers = {"Content-Type": "application/json", **({"Authorization": auth} if auth else {})}
    return api.http.post(path, headers=headers, body=body if isinstance(body, str) else json.dumps(body))


def attrs(**values: Any) -> dict[str, Any]:
    return {k.replace("_", "-"): {"type": "string", "value": [v]} for k, v in values.items()}


def test_rest_endpoints_answer_freeradius_with_the_key_only(
    api: Client, key: str, paid: dict[str, Any]
) -> None:
    # Given a paid user / When FreeRADIUS asks with the key
    ok = post(api, "/radius/authorize", attrs(User_Name=paid["user"], NAS_Identifier=paid["nas"]), key)
    # Then the password and the limits
    body = json.loads(ok.body)
    assert ok.status_code == 200 and body["control:Cleartext-Password"] == "pw"
    assert 590 <= body["reply:Session-Timeout"] <= 600 and body["reply:Mikrotik-Rate-Limit"] == "1M/2M"

    # When it is asked without the key, with bad bodies, or about someone unknown
    no_key = post(api, "/radius/authorize", attrs(User_Name=paid["user"], NAS_Identifier=paid["nas"]), None)
    broken = post(api, "/radius/accounting", "{", key)
    unknown = post(api, "/radius/authorize", attrs(User_Name="m799999999", NAS_Identifier=paid["nas"]), key)
    start = {"Acct_Status_Type": "Start", "Acct_Unique_Session_Id": "u1", "User_Name": paid["user"]}
    stray = post(api, "/radius/accounting", attrs(**start, NAS_Identifier="nowhere"), key)
    started = post(
        api, "/radius/accounting", attrs(**start, NAS_Identifier=paid["nas"], Class=body["reply:Class"]), key
    )

    # Then 403 / 400 / a 401 reject with its reason / 404, and the real Start is recorded once
    assert no_key.status_code == 403 and broken.status_code == 400
    assert unknown.status_code == 401 and json.loads(unknown.body)["reply:Reply-Message"].startswith(
        "Unknown user"
    )
    assert stray.status_code == 404 and started.status_code == 204
    assert hotspot_item(f"SUB#{paid['sub']}", "ACCT#u1")["state"] == "started"


@pytest.fixture
def radius_router(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[RouterSimulator]:
    monkeypatch.setenv("MUDA_ROUTERS_BACKOFF_SECONDS", "0,0,0,0,0")
    monkeypatch.setenv("MUDA_ROUTERS_RADIUS_TIMEOUT_SECONDS", "0.5")
    store.reset_clients()
    with RouterSimulator(password="x", radius_port=0, radius_secret=NAS_SECRET) as router:
        yield router
    store.reset_clients()


def test_the_provisioner_pushes_nothing_to_a_radius_router_and_disconnects_instead(
    admin: Callable[..., Any], paid: dict[str, Any], radius_router: RouterSimulator
) -> None:
    # Given the RADIUS-mode router's incoming RADIUS at the simulator, one session of the user on it
    admin("patch", f"/admin/routers/{paid['router_id']}", {"coa_port": radius_router.radius_port})
    radius_router.state.menus["/ip/hotspot/active"].rows["*1"] = {".id": "*1", "user": paid["user"]}
    command = {"subscription_id": paid["sub"], "router_id": paid["router_id"], "username": paid["user"]}

    # When the provision command comes (its API port is closed: a push would fail)
    send({**command, "action": "provision", "version": 1, "password": "pw", "profile": {"name": "muda-p"}})
    assert deliver() == {"batchItemFailures": []}
    # Then the subscription is provisioned, and nothing reached the router
    assert hotspot_item(f"SUB#{paid['sub']}", "SUB")["provision_status"] == "provisioned"
    assert radius_router.state.commands == 0

    # When its data runs out (disconnect), then it expires (deprovision) while not online
    send({**command, "action": "disconnect", "version": 1})
    assert deliver() == {"batchItemFailures": []}
    acked = hotspot_item(f"SUB#{paid['sub']}", "SUB")["radius_disconnect_result"]
    send({**command, "action": "deprovision", "version": 1})
    assert deliver() == {"batchItemFailures": []}

    # Then the session went (ACK), the second found none (NAK 503, recorded) and it is deprovisioned
    item = hotspot_item(f"SUB#{paid['sub']}", "SUB")
    assert acked == "ack" and radius_router.state.rows("/ip/hotspot/active") == []
    assert (item["radius_disconnect_result"], item["radius_disconnect_cause"]) == ("not_online", 503)
    assert item["provision_status"] == "deprovisioned"
