"""Voucher rules without AWS: codes, what a redemption may do, batch and code states, how a card
shows its package, and a voucher's code as a RADIUS username."""

from __future__ import annotations

import pytest

from chalicelib.hotspot.logic import InvalidInput
from chalicelib.hotspot.vouchers import logic
from chalicelib.radius import logic as radius

MAC, OTHER = "AA:BB:CC:DD:EE:01", "AA:BB:CC:DD:EE:02"


def test_codes_are_10_unambiguous_characters_and_do_not_repeat() -> None:
    """Given 20 000 fresh codes, then each is 10 characters without 0/O/1/I, all distinct, and
    every character of the alphabet turns up (drawn from all 32)."""
    codes = [logic.new_code() for _ in range(20_000)]
    assert all(logic.CODE.match(c) for c in codes)
    assert len(set(codes)) == len(codes)
    assert set("".join(codes)) == set(logic.ALPHABET) and not set("01OI") & set(logic.ALPHABET)


def test_a_code_is_read_as_typed_and_shown_grouped() -> None:
    assert logic.normalize_code(" abcde-fghjk ") == "ABCDEFGHJK"
    assert logic.normalize_code("ABCDE FGHJK") == logic.normalize_code("abcdefghjk") == "ABCDEFGHJK"
    assert logic.grouped("ABCDEFGHJK") == "ABCDE-FGHJK"
    for bad in ("", "ABCDE-FGHJ", "ABCDE-FGHJKL", "ABCDE-FGHJ0", "ABCDE-FGHJI", "ABCDE_FGHJK", "ÀBCDEFGHJK"):
        with pytest.raises(InvalidInput):
            logic.normalize_code(bad)


def verdict(**changes: object) -> str:
    facts: dict = {
        "status": logic.UNUSED,
        "used_by_mac": None,
        "only_router": "rtr_a",
        "valid_until": 2000.0,
        "batch": None,
        "sold_here": True,
        "mac": MAC,
        "router_id": "rtr_a",
        "now": 1000.0,
        **changes,
    }
    return logic.verdict(**facts)


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({"status": None}, "voucher_not_found"),
        ({"status": logic.USED, "used_by_mac": OTHER}, "voucher_used"),
        ({"status": logic.REVOKED}, "voucher_revoked"),
        ({"batch": logic.REVOKED}, "voucher_revoked"),
        ({"status": logic.SOLD, "batch": logic.REVOKED}, "voucher_revoked"),
        ({"valid_until": 1000.0}, "voucher_expired"),
        ({"batch": logic.EXPIRED}, "voucher_expired"),
        ({"router_id": "rtr_b"}, "voucher_not_for_router"),
        ({"only_router": None, "sold_here": False}, "voucher_not_for_router"),
    ],
)
def test_a_redemption_is_refused_with_the_contracts_code(changes: dict, refusal: str) -> None:
    with pytest.raises(logic.Refused) as refused:
        verdict(**changes)
    assert refused.value.code == refusal and refused.value.message == logic.REFUSALS[refusal]


def test_an_unused_or_sold_code_is_redeemed_and_the_same_device_replays() -> None:
    """Given a code unused or sold, then redeem; used by this very device (even expired since),
    then replay: a retried request gets its access back."""
    assert verdict() == verdict(status=logic.SOLD) == verdict(only_router=None, router_id="rtr_b") == "redeem"
    assert verdict(status=logic.USED, used_by_mac=MAC, valid_until=10.0) == "replay"


def test_batch_and_code_states() -> None:
    """An active batch past its expiry reads expired; a revoked batch's unused and sold codes
    count as revoked, its used ones stay used."""
    assert logic.batch_status(logic.ACTIVE, 1000.0, 999.0) == logic.ACTIVE
    assert logic.batch_status(logic.ACTIVE, 1000.0, 1000.0) == logic.EXPIRED
    assert logic.batch_status(logic.REVOKED, 5000.0, 1000.0) == logic.REVOKED
    revoked = [logic.code_status(s, logic.REVOKED) for s in (logic.UNUSED, logic.SOLD, logic.USED)]
    assert revoked == [logic.REVOKED, logic.REVOKED, logic.USED]
    assert logic.code_status(logic.SOLD, logic.EXPIRED) == logic.SOLD


def test_a_voucher_sale_uses_the_code_as_buyer_and_credentials() -> None:
    sale = logic.sale("ABCDEFGHJK", "rtr_a", "pkg_1", {"name": "1 hour"}, MAC, "10.5.50.2")
    assert (sale.buyer, sale.source, sale.credentials) == (
        "voucher:ABCDEFGHJK",
        "voucher:ABCDEFGHJK",
        ("ABCDEFGHJK", "ABCDEFGHJK"),
    )
    assert (sale.router_id, sale.package_id, sale.mac, sale.ip) == ("rtr_a", "pkg_1", MAC, "10.5.50.2")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (3600, "1 hour"),
        (5400, "1 hour 30 minutes"),
        (86400, "1 day"),
        (93784, "1 day 2 hours"),
        (30, "30 seconds"),
    ],
)
def test_a_card_says_its_validity_in_words(seconds: int, text: str) -> None:
    assert logic.human_duration(seconds) == text


def test_a_card_says_its_data_cap_and_date() -> None:
    assert logic.human_bytes(1 << 30) == "1 GB" and logic.human_bytes(500 << 20) == "500 MB"
    assert logic.human_bytes(1536 << 20) == "1.5 GB" and logic.human_bytes(None) is None
    assert logic.local_date(1798750799.0) == "31 Dec 2026, 23:59"  # 20:59:59Z is 23:59:59 in Nairobi


def test_a_csv_cell_is_never_a_formula() -> None:
    assert logic.csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)" and logic.csv_safe("1 hour") == "1 hour"


def test_a_voucher_code_is_a_radius_username_of_its_own() -> None:
    """Given RADIUS User-Names, then a phone user maps to its phone, a code to its voucher buyer,
    and anything else (a grouped or lower-case code, a near miss) to nobody."""
    assert radius.phone_of("m712345678") == "254712345678"
    assert radius.phone_of("ABCDEFGHJK") == "voucher:ABCDEFGHJK"
    for nobody in ("ABCDE-FGHJK", "abcdefghjk", "ABCDEFGHJ0", "ABCDEFGHJKL", "", None):
        assert radius.phone_of(nobody) is None
