"""Voucher rules without AWS: what a code looks like, what a batch's state is, whether a code
may be redeemed here by this device, and how a card shows its package."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.hotspot.logic import InvalidInput, Sale

# No 0/O, 1/I: a code read off paper and typed on a phone has nothing to confuse.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
LENGTH = 10  # 32^10 = 2^50 codes: a guesser limited per device and address never finds one
CODE = re.compile(f"^[{ALPHABET}]{{{LENGTH}}}$")
MAX_BATCH = 1000

# A code's own status. A revoked batch counts its unused and sold codes as revoked (their items
# keep their status; the batch's condition refuses them).
UNUSED, SOLD, USED, REVOKED = "unused", "sold", "used", "revoked"
REDEEMABLE = (UNUSED, SOLD)
# A batch's status: ``expired`` is not stored, it is an active batch past its ``valid_until``.
ACTIVE, EXPIRED = "active", "expired"

NAIROBI = ZoneInfo("Africa/Nairobi")  # what the printed card says (Kenyan operators, EAT)


def new_code() -> str:
    """An unguessable code (``secrets``: the OS's CSPRNG)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize_code(raw: str) -> str:
    """A code as typed (any case, spaces or hyphens) → as stored (``ABCDEFGHJK``)."""
    code = re.sub(r"[\s\-]", "", raw or "").upper()
    if not CODE.match(code):
        raise InvalidInput(f"a voucher code is {LENGTH} letters and digits, like ABCDE-FGHJK")
    return code


def is_code(text: str | None) -> bool:
    """Exactly a stored code (a RADIUS User-Name as the portal's auto-login sends it)."""
    return bool(text) and bool(CODE.match(text or ""))


def grouped(code: str) -> str:
    """As printed: ``ABCDE-FGHJK``."""
    half = LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def buyer(code: str) -> str:
    """The owner of a voucher's hotspot user and current pointer (in place of a phone)."""
    return f"voucher:{code}"


def batch_status(status: str, valid_until: float, now: float) -> str:
    """``revoked`` as stored; an active batch past its expiry is ``expired``."""
    if status == ACTIVE and valid_until <= now:
        return EXPIRED
    return status


def code_status(status: str, batch: str) -> str:
    """A code as the counts count it: a revoked batch's unused and sold codes are revoked."""
    return REVOKED if batch == REVOKED and status in REDEEMABLE else status


# The portal's refusals: the contract's error code → what the buyer is told.
REFUSALS = {
    "voucher_not_found": "We don't know this code. Check it and try again.",
    "voucher_used": "This code has already been used.",
    "voucher_revoked": "This code has been cancelled by the seller.",
    "voucher_expired": "This code has expired.",
    "voucher_not_for_router": "This code is not valid on this hotspot.",
}


class Refused(Exception):
    """Why a code cannot be redeemed here: ``code`` (a ``REFUSALS`` key) and its message."""

    def __init__(self, code: str) -> None:
        super().__init__(REFUSALS[code])
        self.code = code
        self.message = REFUSALS[code]


def verdict(
    *,
    status: str | None,
    used_by_mac: str | None,
    only_router: str | None,
    valid_until: float,
    batch: str | None,
    sold_here: bool,
    mac: str,
    router_id: str,
    now: float,
) -> str:
    """``redeem`` (try the write), ``replay`` (this device redeemed it already: a retried
    request), or raise ``Refused``. ``status`` is ``None`` for no such code; ``only_router`` the
    batch's router (``None``: any router the package is sold on); ``batch`` the batch's status
    and ``sold_here`` whether the package is sold on this router, as learnt when the write's
    conditions refused (``None`` / ``True`` before)."""
    if status is None:
        raise Refused("voucher_not_found")
    if status == USED:
        if used_by_mac == mac:
            return "replay"
        raise Refused("voucher_used")
    if status == REVOKED or batch == REVOKED:
        raise Refused("voucher_revoked")
    if (only_router is not None and router_id != only_router) or not sold_here:
        raise Refused("voucher_not_for_router")
    if valid_until <= now or batch == EXPIRED:
        raise Refused("voucher_expired")
    return "redeem"


def sale(
    code: str, router_id: str, package_id: str, package: dict[str, Any], mac: str, ip: str | None
) -> Sale:
    """What a voucher buys: its package as printed, for this device, with the code as the
    hotspot username and password."""
    return Sale(
        buyer=buyer(code),
        router_id=router_id,
        package_id=package_id,
        package=package,
        source=buyer(code),
        mac=mac,
        ip=ip,
        credentials=(code, code),
    )


# --- how a card shows it --------------------------------------------------------------------------


def human_duration(seconds: int | float) -> str:
    """``3600`` → ``1 hour``, ``93600`` → ``1 day 2 hours`` (the two largest units)."""
    left = max(0, int(seconds))
    parts = []
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts[:2]) or f"{int(seconds)} seconds"


def human_bytes(total: int | None) -> str | None:
    """A data cap as printed (``1 GB``, ``500 MB``); ``None`` for no cap."""
    if total is None:
        return None
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if total >= size:
            value = total / size
            return f"{value:.0f} {unit}" if value == int(value) or value >= 10 else f"{value:.1f} {unit}"
    return f"{total} B"


def local_date(epoch: float) -> str:
    """An instant as a Kenyan buyer reads it: ``31 Dec 2026, 23:59``."""
    return datetime.fromtimestamp(epoch, tz=UTC).astimezone(NAIROBI).strftime("%d %b %Y, %H:%M")


def csv_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (a package named ``=HYPERLINK(…)``)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
