"""The provisioner's pure rules: commands, the retry schedule, superseded commands, reasons."""

from __future__ import annotations

import json

import pytest
from librouteros.exceptions import ConnectionClosed, TrapError

from functions.router_provisioner.config import Settings
from functions.router_provisioner.logic import (
    Conflict,
    InvalidCommand,
    RouterLoginRefused,
    is_superseded,
    owned_profile,
    owned_user,
    parse_command,
    reason,
    visibility_after,
)

PROVISION = {
    "action": "provision",
    "subscription_id": "sub_1",
    "router_id": "rtr_1",
    "version": 2,
    "username": "u2547",
    "password": "pw",
    "profile": {"name": "muda-pkg_1", "rate_limit": "2M/5M", "shared_users": 1, "session_timeout": "1h"},
    "limit_uptime": "1h30m",
    "limit_bytes_total": 1073741824,
    "comment": "muda sub_1 until 2026-11-25T15:00:00Z",
    "mac": "aa:bb:cc:dd:ee:ff",
    "ip": "10.5.50.23",
}


def test_provision_command_maps_to_routeros_attributes():
    """Given the contract's provision message
    When it is parsed
    Then the MAC is upper-cased and the user/profile attributes use RouterOS names."""
    command = parse_command(json.dumps(PROVISION))
    assert command.mac == "AA:BB:CC:DD:EE:FF" and command.logs_in
    assert command.profile.attributes() == {
        "shared-users": "1",
        "rate-limit": "2M/5M",
        "session-timeout": "1h",
    }
    assert command.user_attributes() == {
        "password": "pw",
        "profile": "muda-pkg_1",
        "limit-uptime": "1h30m",
        "limit-bytes-total": "1073741824",
        "mac-address": "AA:BB:CC:DD:EE:FF",
        "comment": "muda sub_1 until 2026-11-25T15:00:00Z",
        "disabled": "no",
    }


def test_absent_limits_clear_old_ones():
    """Given a provision without limits, MAC or IP
    When its user attributes are built
    Then limits are 0 (unlimited), the user is bound to no MAC, and no device login is done."""
    command = parse_command(
        json.dumps({**PROVISION, "limit_uptime": None, "limit_bytes_total": None, "mac": None})
    )
    attrs = command.user_attributes()
    assert (attrs["limit-uptime"], attrs["limit-bytes-total"], attrs["mac-address"]) == (
        "0s",
        "0",
        "00:00:00:00:00:00",
    )
    assert not command.logs_in


def test_deprovision_needs_only_the_user():
    """Given the contract's deprovision message
    When it is parsed
    Then it is valid without password or profile."""
    command = parse_command(
        json.dumps(
            {
                "action": "deprovision",
                "subscription_id": "sub_1",
                "router_id": "rtr_1",
                "version": 1,
                "username": "u2547",
                "mac": None,
            }
        )
    )
    assert (command.action, command.username, command.profile) == ("deprovision", "u2547", None)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"action": "delete"}, "action"),
        ({"version": "1"}, "version"),
        ({"version": True}, "version"),
        ({"mac": "AA-BB"}, "mac"),
        ({"ip": "10.5.50.300"}, "ip"),
        ({"limit_uptime": "1 hour"}, "limit_uptime"),
        ({"limit_bytes_total": -1}, "limit_bytes_total"),
        ({"username": "a b;/quit"}, "username"),
        ({"profile": {"name": "p", "shared_users": 0}}, "shared_users"),
        ({"profile": {"name": "p", "rate_limit": "fast"}}, "rate_limit"),
        ({"password": None}, "password"),
    ],
)
def test_bad_commands_are_refused_with_the_reason(change, complaint):
    """Given a provision message with one bad field
    When it is parsed
    Then InvalidCommand names the field (it goes to the DLQ without retries)."""
    with pytest.raises(InvalidCommand, match=complaint):
        parse_command(json.dumps({**PROVISION, **change}))


def test_whole_floats_are_accepted():
    """Given numbers a JSON encoder wrote as floats (1.0)
    When the command is parsed
    Then they are taken as integers; 1.5 is refused."""
    body = {**PROVISION, "version": 2.0, "limit_bytes_total": 1024.0}
    body["profile"] = {**PROVISION["profile"], "shared_users": 2.0}
    command = parse_command(json.dumps(body))
    assert (command.version, command.limit_bytes_total, command.profile.shared_users) == (2, 1024, 2)
    with pytest.raises(InvalidCommand, match="version"):
        parse_command(json.dumps({**PROVISION, "version": 1.5}))


def test_non_json_is_refused():
    with pytest.raises(InvalidCommand, match="JSON"):
        parse_command("{nope")


def test_backoff_schedule_then_dlq():
    """Given the spec's backoff 5/15/30/60/120 s
    When tries 1..6 fail
    Then the message returns after 5, 15, 30, 60, 120 s, and after the sixth try it goes to the DLQ."""
    backoff = Settings().backoff
    assert [visibility_after(n, backoff) for n in range(1, 7)] == [5, 15, 30, 60, 120, None]
    assert Settings().max_attempts == 6
    assert sum(backoff) >= 2 * 60  # the last try comes after a 2-minute outage


def test_backoff_is_configurable(monkeypatch):
    """Given MUDA_ROUTERS_BACKOFF_SECONDS (the e2e tier scales it down)
    When settings are read
    Then the schedule follows it; nonsense is refused."""
    monkeypatch.setenv("MUDA_ROUTERS_BACKOFF_SECONDS", "1, 2,3")
    assert Settings.from_env().backoff == (1, 2, 3)
    monkeypatch.setenv("MUDA_ROUTERS_BACKOFF_SECONDS", "-1")
    with pytest.raises(ValueError):
        Settings.from_env()


def test_newer_versions_and_deprovisioned_subscriptions_supersede():
    """Given a version-2 command
    When the subscription is at version 3, or deprovisioned, or at version 2
    Then only the last lets the command touch the router."""
    command = parse_command(json.dumps(PROVISION))
    assert is_superseded(command, {"provision_version": 3, "provision_status": "pending"})
    assert is_superseded(command, {"provision_version": 2, "provision_status": "deprovisioned"})
    assert not is_superseded(command, {"provision_version": 2, "provision_status": "provision_failed"})


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "refused the connection"),
        (TimeoutError("timed out"), "did not answer in time"),
        (TrapError("failure: already have user"), "refused a command: failure: already have user"),
        (RouterLoginRefused("invalid user name or password (6)"), "login refused"),
        (ConnectionClosed("closed"), "closed the connection"),
        (OSError(113, "No route to host"), "unreachable: No route to host"),
    ],
)
def test_reasons_name_the_router_and_the_cause(error, words):
    text = reason(error, "rtr_1 (10.0.0.1:8728)")
    assert words in text and "rtr_1" in text


def test_previous_mac_is_parsed_like_mac():
    """Given a provision that moves the access from another device (previous_mac)
    When it is parsed
    Then previous_mac is upper-cased and the command moves; absent, empty or equal to mac it does
    not; a malformed one is refused."""
    moved = parse_command(json.dumps({**PROVISION, "previous_mac": "aa:bb:cc:dd:ee:01"}))
    assert (moved.previous_mac, moved.moves) == ("AA:BB:CC:DD:EE:01", True)
    assert not parse_command(json.dumps(PROVISION)).moves
    assert not parse_command(json.dumps({**PROVISION, "previous_mac": ""})).moves
    assert not parse_command(json.dumps({**PROVISION, "previous_mac": PROVISION["mac"]})).moves
    with pytest.raises(InvalidCommand, match="previous_mac"):
        parse_command(json.dumps({**PROVISION, "previous_mac": "old-phone"}))


def test_the_move_ends_every_other_device_or_the_previous_one():
    """Given a moved access
    When its user's active/cookie rows are sorted
    Then with a MAC in the command every other device's row is stale (MACs compared in any case
    or separator); without one, only the previous device's."""
    moved = parse_command(json.dumps({**PROVISION, "previous_mac": "AA:BB:CC:DD:EE:01"}))
    assert moved.stale_device({"mac-address": "AA:BB:CC:DD:EE:01"})
    assert moved.stale_device({"mac-address": "11:22:33:44:55:66"})
    assert not moved.stale_device({"mac-address": "aa-bb-cc-dd-ee-ff"})
    no_mac = parse_command(json.dumps({**PROVISION, "mac": None, "previous_mac": "AA:BB:CC:DD:EE:01"}))
    assert no_mac.stale_device({"mac-address": "aa:bb:cc:dd:ee:01"})
    assert not no_mac.stale_device({"mac-address": "11:22:33:44:55:66"})


def test_muda_always_tags_its_users():
    """Given commands with Muda's comment, another comment, or none
    When the user's attributes are built
    Then the comment always starts with 'muda ' (else Muda would take its own user for the
    operator's), and only such users and muda-… profiles count as Muda's."""
    comments = [
        parse_command(json.dumps({**PROVISION, "comment": c})).user_attributes()["comment"]
        for c in ("muda sub_1 until 2026-11-25T15:00:00Z", "voucher ABCDE", None)
    ]
    assert comments == ["muda sub_1 until 2026-11-25T15:00:00Z", "muda sub_1 voucher ABCDE", "muda sub_1"]
    assert owned_user({"comment": "muda sub_9 until x"})
    assert not any(owned_user(r) for r in ({"comment": "muda"}, {"comment": "staff phone"}, {}))
    assert owned_profile("muda-pkg_1h") and not owned_profile("default")


def test_a_conflict_reason_names_router_and_user():
    text = reason(Conflict("user", "u2547", "it has no comment"), "'Shop' rtr_1 (10.0.0.1:8728)")
    assert text.startswith("conflict: router 'Shop' rtr_1") and "'u2547'" in text and "will not retry" in text
    text = reason(Conflict("user profile", "default", "not muda-…"), "rtr_1 (10.0.0.1:8728)")
    assert text.startswith("conflict: the command's hotspot user profile 'default' is not Muda's")
