"""RFC 5176 Disconnect-Requests (pyrad, as the router provisioner sends them) against the RouterOS
simulator's incoming RADIUS (``/radius incoming accept=yes``), in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyrad import packet
from pyrad.client import Client, Timeout

from functions.router_provisioner import radius
from infra.local.routeros import RouterSimulator

SECRET = "s3cret-radius"
ACTIVE = "/ip/hotspot/active"


@pytest.fixture
def router() -> Iterator[RouterSimulator]:
    with RouterSimulator(password="x", radius_port=0, radius_secret=SECRET) as sim:
        rows = sim.state.menus[ACTIVE].rows
        rows["*1"] = {".id": "*1", "user": "m712345678", "address": "10.5.50.2", "mac-address": ""}
        rows["*2"] = {".id": "*2", "user": "m700000001", "address": "10.5.50.3", "mac-address": ""}
        yield sim


def test_a_disconnect_ends_the_users_session_and_is_acked(router: RouterSimulator) -> None:
    # Given two active sessions / When one user is disconnected / Then ACK, and only that one goes
    answer = radius.disconnect("127.0.0.1", router.radius_port or 0, SECRET, "m712345678", timeout=1, tries=1)
    assert (answer.acked, answer.result) == (True, "ack")
    assert [r["user"] for r in router.state.rows(ACTIVE)] == ["m700000001"]
    assert router.describe()["radius"]["disconnects"][0]["removed"] == 1


def test_a_user_not_online_is_a_nak_with_session_context_not_found(router: RouterSimulator) -> None:
    answer = radius.disconnect("127.0.0.1", router.radius_port or 0, SECRET, "m799999999", timeout=1, tries=1)
    assert (answer.acked, answer.error_cause, answer.result) == (False, 503, "not_online")
    assert len(router.state.rows(ACTIVE)) == 2


def test_a_wrong_secret_or_a_router_down_gets_no_answer(router: RouterSimulator) -> None:
    # Given a request signed with another secret / Then the router drops it (no answer, no change)
    with pytest.raises(radius.NoAnswer):
        radius.disconnect("127.0.0.1", router.radius_port or 0, "wrong", "m712345678", timeout=0.2, tries=2)
    router.set_faults(down=True)
    with pytest.raises(radius.NoAnswer):
        radius.disconnect("127.0.0.1", router.radius_port or 0, SECRET, "m712345678", timeout=0.2, tries=1)
    assert len(router.state.rows(ACTIVE)) == 2


def test_a_coa_request_is_refused_as_unsupported(router: RouterSimulator) -> None:
    client = Client(
        server="127.0.0.1", secret=SECRET.encode(), dict=radius.dictionary(), coaport=router.radius_port
    )
    client.timeout, client.retries = 1, 1
    request = client.CreateCoAPacket(code=packet.CoARequest)
    request["User-Name"] = "m712345678"
    try:
        reply = client.SendPacket(request)
    except Timeout:  # pragma: no cover - the assertion below says what went wrong
        reply = None
    assert reply is not None and reply.code == packet.CoANAK and reply["Error-Cause"] == [405]
    assert len(router.state.rows(ACTIVE)) == 2
