"""RADIUS rules without AWS: what an Access-Accept carries, why a login is refused, and how
rlm_rest's bodies and accounting packets are read."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.radius import logic

NOW = 1_800_000_000.0
SUB = logic.Subscription(
    subscription_id="sub_abc",
    router_id="rtr_a",
    username="m712345678",
    password="pw",
    status="active",
    expires_at=NOW + 100.4,
    rate_limit="2M/5M",
    shared_users=1,
    mac="AA:BB:CC:DD:EE:FF",
)
NONE_USED = logic.Usage()


def decide(
    sub: logic.Subscription = SUB, usage: logic.Usage = NONE_USED, mac: str | None = None
) -> logic.Answer:
    return logic.decide(sub, usage, NOW, mac=mac, interim_seconds=300, idle_seconds=None)


def test_accept_carries_seconds_left_rate_limit_interim_and_class() -> None:
    # Given an active subscription with 100.4 s left / When asked / Then its password and what is left
    answer = decide()
    assert answer.accept
    assert answer.control == {"Cleartext-Password": "pw"}
    assert answer.reply["Session-Timeout"] == 101  # rounded up: never cut a paid second
    assert answer.reply["Mikrotik-Rate-Limit"] == "2M/5M"
    assert answer.reply["Acct-Interim-Interval"] == 300
    assert logic.parse_class(answer.reply["Class"]) == ("sub_abc", None)
    assert "Mikrotik-Total-Limit" not in answer.reply and "Idle-Timeout" not in answer.reply


def test_data_left_above_4_gib_is_split_into_gigawords() -> None:
    # Given 5 GiB + 1000 bytes bought and 500 used / Then Total-Limit 500 and Gigawords 5
    answer = decide(replace(SUB, limit_bytes_total=5 * 2**32 + 1000), logic.Usage(500, 0))
    assert (answer.reply["Mikrotik-Total-Limit"], answer.reply["Mikrotik-Total-Limit-Gigawords"]) == (500, 5)
    assert logic.parse_class(answer.reply["Class"]) == ("sub_abc", 5 * 2**32 + 500)


def test_uptime_left_shortens_the_session_timeout() -> None:
    answer = decide(replace(SUB, limit_uptime_seconds=60), logic.Usage(0, 20))
    assert answer.reply["Session-Timeout"] == 40


@pytest.mark.parametrize(
    ("sub", "usage", "mac", "reason"),
    [
        (replace(SUB, status="expired"), logic.Usage(), None, "expired"),
        (replace(SUB, expires_at=NOW), logic.Usage(), None, "expired"),
        (replace(SUB, limit_bytes_total=1000), logic.Usage(1000, 0), None, "data_used_up"),
        (replace(SUB, limit_uptime_seconds=60), logic.Usage(0, 60), None, "time_used_up"),
        (SUB, logic.Usage(), "11:22:33:44:55:66", "other_device"),
    ],
)
def test_refusals_say_why(sub: logic.Subscription, usage: logic.Usage, mac: str | None, reason: str) -> None:
    answer = decide(sub, usage, mac)
    assert not answer.accept and answer.reason == reason
    assert answer.body() == {"reply:Reply-Message": logic.REASONS[reason]}


def test_a_shared_package_or_the_bought_device_is_not_refused_for_its_mac() -> None:
    assert decide(replace(SUB, shared_users=2), mac="11:22:33:44:55:66").accept
    assert decide(mac=logic.mac_of("aa-bb-cc-dd-ee-ff")).accept


def test_rlm_rest_bodies_are_read_and_anything_else_is_malformed() -> None:
    body = {
        "User-Name": {"type": "string", "value": ["m712345678"]},
        "NAS-Port": {"value": [3]},
        "X": {"value": []},
    }
    assert logic.attributes(body) == {"User-Name": "m712345678", "NAS-Port": "3"}
    for bad in ([], {}, {"User-Name": {"value": [{"a": 1}]}}, {"User-Name": "x" * 300}, {"A": True}):
        with pytest.raises(logic.Malformed):
            logic.attributes(bad)


def test_usernames_and_classes() -> None:
    assert logic.phone_of("m712345678") == "254712345678"
    assert logic.phone_of("admin") is None and logic.phone_of("m71234567") is None
    hexed = "0x" + b"muda:sub_X1:42".hex()
    assert logic.parse_class(hexed) == ("sub_X1", 42)
    for bad in ("", "0xzz", "muda:sub_x", "other:sub_x:1", "muda:bad id:1", "muda:sub_x:-1"):
        assert logic.parse_class(bad) is None


def test_accounting_packets_are_read_with_gigawords() -> None:
    report = logic.report(
        {
            "Acct-Status-Type": "Interim-Update",
            "Acct-Unique-Session-Id": "abc123",
            "Acct-Input-Octets": "10",
            "Acct-Input-Gigawords": "1",
            "Acct-Output-Octets": "5",
            "Acct-Session-Time": "60",
            "Calling-Station-Id": "aa-bb-cc-dd-ee-ff",
        }
    )
    assert report is not None
    assert (report.kind, report.octets, report.session_time, report.mac) == (
        "interim",
        2**32 + 15,
        60,
        "AA:BB:CC:DD:EE:FF",
    )
    assert logic.report({"Acct-Status-Type": "Accounting-On"}) is None
    for bad in (
        {"Acct-Status-Type": "Bogus", "Acct-Unique-Session-Id": "a"},
        {"Acct-Status-Type": "Start"},
        {"Acct-Status-Type": "Start", "Acct-Unique-Session-Id": "a", "Acct-Input-Octets": "-1"},
        {"Acct-Status-Type": "Start", "Acct-Unique-Session-Id": "a", "Acct-Session-Time": "x"},
    ):
        with pytest.raises(logic.Malformed):
            logic.report(bad)
