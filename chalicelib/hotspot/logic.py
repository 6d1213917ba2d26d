"""Hotspot rules without AWS: MAC formats, RouterOS durations, renewals, the provisioning
commands and what the buyer is shown (a payment's rules are ``chalicelib.payments.logic``)."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# The payment rules the hotspot shows its buyers, under the names its callers use.
from chalicelib.payments.logic import CANCELLED as CANCELLED
from chalicelib.payments.logic import FAILED as FAILED
from chalicelib.payments.logic import HASHED_MSISDN as HASHED_MSISDN
from chalicelib.payments.logic import HELD as HELD
from chalicelib.payments.logic import PAID as PAID
from chalicelib.payments.logic import PENDING as PENDING
from chalicelib.payments.logic import PHONE as PHONE
from chalicelib.payments.logic import InvalidInput as InvalidInput
from chalicelib.payments.logic import mask_phone as mask_phone
from chalicelib.payments.logic import normalize_phone as normalize_phone
from chalicelib.payments.logic import payer_keys as payer_keys
from chalicelib.payments.logic import phone_hash as phone_hash

MAC = re.compile(r"^([0-9A-F]{2}:){5}[0-9A-F]{2}$")
RATE_LIMIT = re.compile(r"^\d+[kKmMgG]?/\d+[kKmMgG]?$")

ACTIVE, EXPIRED = "active", "expired"


def normalize_mac(raw: str) -> str:
    mac = (raw or "").strip().upper().replace("-", ":")
    if not MAC.match(mac):
        raise InvalidInput("mac_address must look like AA:BB:CC:DD:EE:FF")
    return mac


def routeros_duration(seconds: int | float) -> str:
    """Seconds → RouterOS duration (``1d2h30m``; ``0s`` for nothing)."""
    total = max(0, int(seconds))
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_credentials(phone: str) -> tuple[str, str]:
    """A hotspot username (stable per phone) and a random password to type on the router page."""
    username = "m" + phone[-9:]
    alphabet = string.ascii_lowercase.replace("l", "") + "23456789"
    return username, "".join(secrets.choice(alphabet) for _ in range(8))


@dataclass(frozen=True)
class Sale:
    """What buys access, whatever paid for it: an M-Pesa payment (STK push or Paybill/Till) or a
    voucher. The grant (``service.purchase.grant_access``) and the subscription it writes read
    only this."""

    buyer: str  # the paying phone (2547…), or ``voucher:<code>``: the CURRENT pointer's owner
    router_id: str
    package_id: str
    package: dict[str, Any]  # the package as sold (``PackageItem.snapshot``)
    source: str  # the payment id, or ``voucher:<code>`` (the subscription's ``last_payment_id``)
    mac: str | None = None
    ip: str | None = None
    credentials: tuple[str, str] | None = None  # fixed username/password (a voucher's code)


@dataclass(frozen=True)
class Term:
    """A subscription's paid-for access after a purchase (new or renewed)."""

    starts_at: float
    expires_at: float
    limit_uptime_seconds: int | None
    limit_bytes_total: int | None


def purchase_term(
    now: float,
    validity_seconds: int,
    limit_uptime_seconds: int | None,
    limit_bytes_total: int | None,
    current: Term | None = None,
) -> Term:
    """A new term, or the current one extended: validity is added to the later of now and the
    current expiry; uptime and data caps add up (RouterOS counts them cumulatively per user)."""
    if current is None or current.expires_at <= now:
        return Term(now, now + validity_seconds, limit_uptime_seconds, limit_bytes_total)

    def add(a: int | None, b: int | None) -> int | None:
        return None if a is None or b is None else a + b

    return Term(
        current.starts_at,
        current.expires_at + validity_seconds,
        add(current.limit_uptime_seconds, limit_uptime_seconds),
        add(current.limit_bytes_total, limit_bytes_total),
    )


@dataclass(frozen=True)
class Purchase:
    """What a paid payment buys: a new subscription (version 1), or the buyer's active one on
    this router extended (its next provisioning version)."""

    term: Term
    renewal: bool
    version: int


def plan_purchase(
    now: float,
    package: dict[str, Any],
    active: Term | None = None,
    active_version: int = 0,
) -> Purchase:
    """``package`` is the payment's snapshot of its package; ``active`` the term of the buyer's
    subscription on this router while it is active (``None`` otherwise)."""
    term = purchase_term(
        now,
        package["validity_seconds"],
        package["limit_uptime_seconds"],
        package["limit_bytes_total"],
        active,
    )
    if active is None:
        return Purchase(term, renewal=False, version=1)
    return Purchase(term, renewal=True, version=active_version + 1)


def still_active(status: str, expires_at: float, now: float) -> bool:
    """A subscription a purchase extends: active and not yet past its expiry."""
    return status == ACTIVE and expires_at > now


def provision_command(
    *,
    subscription_id: str,
    router_id: str,
    version: int,
    username: str,
    password: str,
    package_id: str,
    rate_limit: str | None,
    shared_users: int,
    term: Term,
    now: float,
    mac: str | None,
    ip: str | None,
    previous_mac: str | None = None,
) -> dict[str, Any]:
    """The provisioning queue message (the contract with the router provisioner).

    ``previous_mac``: the access moved from that device (a reconnect of a one-device package):
    the provisioner removes the user's sessions and cookies from any other MAC; the key is sent
    only then (absent means none, as for commands from before it existed)."""
    command = {
        "action": "provision",
        "subscription_id": subscription_id,
        "router_id": router_id,
        "version": version,
        "username": username,
        "password": password,
        "profile": {
            "name": f"muda-{package_id}",
            "rate_limit": rate_limit,
            "shared_users": shared_users,
            "session_timeout": routeros_duration(term.expires_at - now),
        },
        "limit_uptime": routeros_duration(term.limit_uptime_seconds) if term.limit_uptime_seconds else None,
        "limit_bytes_total": term.limit_bytes_total,
        "comment": f"muda {subscription_id} until {iso(term.expires_at)}",
        "mac": mac,
        "ip": ip,
    }
    if previous_mac is not None:
        command["previous_mac"] = previous_mac
    return command


def deprovision_command(
    *, subscription_id: str, router_id: str, version: int, username: str, mac: str | None
) -> dict[str, Any]:
    return {
        "action": "deprovision",
        "subscription_id": subscription_id,
        "router_id": router_id,
        "version": version,
        "username": username,
        "mac": mac,
    }


def public_state(
    payment_status: str, provision_status: str | None, paid_version: int | None, sub_version: int | None
) -> str:
    """What the portal shows: pending → paid → provisioned, or failed/cancelled/provision_failed."""
    if payment_status != PAID:
        return payment_status
    if sub_version is not None and paid_version is not None and sub_version > paid_version:
        return "provisioned"  # renewed again since: this purchase's access is on the router
    if provision_status == "provisioned":
        return "provisioned"
    if provision_status == "provision_failed":
        return "provision_failed"
    if provision_status == "deprovisioned":
        return "expired"
    return PAID


def subscription_state(status: str, provision_status: str | None, version: int | None) -> str:
    """What the portal's access view shows of a subscription, whatever paid for it: its current
    version's ``public_state``, or ``expired`` once it ended (told to the router or not yet)."""
    if status == EXPIRED:
        return "expired"
    return public_state(PAID, provision_status, version, version)


# --- Paybill account numbers, receipts, and moving an access to another device --------------------

# Typeable on a phone keypad menu and read aloud without doubt: no 0/O, 1/I (the vouchers' alphabet).
ACCOUNT_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
ACCOUNT_LENGTH = 6  # 32^6 ≈ 10^9 numbers: a random one is free at the first try
ACCOUNT = re.compile(rf"^[{ACCOUNT_ALPHABET}]{{{ACCOUNT_LENGTH}}}$")
RECEIPT = re.compile(r"^[A-Z0-9]{8,20}$")


def new_account_number() -> str:
    return "".join(secrets.choice(ACCOUNT_ALPHABET) for _ in range(ACCOUNT_LENGTH))


def normalize_account(raw: str | None) -> str | None:
    """What a payer typed as the Paybill account (any case, spaces or hyphens) → the number, or
    ``None`` when it cannot be one of ours."""
    text = re.sub(r"[\s\-]", "", raw or "").upper()
    return text if ACCOUNT.match(text) else None


def normalize_receipt(raw: str) -> str:
    """An M-Pesa receipt (or C2B TransID) as typed from the SMS: any case, spaces dropped."""
    text = re.sub(r"\s", "", raw or "").upper()
    if not RECEIPT.match(text):
        raise InvalidInput("receipt must be the M-Pesa code from the SMS, such as NLJ7RT61SV")
    return text


def buyer_of(payer: str, trans_id: str) -> str:
    """Whose hotspot user a C2B payment buys for: the payer's number or hash; a masked MSISDN
    (``2547 ***** 126``) is many people, so such a payment is a buyer of its own (its TransID)."""
    if PHONE.match(payer) or HASHED_MSISDN.match(payer):
        return payer
    return f"c2b:{trans_id}"


def paid_by(payer: str, phone: str) -> bool:
    """Whether a payment's payer (a number, the hash Safaricom sent, or its mask such as
    ``2547 ***** 126``: the digits it shows must be this phone's, at least 6 of them) is this
    phone. A mask matches only beside a receipt (the reconnect), never to find a payment."""
    if payer in payer_keys(phone):
        return True
    if "*" not in payer:
        return False
    parts = re.sub(r"\s", "", payer).split("*")
    head, tail = parts[0], parts[-1]
    if head.startswith("0"):
        head = "254" + head[1:]
    shown = len(head) + len(tail)
    return (
        shown >= 6 and head.isdigit() and tail.isdigit() and phone.startswith(head) and phone.endswith(tail)
    )


@dataclass(frozen=True)
class Move:
    """What binding an access to a device does: nothing new (the same device: the command is sent
    again), a first device (a Paybill payment came without one), or a move from another device
    (``previous`` is the device whose session the provisioner removes, one-device packages only)."""

    kind: str  # same | first | moved | shared
    previous_mac: str | None = None

    @property
    def writes(self) -> bool:
        return self.kind in ("first", "moved")


class AlreadyClaimed(Exception):
    """A one-device access already bound to another device (claim it with the receipt instead)."""


def bind(current_mac: str | None, mac: str, shared_users: int, move: bool) -> Move:
    """Binding an access to ``mac``: a claim (``move=False``) takes an unbound access, and a
    shared one (more than one device) lets another device log in with its credentials; a
    reconnect (``move=True``) moves it, removing the old device's session when one device only."""
    if current_mac == mac:
        return Move("same")
    if current_mac is None:
        return Move("first")
    if move:
        return Move("moved", current_mac if shared_users <= 1 else None)
    if shared_users <= 1:
        raise AlreadyClaimed(current_mac)
    return Move("shared")
