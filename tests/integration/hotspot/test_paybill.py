"""Paybill/Till at the portal on in-process moto: a package's account number, a Paybill payment to
it through Safaricom's C2B validation and confirmation, and "I paid by Paybill" binding it to the
device; a Till payment held until its payer claims it; the unified access view."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.core.config import get_settings, reset_settings
from chalicelib.hotspot import logic
from chalicelib.hotspot.models import subscriptions as subs
from chalicelib.hotspot.settings import hotspot_settings
from chalicelib.payments.models import payments
from chalicelib.payments.settings import payments_settings
from tests.integration.hotspot.conftest import CALLBACK_TOKEN, new_phone, post, router_commands
from tests.support.daraja import SHORTCODE, c2b_body


def pay_by_paybill(api: Client, account: str, amount: int, msisdn: Any) -> tuple[dict, dict]:
    """Validation then confirmation, as Safaricom posts them; returns the two answers' bodies."""
    body = c2b_body(account, f"{amount}.00", msisdn)
    validated = post(api, f"/mpesa/c2b/validation/{CALLBACK_TOKEN}", body).json_body
    if validated["ResultCode"] != "0":
        return validated, {}
    confirmed = post(api, f"/mpesa/c2b/confirmation/{CALLBACK_TOKEN}", {**body, "TransAmount": float(amount)})
    return validated, {**confirmed.json_body, "TransID": body["TransID"]}


def account_of(api: Client, shop: dict) -> tuple[str, dict]:
    listing = api.http.get(f"/portal/routers/{shop['router']['router_id']}/packages").json_body
    return listing["packages"][0]["account_number"], listing


def new_mac() -> str:
    return "02:" + ":".join(f"{random.randrange(256):02X}" for _ in range(5))


def claim(api: Client, shop: dict, phone: str, mac: str, package: bool = False) -> Any:
    return post(
        api,
        "/portal/paybill/claim",
        {
            "router_id": shop["router"]["router_id"],
            "package_id": shop["package"]["package_id"] if package else None,
            "phone_number": phone,
            "mac_address": mac,
            "ip": "10.5.50.77",
        },
    )


def test_portal_shows_a_stable_account_number_per_package(api: Client, shop: dict) -> None:
    """Given a router with a package
    When the portal lists its packages twice
    Then it shows the Paybill business number and the same short account number both times,
    from the unambiguous alphabet."""
    number, listing = account_of(api, shop)
    again, _ = account_of(api, shop)
    assert listing["paybill"] == {"kind": "paybill", "business_number": SHORTCODE}
    assert number == again and logic.ACCOUNT.match(number) and len(number) <= 12


def test_validation_refuses_an_unknown_account_and_a_wrong_amount(api: Client, shop: dict) -> None:
    """Given a KES 20 package's account number
    When Safaricom validates KES 25 to it, and KES 20 to an account number nobody has
    Then C2B00013 and C2B00012: the payer keeps the money and no payment is stored."""
    number, _ = account_of(api, shop)
    wrong, _ = pay_by_paybill(api, number, 25, 254708374149)
    unknown, _ = pay_by_paybill(api, "ZZZZ22", 20, 254708374149)
    assert (wrong["ResultCode"], unknown["ResultCode"]) == ("C2B00013", "C2B00012")
    assert subs_of(shop) == []


def subs_of(shop: dict) -> list:
    from tests.integration.hotspot.conftest import subscriptions

    return subscriptions(shop["router"]["router_id"])


def test_a_paybill_payment_then_a_claim_logs_the_device_in(api: Client, shop: dict) -> None:
    """Given a buyer who pays the package's account number from the M-Pesa menu (typed in lower
    case), validated and confirmed as Safaricom posts them
    When the buyer taps "I paid by Paybill" on the portal with their phone
    Then the phone has a subscription on that router (no device yet, provisioned for none); the
    claim binds it to the device: provision_version 2 and a command with the MAC; the access view
    shows the credentials; the same device claiming again gets the command again; another device
    gets 409 already_claimed."""
    number, _ = account_of(api, shop)
    phone = new_phone()
    validated, confirmed = pay_by_paybill(api, number.lower(), 20, int(logic.normalize_phone(phone)))
    assert validated == {"ResultCode": "0", "ResultDesc": "Accepted"} and confirmed["ResultCode"] == 0
    payment = payments.get(confirmed["TransID"])
    assert (payment.status, payment.method, payment.scope) == ("paid", "c2b", shop["router"]["router_id"])
    (sub,) = subs_of(shop)
    assert sub.phone == logic.normalize_phone(phone) and sub.mac is None and sub.provision_version == 1
    assert [c["mac"] for c in router_commands()] == [None]

    mac = new_mac()
    response = claim(api, shop, phone, mac)

    assert response.status_code == 200, response.body
    body = response.json_body
    assert body["subscription_id"] == sub.subscription_id and body["receipt"] == confirmed["TransID"]
    assert body["status_url"] == f"/portal/access/{sub.subscription_id}"
    (command,) = router_commands()
    assert (command["mac"], command["ip"], command["version"]) == (mac, "10.5.50.77", 2)
    assert "previous_mac" not in command
    view = api.http.get(body["status_url"]).json_body
    assert view["username"] == sub.username and view["password"] == sub.password
    assert view["mac_address"] == mac and view["status"] == "paid"
    assert view["access"]["state"] == "setting_up" and view["package"]["name"] == "1 hour"
    assert view["login_url"] == "http://127.0.0.1:9/login" and view["expires_at"].endswith("Z")

    assert claim(api, shop, phone, mac, package=True).status_code == 200  # a retry: the command again
    assert [c["version"] for c in router_commands()] == [2]
    other = claim(api, shop, phone, new_mac())
    assert other.status_code == 409 and other.json_body["error"]["code"] == "already_claimed"
    assert router_commands() == [] and subs.get(sub.subscription_id).mac == mac


def test_a_hashed_msisdn_is_found_by_the_phone_typed(api: Client, shop: dict, admin: dict) -> None:
    """Given a Paybill payment whose confirmation carries Safaricom's SHA-256 hash of the MSISDN
    When the buyer claims with their phone number (07… form), and the operator looks the phone up
    Then the claim finds it by hashing the number and binds the device, and the console's
    look-up by phone lists it."""
    number, _ = account_of(api, shop)
    phone = new_phone()
    hashed = hashlib.sha256(logic.normalize_phone(phone).encode()).hexdigest()
    _, confirmed = pay_by_paybill(api, number, 20, hashed)
    router_commands()
    response = claim(api, shop, phone, new_mac())
    assert response.status_code == 200 and response.json_body["receipt"] == confirmed["TransID"]
    looked_up = api.http.get(f"/admin/lookup/payments?phone={phone}", headers=admin).json_body
    assert [p["receipt"] for p in looked_up["payments"]] == [confirmed["TransID"]]


def test_a_claim_with_no_payment_is_404_then_rate_limited(api: Client, shop: dict) -> None:
    """Given a phone that paid nothing
    When one device claims 6 times within the window (5 allowed per device)
    Then 404 payment_not_found five times (saying M-Pesa can take a minute), then 429 with Retry-After."""
    mac, phone = new_mac(), new_phone()
    answers = [claim(api, shop, phone, mac) for _ in range(6)]
    assert [a.status_code for a in answers] == [404] * 5 + [429]
    assert answers[0].json_body["error"]["code"] == "payment_not_found"
    assert "minute" in answers[0].json_body["error"]["message"]
    assert answers[-1].json_body["error"]["code"] == "too_many_requests"
    assert int(answers[-1].headers["Retry-After"]) >= 1


def test_bad_input_is_a_json_4xx(api: Client, shop: dict) -> None:
    """Given the portal's Paybill and access endpoints
    When sent a bad MAC, a bad phone, a missing field, non-JSON, an unknown or malformed
    subscription id
    Then 4xx with {"error": {"code", "message"}}, never 500."""
    good = {"router_id": shop["router"]["router_id"], "phone_number": "0712345678", "mac_address": new_mac()}
    bad = [
        post(api, "/portal/paybill/claim", {**good, "mac_address": "nope"}),
        post(api, "/portal/paybill/claim", {**good, "phone_number": "12"}),
        post(api, "/portal/paybill/claim", {"router_id": good["router_id"]}),
        api.http.post("/portal/paybill/claim", headers={"Content-Type": "application/json"}, body="{nope"),
        api.http.get("/portal/access/sub_00000000000000000000000000"),
        api.http.get("/portal/access/pay_x"),
        api.http.get("/portal/access/" + "sub_" + "x" * 80),
    ]
    for response in bad:
        assert 400 <= response.status_code < 500, response.body
        assert set(response.json_body["error"]) >= {"code", "message"}


@pytest.fixture
def till(api: Client, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Given the hotspot selling by Till (Buy Goods) number 5123456."""

    def read() -> None:
        reset_settings()
        get_settings(), hotspot_settings(), payments_settings()  # read now (Chalice swaps the env)

    monkeypatch.setenv("MUDA_HOTSPOT_PAYBILL_KIND", "till")
    monkeypatch.setenv("MUDA_HOTSPOT_PAYBILL_NUMBER", "5123456")
    read()
    yield "5123456"
    monkeypatch.delenv("MUDA_HOTSPOT_PAYBILL_KIND")
    monkeypatch.delenv("MUDA_HOTSPOT_PAYBILL_NUMBER")
    read()


def test_a_till_payment_is_held_then_claimed_for_the_package_its_amount_picks(
    api: Client, shop: dict, admin: dict, till: str
) -> None:
    """Given a hotspot selling by Till, a router with two KES 20 packages
    When a buyer pays KES 20 to the till (no account), a payer KES 249997 (no package costs that),
    then the first buyer claims without naming a package, then naming one
    Then the portal shows the till and no account numbers; validation takes KES 20 and refuses
    KES 249997 (C2B00013); the confirmation is held awaiting its claim, no access; the claim
    without a package is 422 package_ambiguous, with it 200: the payment paid for that package
    on this router, a subscription bound to the device (one command with the MAC); another
    device then gets 409 already_claimed."""
    second = post(
        api,
        "/admin/packages",
        {
            "name": "1 hour again",
            "price": 20,
            "validity_seconds": 3600,
            "router_ids": [shop["router"]["router_id"]],
        },
        admin,
    ).json_body
    listing = api.http.get(f"/portal/routers/{shop['router']['router_id']}/packages").json_body
    assert listing["paybill"] == {"kind": "till", "business_number": till}
    assert [p["account_number"] for p in listing["packages"]] == [None, None]
    phone = new_phone()
    refused, _ = pay_by_paybill(api, "", 249997, 254708374149)
    validated, confirmed = pay_by_paybill(api, "", 20, int(logic.normalize_phone(phone)))
    assert (refused["ResultCode"], validated["ResultCode"]) == ("C2B00013", "0")
    held = payments.get(confirmed["TransID"])
    assert (held.status, held.product, held.context["reason"]) == ("held", "hotspot", "awaiting_claim")
    assert subs_of(shop) == [] and router_commands() == []

    mac = new_mac()
    ambiguous = claim(api, shop, phone, mac)
    chosen = post(
        api,
        "/portal/paybill/claim",
        {
            "router_id": shop["router"]["router_id"],
            "package_id": second["package_id"],
            "phone_number": phone,
            "mac_address": mac,
        },
    )

    assert ambiguous.status_code == 422 and ambiguous.json_body["error"]["code"] == "package_ambiguous"
    assert chosen.status_code == 200, chosen.body
    assert chosen.json_body["receipt"] == confirmed["TransID"]
    paid = payments.get(confirmed["TransID"])
    assert (paid.status, paid.offer_id, paid.scope) == (
        "paid",
        second["package_id"],
        shop["router"]["router_id"],
    )
    (sub,) = subs_of(shop)
    assert sub.subscription_id == chosen.json_body["subscription_id"] == paid.grant_id
    assert (sub.mac, sub.package_id, int(sub.provision_version)) == (mac, second["package_id"], 1)
    assert [(c["mac"], c["version"]) for c in router_commands()] == [(mac, 1)]
    other = claim(api, shop, phone, new_mac())
    assert other.status_code == 409 and other.json_body["error"]["code"] == "already_claimed"
