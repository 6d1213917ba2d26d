"""RADIUS e2e fixtures: the stack's FreeRADIUS (one process, started by infra/local/radius.py),
``radclient`` playing the router, and the RADIUS-mode router simulator's API and Disconnect log."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import librouteros
import pytest
import requests

from chalicelib.core.auth import dev_token
from infra.local.stack import LocalStack
from tests.e2e.conftest import WAIT
from tests.e2e.hotspot.conftest import initiate, wait_status

REPLY = re.compile(r"^\s+([A-Za-z0-9-]+) = (.*)$")


@dataclass
class Reply:
    code: str | None  # Access-Accept, Access-Reject, Accounting-Response; None: no answer
    attrs: dict[str, str] = field(default_factory=dict)
    output: str = ""

    def int(self, name: str) -> int:
        return int(self.attrs[name])


@dataclass
class Radius:
    """FreeRADIUS of the stack, asked as a router asks it (``radclient``)."""

    server: str
    acct_server: str
    secret: str
    log: str

    def send(
        self, kind: str, attrs: dict[str, Any], server: str | None = None, tries: int = 3, wait: float = 5
    ) -> Reply:
        """One request (``tries`` sends, ``wait`` seconds each) and the answer radclient printed."""
        text = ",".join(f'{k}="{v}"' if isinstance(v, str) else f"{k}={v}" for k, v in attrs.items())
        run = subprocess.run(
            [
                "radclient",
                "-x",
                "-t",
                str(wait),
                "-r",
                str(tries),
                server or self.server,
                kind,
                self.secret,
            ],
            input=text,
            capture_output=True,
            text=True,
            timeout=30,
        )
        out = run.stdout + run.stderr
        code = next((m for m in re.findall(r"Received (\S+)", out)), None)
        received = out.split("Received ", 1)[1] if code else ""
        found = {
            m.group(1): m.group(2).strip('"') for line in received.splitlines() if (m := REPLY.match(line))
        }
        return Reply(code, found, out)

    def auth(self, attrs: dict[str, Any]) -> Reply:
        return self.send("auth", attrs)

    def acct(self, attrs: dict[str, Any], tries: int = 3) -> Reply:
        return self.send("acct", attrs, self.acct_server, tries, 5 if tries > 1 else 1)


@pytest.fixture(scope="package")
def radius(stack: LocalStack) -> Radius:
    """Given FreeRADIUS running in the stack (``make test`` installs it: never skipped)."""
    env = stack.env
    assert shutil.which("radclient"), "radclient missing: apt-get install freeradius-utils (make test does)"
    assert env.get("MUDA_LOCAL_RADIUS_SERVER"), "FreeRADIUS is not running in the stack (is it installed?)"
    return Radius(
        env["MUDA_LOCAL_RADIUS_SERVER"],
        env["MUDA_LOCAL_RADIUS_ACCT_SERVER"],
        env["MUDA_LOCAL_RADIUS_NAS_SECRET"],
        env["MUDA_LOCAL_RADIUS_LOG"],
    )


@pytest.fixture(scope="package")
def admin_headers(stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token('admin-1', ['admin'])}"}


def add_router(stack: LocalStack, headers: dict[str, str], name: str, nas: str) -> str:
    env = stack.env
    response = requests.post(
        f"{stack.api_url}/admin/routers",
        headers=headers,
        json={
            "name": name,
            "host": "127.0.0.1",
            "port": int(env["MUDA_LOCAL_RADIUS_ROUTER_PORT"]),
            "username": "muda-api",
            "password": env["MUDA_LOCAL_RADIUS_ROUTER_PASSWORD"],
            "login_url": "http://127.0.0.1/hotspot-login",
            "mode": "radius",
            "nas_identifier": nas,
            "coa_port": int(env["MUDA_LOCAL_RADIUS_COA_PORT"]),
            "radius_secret": env["MUDA_LOCAL_RADIUS_NAS_SECRET"],
        },
        timeout=WAIT,
    )
    assert response.status_code == 201, response.text
    return response.json()["router_id"]


@pytest.fixture(scope="package")
def hotspot(stack: LocalStack, admin_headers: dict[str, str]) -> dict[str, Any]:
    """Given two RADIUS-mode routers (A with packages, B without), registered through the admin API."""
    a = add_router(stack, admin_headers, "e2e RADIUS A", "e2e-radius-a")
    b = add_router(stack, admin_headers, "e2e RADIUS B", "e2e-radius-b")

    def package(**fields: Any) -> str:
        response = requests.post(
            f"{stack.api_url}/admin/packages",
            headers=admin_headers,
            json={"price": 5, "rate_limit": "2M/2M", "shared_users": 1, **fields, "router_ids": [a]},
            timeout=WAIT,
        )
        assert response.status_code == 201, response.text
        return response.json()["package_id"]

    return {
        "a": a,
        "b": b,
        "nas_a": "e2e-radius-a",
        "nas_b": "e2e-radius-b",
        # 5 GiB and 1000 bytes: Mikrotik-Total-Limit 1000 with -Gigawords 5
        "hour": package(name="hour", validity_seconds=3600, limit_bytes_total=5 * 2**32 + 1000),
        "tiny": package(name="tiny data", validity_seconds=3600, limit_bytes_total=10_000),
        "short": package(name="6 seconds", validity_seconds=6),
    }


def buy(stack: LocalStack, orders: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """Pay for ``(router, package, phone)`` orders at once through the Daraja simulator; each
    payment's status once paid (a RADIUS login needs the subscription, not a push)."""
    accepted = [initiate(stack, r, p, phone, "AA:BB:CC:00:01:" + phone[-2:]) for r, p, phone in orders]
    return [
        wait_status(stack, a["payment_id"], {"paid", "provisioned", "failed", "cancelled"}) for a in accepted
    ]


@pytest.fixture(scope="package")
def users(stack: LocalStack, hotspot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Given buyers who paid on router A (one order each, paid side by side): ``hour`` users
    ``pap``, ``elsewhere``, ``acct``, ``down``, ``bad``, ``other`` and a ``tiny``-data one."""
    names = {
        "pap": "hour",
        "elsewhere": "hour",
        "acct": "hour",
        "tiny": "tiny",
        "down": "hour",
        "bad": "hour",
    }
    names["other"] = "hour"
    orders = [
        (hotspot["a"], hotspot[package], f"07110001{i:02d}") for i, package in enumerate(names.values())
    ]
    paid = dict(zip(names, buy(stack, orders), strict=True))
    assert all(p["status"] in ("paid", "provisioned") for p in paid.values()), paid
    return paid


@pytest.fixture(scope="package")
def router_api(stack: LocalStack) -> Callable[[], Any]:
    env = stack.env

    def connect() -> Any:
        return librouteros.connect(
            "127.0.0.1",
            username="muda-api",
            password=env["MUDA_LOCAL_RADIUS_ROUTER_PASSWORD"],
            port=int(env["MUDA_LOCAL_RADIUS_ROUTER_PORT"]),
            timeout=5,
        )

    return connect


def log_in_on_router(connect: Callable[[], Any], username: str, password: str, ip: str) -> None:
    """What the router does after an Access-Accept: the device's session in ``/ip/hotspot/active``
    (the simulator takes it through its API, from a local user of the same name)."""
    api = connect()
    try:
        users = api.path("ip", "hotspot", "user")
        if not [u for u in users if u.get("name") == username]:
            users.add(name=username, password=password)
        list(api("/ip/hotspot/active/login", user=username, password=password, ip=ip))
    finally:
        api.close()


def active_users(stack: LocalStack) -> list[str]:
    state = requests.get(f"{stack.env['MUDA_LOCAL_RADIUS_ROUTER_CONTROL_URL']}/state", timeout=10).json()
    return [row["user"] for row in state["menus"]["/ip/hotspot/active"]]


def disconnects(stack: LocalStack) -> list[dict[str, Any]]:
    state = requests.get(f"{stack.env['MUDA_LOCAL_RADIUS_ROUTER_CONTROL_URL']}/state", timeout=10).json()
    return state["radius"]["disconnects"]
