"""The provisioner's rules, free of AWS and sockets: commands, retries, and reasons for failures."""

from __future__ import annotations

import json
import re
import socket
import ssl
from dataclasses import dataclass
from typing import Any

from librouteros.exceptions import ConnectionClosed, FatalError, MultiTrapError, ProtocolError, TrapError

DURATION = re.compile(r"^(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?$")
MAC = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
RATE = re.compile(r"^[0-9]+[kKmMgG]?(/[0-9]+[kKmMgG]?)?$")
IPV4 = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")
NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")
ANY_MAC = "00:00:00:00:00:00"  # RouterOS: a hotspot user bound to no MAC
# What marks Muda's rows on a router. A hotspot user is Muda's when its comment starts with
# MUDA_TAG (``muda <subscription_id> until <iso>``); a profile is Muda's when its name starts with
# PROFILE_PREFIX (``muda-<package>``): RouterOS profiles carry no comment. Anything else is the
# operator's and is never set nor removed.
MUDA_TAG = "muda "
PROFILE_PREFIX = "muda-"

# Subscription provision_status values (the contract with the payments side).
PENDING, PROVISIONED, FAILED, DEPROVISIONED = "pending", "provisioned", "provision_failed", "deprovisioned"


class InvalidCommand(ValueError):
    """A message no retry can fix; it goes to the DLQ at once, with this reason."""


class RouterLoginRefused(Exception):
    """The router refused the API login (wrong user/password, or no ``api`` policy)."""


class NotReady(Exception):
    """The subscription is not (yet) as the command expects; retried like a router failure."""


class Conflict(Exception):
    """The router has a row of the command's name that Muda did not create (the operator's):
    Muda leaves it as it is and gives up at once, since no retry can help until the operator acts."""

    def __init__(self, kind: str, name: str, detail: str) -> None:
        super().__init__(f"{kind} {name!r}: {detail}")
        self.kind, self.name, self.detail = kind, name, detail

    def describe(self, where: str) -> str:
        """The operator-facing reason (``provision_error``, ``muda failed list``, the event)."""
        if self.kind != "user":  # a profile: refused by its name, whether or not it exists
            return (
                f"conflict: the command's hotspot {self.kind} {self.name!r} is not Muda's to write on "
                f"router {where} ({self.detail}); nothing was changed and it will not be retried"
            )
        return (
            f"conflict: router {where} already has a hotspot user {self.name!r} that Muda did "
            f"not create ({self.detail}); Muda left it untouched and will not retry. Rename or remove "
            f"it on the router, then retry the command (muda failed retry)"
        )


def owned_user(row: dict[str, Any]) -> bool:
    """Whether a ``/ip/hotspot/user`` row is Muda's (its comment carries Muda's tag)."""
    comment = row.get("comment")
    return isinstance(comment, str) and comment.startswith(MUDA_TAG)


def owned_profile(name: str) -> bool:
    """Whether a profile name is Muda's to write (``muda-<package>``)."""
    return name.startswith(PROFILE_PREFIX)


def same_mac(a: Any, b: str | None) -> bool:
    """MACs compared as RouterOS may print them (case, ``-`` or ``:``)."""
    return b is not None and str(a or "").upper().replace("-", ":") == b


@dataclass(frozen=True)
class Profile:
    name: str
    rate_limit: str | None = None
    shared_users: int = 1
    session_timeout: str | None = None

    def attributes(self) -> dict[str, str]:
        """The ``/ip/hotspot/user/profile`` attributes this profile sets."""
        attrs = {"shared-users": str(self.shared_users)}
        if self.rate_limit:
            attrs["rate-limit"] = self.rate_limit
        if self.session_timeout:
            attrs["session-timeout"] = self.session_timeout
        return attrs


@dataclass(frozen=True)
class Command:
    """One provisioning-queue message: ``provision`` (upsert) or ``deprovision`` (remove)."""

    action: str
    subscription_id: str
    router_id: str
    version: int
    username: str
    password: str | None = None
    profile: Profile | None = None
    limit_uptime: str | None = None
    limit_bytes_total: int | None = None
    comment: str | None = None
    mac: str | None = None
    ip: str | None = None
    previous_mac: str | None = None  # the access moved from that device: end its session

    def user_attributes(self) -> dict[str, str]:
        """The ``/ip/hotspot/user`` attributes of a provision. Absent limits are written as 0
        (RouterOS: unlimited) so that a renewal without a limit clears the old one."""
        assert self.profile is not None
        return {
            "password": self.password or "",
            "profile": self.profile.name,
            "limit-uptime": self.limit_uptime or "0s",
            "limit-bytes-total": str(self.limit_bytes_total or 0),
            "mac-address": self.mac or ANY_MAC,
            "comment": self.user_comment,
            "disabled": "no",
        }

    @property
    def user_comment(self) -> str:
        """The user's comment, always with Muda's tag: without it, Muda would later take its own
        user for the operator's."""
        if self.comment and self.comment.startswith(MUDA_TAG):
            return self.comment
        return f"{MUDA_TAG}{self.subscription_id}" + (f" {self.comment}" if self.comment else "")

    @property
    def moves(self) -> bool:
        """Whether the access moved from another device whose session must end."""
        return self.action == "provision" and bool(self.previous_mac) and self.previous_mac != self.mac

    def stale_device(self, row: dict[str, Any]) -> bool:
        """An ``/ip/hotspot/active`` or ``/cookie`` row of the user that the move ends: any device
        but the command's (or, without a MAC in the command, the previous device only)."""
        if self.mac:
            return not same_mac(row.get("mac-address"), self.mac)
        return same_mac(row.get("mac-address"), self.previous_mac)

    @property
    def logs_in(self) -> bool:
        """Whether to log the client's device straight in (the portal knows its IP and MAC)."""
        return self.action == "provision" and bool(self.ip and self.mac)

    def ids(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "router_id": self.router_id,
            "username": self.username,
            "version": self.version,
            "action": self.action,
        }


def _text(
    body: dict[str, Any], key: str, pattern: re.Pattern[str] | None = None, required: bool = True
) -> Any:
    value = body.get(key)
    if value is None or (value == "" and not required):  # an optional field may come empty
        if required:
            raise InvalidCommand(f"{key} is required")
        return None
    if not isinstance(value, str) or not value:
        raise InvalidCommand(f"{key} must be a non-empty string")
    if pattern and not pattern.match(value):
        raise InvalidCommand(f"{key} {value!r} is malformed")
    return value


def _whole(value: Any, key: str, minimum: int) -> int:
    """A whole number (``3`` or ``3.0``: a JSON encoder may write either), at least ``minimum``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value != int(value)
        or value < minimum
    ):
        raise InvalidCommand(f"{key} must be a whole number >= {minimum}, not {value!r}")
    return int(value)


def _mac(body: dict[str, Any], key: str) -> str | None:
    mac = _text(body, key, required=False)
    if mac is not None:
        mac = mac.upper()
        if not MAC.match(mac):
            raise InvalidCommand(f"{key} {mac!r} is not like AA:BB:CC:DD:EE:FF")
    return mac


def _duration(body: dict[str, Any], key: str) -> str | None:
    value = _text(body, key, required=False)
    if value is not None and (not DURATION.match(value) or value == ""):
        raise InvalidCommand(f"{key} {value!r} is not a RouterOS duration like 1h30m")
    return value


def parse_command(raw: str) -> Command:
    """The command in a message body, validated; ``InvalidCommand`` says what is wrong."""
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise InvalidCommand(f"body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise InvalidCommand("body must be a JSON object")
    action = body.get("action")
    if action not in ("provision", "deprovision", "disconnect"):
        raise InvalidCommand(f"action must be provision, deprovision or disconnect, not {action!r}")
    version = _whole(body.get("version"), "version", minimum=0)
    mac = _mac(body, "mac")
    common = {
        "action": action,
        "subscription_id": _text(body, "subscription_id"),
        "router_id": _text(body, "router_id"),
        "version": version,
        "username": _text(body, "username", NAME),
        "mac": mac,
    }
    if action in ("deprovision", "disconnect"):  # disconnect: a RADIUS-mode router's session
        return Command(**common)
    ip = _text(body, "ip", required=False)
    if ip is not None and not (IPV4.match(ip) and all(int(p) < 256 for p in ip.split("."))):
        raise InvalidCommand(f"ip {ip!r} is not an IPv4 address")
    profile = body.get("profile")
    if not isinstance(profile, dict):
        raise InvalidCommand("profile is required")
    shared = _whole(profile.get("shared_users", 1), "profile.shared_users", minimum=1)
    limit_bytes = body.get("limit_bytes_total")
    if limit_bytes is not None:
        limit_bytes = _whole(limit_bytes, "limit_bytes_total", minimum=0)
    return Command(
        **common,
        password=_text(body, "password"),
        profile=Profile(
            name=_text(profile, "name", NAME),
            rate_limit=_text(profile, "rate_limit", RATE, required=False),
            shared_users=shared,
            session_timeout=_duration(profile, "session_timeout"),
        ),
        limit_uptime=_duration(body, "limit_uptime"),
        limit_bytes_total=limit_bytes,
        comment=_text(body, "comment", required=False),
        ip=ip,
        previous_mac=_mac(body, "previous_mac"),
    )


def visibility_after(attempt: int, backoff: tuple[int, ...]) -> int | None:
    """Seconds until try ``attempt + 1`` (by visibility timeout), or ``None`` after the last try."""
    if attempt > len(backoff):
        return None
    return backoff[max(attempt, 1) - 1]


def is_superseded(command: Command, subscription: dict[str, Any]) -> bool:
    """A newer command (a renewal's) owns the subscription, or it is gone from the router for
    good: this command must not touch the router."""
    version = int(subscription.get("provision_version", 0))
    if version > command.version:
        return True
    return command.action == "provision" and subscription.get("provision_status") == DEPROVISIONED


def reason(error: BaseException, where: str) -> str:
    """A clear, recorded reason for a failed try (shown in the subscription and `muda failed`)."""
    if isinstance(error, Conflict):
        return error.describe(where)
    if isinstance(error, RouterLoginRefused):
        return f"login refused by router {where}: {error} (check the API user, its secret, its api policy)"
    if isinstance(error, ConnectionRefusedError):
        return f"router {where} refused the connection (API service off, or router down)"
    if isinstance(error, ssl.SSLError):
        return f"router {where} failed the TLS handshake (API-SSL certificate): {error.reason or error}"
    if isinstance(error, TimeoutError | socket.timeout):
        return f"router {where} did not answer in time"
    if isinstance(error, MultiTrapError | TrapError):
        return f"router {where} refused a command: {error}"
    if isinstance(error, FatalError):
        return f"router {where} ended the session: {error}"
    if isinstance(error, ConnectionClosed):
        return f"router {where} closed the connection"
    if isinstance(error, ProtocolError):
        return f"router {where} spoke an unexpected protocol: {error}"
    if isinstance(error, OSError):
        return f"router {where} unreachable: {error.strerror or error}"
    if isinstance(error, NotReady):
        return str(error)
    return f"{type(error).__name__}: {error}"
