"""Paybill account numbers and the payer's phone as Safaricom may send it, without AWS."""

from __future__ import annotations

import hashlib

import pytest

from chalicelib.hotspot import logic


def test_account_numbers_are_short_typeable_and_unambiguous() -> None:
    """Given 500 new account numbers
    When drawn
    Then each is 6 characters (≤ 12, Daraja's BillRefNumber) from the alphabet without 0/O/1/I,
    and they are not all the same (random)."""
    numbers = {logic.new_account_number() for _ in range(500)}
    assert len(numbers) > 490
    for number in numbers:
        assert len(number) == 6 and not set(number) & set("01OI") and logic.ACCOUNT.match(number)


@pytest.mark.parametrize(
    ("typed", "number"),
    [("K7QX3M", "K7QX3M"), ("k7qx3m", "K7QX3M"), (" k7q-x3m ", "K7QX3M"), ("K7 QX 3M", "K7QX3M")],
)
def test_an_account_number_is_read_in_any_case_with_spaces_or_hyphens(typed: str, number: str) -> None:
    assert logic.normalize_account(typed) == number


@pytest.mark.parametrize("typed", ["", "K7QX3", "K7QX3MM", "K0QX3M", "KOQX3M", "pat-123", None])
def test_what_cannot_be_an_account_number_is_none(typed: str | None) -> None:
    """A patient's id, a wrong length or an ambiguous character is someone else's reference."""
    assert logic.normalize_account(typed) is None


def test_a_payer_is_the_phone_or_safaricoms_hash_of_it() -> None:
    """Given a payment whose payer is the number, and one whose payer is SHA-256 of the number
    When matched against the phone the buyer types (normalized), and another phone
    Then both match the buyer and neither matches the other phone."""
    phone = "254712345678"
    hashed = hashlib.sha256(phone.encode()).hexdigest()
    assert logic.phone_hash(phone) == hashed
    assert logic.paid_by(phone, phone) and logic.paid_by(hashed, phone)
    assert not logic.paid_by(phone, "254712345679") and not logic.paid_by(hashed, "254712345679")


@pytest.mark.parametrize(
    ("payer", "matches"),
    [
        ("2547 ***** 678", True),
        ("254712***678", True),
        ("0712***678", True),
        ("2547 ***** 679", False),
        ("2541 ***** 678", False),
        ("254 ***** 78", False),  # too few digits shown to say
        ("*****", False),
    ],
)
def test_a_masked_payer_matches_the_digits_it_shows(payer: str, matches: bool) -> None:
    """Given a payment whose MSISDN Safaricom masked
    When compared with the phone typed beside its receipt
    Then it matches only when the digits shown (at least 6) are that phone's."""
    assert logic.paid_by(payer, "254712345678") is matches
