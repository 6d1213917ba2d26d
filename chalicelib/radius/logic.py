"""RADIUS rules without AWS: reading what rlm_rest sends, who may log in and what the router is
told, and what an accounting packet says. Every refusal carries a reason the login page shows."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from chalicelib.hotspot.vouchers import logic as vouchers

USERNAME = re.compile(r"^m[17]\d{8}$")  # hotspot logic.new_credentials: "m" + the phone's last 9
MAC = re.compile(r"^([0-9A-F]{2}[:-]){5}[0-9A-F]{2}$")
GIGA = 1 << 32
CLASS_PREFIX = "muda:"

# Reasons (machine code → what the login page shows in Reply-Message).
REASONS = {
    "unknown_nas": "This hotspot is not registered with Muda.",
    "not_radius": "This hotspot is not set up for RADIUS logins.",
    "unknown_user": "Unknown user. Check the username on your M-Pesa receipt page.",
    "unpaid": "You have no package on this hotspot. Buy one on this page.",
    "wrong_router": "Your package was bought for another hotspot.",
    "expired": "Your package has expired. Buy a new one on this page.",
    "data_used_up": "Your package's data is used up. Buy a new one on this page.",
    "time_used_up": "Your package's online time is used up. Buy a new one on this page.",
    "other_device": "Your package is tied to another device.",
}
STATUS_TYPES = {"Start": "start", "Interim-Update": "interim", "Stop": "stop"}
HOUSEKEEPING = {"Accounting-On", "Accounting-Off"}


class Malformed(ValueError):
    """An rlm_rest body Muda cannot read (answered 400, changing nothing)."""


def attributes(body: Any) -> dict[str, str]:
    """rlm_rest's JSON body (``{"User-Name": {"type": "string", "value": ["bob"]}}``) as one
    string per attribute (the first value); plain ``{"User-Name": "bob"}`` is taken too."""
    if not isinstance(body, dict) or not body:
        raise Malformed("the body must be a JSON object of RADIUS attributes")
    found: dict[str, str] = {}
    for name, entry in body.items():
        if not isinstance(name, str) or len(name) > 64:
            raise Malformed("attribute names must be strings")
        value = entry.get("value") if isinstance(entry, dict) else entry
        if isinstance(value, list):
            value = value[0] if value else None
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise Malformed(f"{name} has an unreadable value")
        text = str(value)
        if len(text) > 253:  # no RADIUS attribute is longer
            raise Malformed(f"{name} is longer than a RADIUS attribute can be")
        found[name] = text
    return found


def phone_of(username: str | None) -> str | None:
    """Who owns a hotspot username: the buyer's phone (``m712345678`` → ``254712345678``), or a
    voucher's code, which is its own username (``ABCDEFGHJK`` → ``voucher:ABCDEFGHJK``)."""
    if username and USERNAME.match(username):
        return "254" + username[1:]
    if vouchers.is_code(username):
        return vouchers.buyer(username or "")
    return None


def mac_of(value: str | None) -> str | None:
    """Calling-Station-Id as ``AA:BB:CC:DD:EE:FF`` (``None`` if absent or not a MAC)."""
    mac = (value or "").strip().upper().replace("-", ":")
    return mac if MAC.match(mac) else None


def counter(attrs: dict[str, str], name: str) -> int:
    """A 64-bit octet counter: ``Acct-<name>-Octets`` plus its ``-Gigawords`` times 2^32."""
    try:
        low = int(attrs.get(f"Acct-{name}-Octets", "0") or 0)
        high = int(attrs.get(f"Acct-{name}-Gigawords", "0") or 0)
    except ValueError:
        raise Malformed(f"Acct-{name}-Octets/Gigawords must be numbers") from None
    if low < 0 or high < 0 or low >= GIGA or high >= GIGA:
        raise Malformed(f"Acct-{name}-Octets/Gigawords out of range")
    return high * GIGA + low


def class_value(subscription_id: str, budget: int | None) -> str:
    """The ``Class`` an Access-Accept carries and the router echoes in every accounting packet:
    the subscription (so accounting needs no lookup) and the bytes it had left."""
    return f"{CLASS_PREFIX}{subscription_id}:{'-' if budget is None else budget}"


def parse_class(raw: str | None) -> tuple[str, int | None] | None:
    """``(subscription_id, budget)`` from an echoed ``Class`` (rlm_rest sends octets as hex)."""
    if not raw:
        return None
    text = raw
    if raw.startswith("0x"):
        try:
            text = bytes.fromhex(raw[2:]).decode("ascii")
        except ValueError:
            return None
    parts = text.split(":")
    if (
        len(parts) != 3
        or f"{parts[0]}:" != CLASS_PREFIX
        or not re.match(r"^sub_[A-Za-z0-9]{1,40}$", parts[1])
    ):
        return None
    if parts[2] == "-":
        return parts[1], None
    return (parts[1], int(parts[2])) if parts[2].isdigit() else None


@dataclass(frozen=True)
class Usage:
    """What a subscription's accounting adds up to."""

    octets: int = 0
    seconds: int = 0


@dataclass(frozen=True)
class Subscription:
    """What Authorize needs of a hotspot subscription."""

    subscription_id: str
    router_id: str
    username: str
    password: str
    status: str
    expires_at: float
    rate_limit: str | None = None
    limit_bytes_total: int | None = None
    limit_uptime_seconds: int | None = None
    shared_users: int = 1
    mac: str | None = None


@dataclass(frozen=True)
class Answer:
    """Access-Accept (``reply`` and ``control`` attributes) or Access-Reject (``reason``)."""

    accept: bool
    reason: str | None = None
    reply: dict[str, Any] = field(default_factory=dict)
    control: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str | None:
        return REASONS.get(self.reason or "")

    def body(self) -> dict[str, Any]:
        """rlm_rest's response body: ``list:Attribute`` → value."""
        if not self.accept:
            return {"reply:Reply-Message": self.message}
        return {
            **{f"control:{k}": v for k, v in self.control.items()},
            **{f"reply:{k}": v for k, v in self.reply.items()},
        }


def reject(reason: str) -> Answer:
    return Answer(False, reason)


def decide(
    sub: Subscription,
    usage: Usage,
    now: float,
    *,
    mac: str | None,
    interim_seconds: int,
    idle_seconds: int | None,
) -> Answer:
    """Accept with what is left of the subscription (time, data, uptime), or say why not.

    ``Session-Timeout`` is the seconds left, rounded up (never the package length), so the
    router ends the session at the expiry itself; the Disconnect at expiry is the backstop."""
    left = sub.expires_at - now
    if sub.status != "active" or left <= 0:
        return reject("expired")
    bytes_left = None if sub.limit_bytes_total is None else sub.limit_bytes_total - usage.octets
    if bytes_left is not None and bytes_left <= 0:
        return reject("data_used_up")
    timeout = math.ceil(left)
    if sub.limit_uptime_seconds is not None:
        uptime_left = sub.limit_uptime_seconds - usage.seconds
        if uptime_left <= 0:
            return reject("time_used_up")
        timeout = min(timeout, uptime_left)
    if sub.shared_users == 1 and sub.mac and mac and mac != sub.mac:
        return reject("other_device")
    reply: dict[str, Any] = {
        "Session-Timeout": timeout,
        "Acct-Interim-Interval": interim_seconds,
        "Class": class_value(sub.subscription_id, bytes_left),
    }
    if sub.rate_limit:
        reply["Mikrotik-Rate-Limit"] = sub.rate_limit
    if bytes_left is not None:
        reply["Mikrotik-Total-Limit"] = bytes_left % GIGA
        if bytes_left >= GIGA:
            reply["Mikrotik-Total-Limit-Gigawords"] = bytes_left // GIGA
    if idle_seconds:
        reply["Idle-Timeout"] = idle_seconds
    return Answer(True, reply=reply, control={"Cleartext-Password": sub.password})


@dataclass(frozen=True)
class Report:
    """One accounting packet, read."""

    kind: str  # start | interim | stop
    unique_id: str
    session_id: str | None
    username: str | None
    input_octets: int
    output_octets: int
    session_time: int
    mac: str | None
    ip: str | None
    cause: str | None

    @property
    def octets(self) -> int:
        return self.input_octets + self.output_octets


def report(attrs: dict[str, str]) -> Report | None:
    """The accounting packet (``None`` for Accounting-On/Off, which record nothing)."""
    status = attrs.get("Acct-Status-Type")
    if status in HOUSEKEEPING:
        return None
    if status not in STATUS_TYPES:
        raise Malformed(f"Acct-Status-Type {status!r} is not Start, Interim-Update or Stop")
    unique = attrs.get("Acct-Unique-Session-Id")
    if not unique or not re.match(r"^[A-Za-z0-9_.:@\-]{1,128}$", unique):
        raise Malformed("Acct-Unique-Session-Id is missing or malformed")
    try:
        seconds = int(attrs.get("Acct-Session-Time", "0") or 0)
    except ValueError:
        raise Malformed("Acct-Session-Time must be a number") from None
    if seconds < 0 or seconds >= GIGA:
        raise Malformed("Acct-Session-Time out of range")
    return Report(
        kind=STATUS_TYPES[status],
        unique_id=unique,
        session_id=attrs.get("Acct-Session-Id"),
        username=attrs.get("User-Name"),
        input_octets=counter(attrs, "Input"),
        output_octets=counter(attrs, "Output"),
        session_time=seconds,
        mac=mac_of(attrs.get("Calling-Station-Id")),
        ip=attrs.get("Framed-IP-Address"),
        cause=attrs.get("Acct-Terminate-Cause"),
    )


def used_up(limit: int | None, usage: Usage) -> bool:
    return limit is not None and usage.octets >= limit


def disconnect_command(sub: dict[str, Any], reason: str) -> dict[str, Any]:
    """The provisioning-queue message that makes the router provisioner send a Disconnect-Request
    (the contract in ``functions/router_provisioner/logic.py``)."""
    return {
        "action": "disconnect",
        "subscription_id": sub["subscription_id"],
        "router_id": sub["router_id"],
        "version": int(sub.get("provision_version", 0)),
        "username": sub["username"],
        "mac": sub.get("mac"),
        "reason": reason,
    }
