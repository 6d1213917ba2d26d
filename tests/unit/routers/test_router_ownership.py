"""The provisioner's router session against the simulator, through librouteros: the operator's own
rows are never written, and a moved access ends only the other devices' sessions and cookies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from functions.router_provisioner.logic import Command, Conflict, parse_command
from functions.router_provisioner.router import USERS, Router, Session
from infra.local.routeros import RouterSimulator

PASSWORD = "s3cret"
OLD, NEW = "AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02"
ACTIVE, COOKIES, USER_ROWS = "/ip/hotspot/active", "/ip/hotspot/cookie", "/ip/hotspot/user"


@pytest.fixture
def router() -> Iterator[RouterSimulator]:
    with RouterSimulator(username="muda", password=PASSWORD) as simulated:
        yield simulated


@pytest.fixture
def session(router: RouterSimulator) -> Iterator[Session]:
    record = Router("rtr_1", "Shop", router.host, router.port, "muda", "unused")
    opened = Session.open(record, PASSWORD, timeout=3)
    yield opened
    opened.close()


def command(**changes: Any) -> Command:
    body = {
        "action": "provision",
        "subscription_id": "sub_1",
        "router_id": "rtr_1",
        "version": 1,
        "username": "u2547",
        "password": "pw-muda",
        "profile": {"name": "muda-pkg_1h", "shared_users": 1},
        "comment": "muda sub_1 until 2026-11-25T15:00:00Z",
        "mac": NEW,
        "ip": None,
        **changes,
    }
    return parse_command(json.dumps(body))


def hand_made_user(session: Session) -> None:
    session.add(USERS, name="u2547", password="operator-pw", comment="staff phone")


def test_an_add_that_loses_the_race_to_a_hand_made_twin_does_not_set_it(session, router):
    """Given the provisioner's look-up finds no user, and the operator adds one of that name just after
    When the provisioner's add traps 'already have user'
    Then it looks again, finds the operator's user and raises Conflict: no set, password and comment kept."""
    real_find, looked = session.find, []

    def find_before_the_operator(path: tuple[str, ...], *where: Any, keys: tuple[str, ...] = ()) -> Any:
        if path == USERS and not looked:
            looked.append(path)
            hand_made_user(session)  # the operator's add lands between our print and our add
            return []
        return real_find(path, *where, keys=keys)

    session.find = find_before_the_operator  # type: ignore[method-assign]
    with pytest.raises(Conflict, match="staff phone"):
        session.provision(command())

    [user] = router.state.rows(USER_ROWS)
    assert (user["password"], user["comment"]) == ("operator-pw", "staff phone")
    assert "ip/hotspot/user/add" in session.log  # the add was tried, lost, and not turned into a set
    assert not any(step.endswith("user/set") for step in session.log)


def test_a_profile_not_named_muda_is_never_written(session, router):
    """Given a command whose profile is not named muda-… (the router's default profile)
    When it is provisioned
    Then Conflict is raised before anything is written."""
    before = router.state.snapshot()
    with pytest.raises(Conflict, match="user profile 'default'"):
        session.provision(command(profile={"name": "default", "rate_limit": "64k/64k"}))
    assert router.state.snapshot() == before


def test_a_move_ends_only_the_other_devices_rows_and_twice_is_once(session, router):
    """Given Muda's user with an active session and a MAC cookie on the old device and on the new one
    When the command that moves the access to the new device (previous_mac) runs, and runs again
    Then the old device's session and cookie are gone, the new device's rows are the same rows (same
    .id), and the second run removes nothing."""
    session.provision(command(mac=OLD))
    for mac, ip in ((OLD, "10.5.50.23"), (NEW, "10.5.50.24")):
        with router.state.lock:  # as the hotspot leaves them after each device's login
            item = router.state.new_id()
            router.state.menus[ACTIVE].rows[item] = {
                ".id": item,
                "user": "u2547",
                "address": ip,
                "mac-address": mac,
            }
            item = router.state.new_id()
            router.state.menus[COOKIES].rows[item] = {".id": item, "user": "u2547", "mac-address": mac}
    new_rows = {
        path: [r for r in router.state.rows(path) if r["mac-address"] == NEW] for path in (ACTIVE, COOKIES)
    }

    start = len(session.log)
    first = session.provision(command(previous_mac=OLD))
    after_first, middle = router.state.snapshot(), len(session.log)
    second = session.provision(command(previous_mac=OLD))

    assert first["moved_from"] == {"cookies": 1, "active": 1}
    assert second["moved_from"] == {"cookies": 0, "active": 0}
    moves = [
        "ip/hotspot/cookie/print",
        "ip/hotspot/cookie/remove",
        "ip/hotspot/active/print",
        "ip/hotspot/active/remove",
    ]
    assert session.log[start:middle][-4:] == moves  # the move's round trips: 2 prints, 2 removes
    assert session.log[middle:][-2:] == [moves[0], moves[2]]  # a repeat: the 2 prints only
    for path in (ACTIVE, COOKIES):
        assert router.state.rows(path) == new_rows[path]
    assert router.state.snapshot() == after_first
    [user] = router.state.rows(USER_ROWS)
    assert user["mac-address"] == NEW
