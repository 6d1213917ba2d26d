""" "I already paid" on in-process moto: the M-Pesa receipt code and the paying phone bring a paid
access to a new device (the old one's session removed for a one-device package), and nothing
else: guesses get one answer and are rate-limited."""

from __future__ import annotations

from typing import Any

from chalice.test import Client

from chalicelib.hotspot.models import subscriptions as subs
from chalicelib.payments.models import payments
from tests.integration.hotspot.conftest import (
    CALLBACK_TOKEN,
    new_phone,
    new_receipt,
    post,
    router_commands,
    run_payment_worker,
    success_callback,
)
from tests.integration.hotspot.test_paybill import new_mac, pay_by_paybill, subs_of

OLD_MAC = "AA:BB:CC:DD:EE:01"


def buy(api: Client, shop: dict, phone: str) -> tuple[str, str]:
    """An STK purchase from OLD_MAC, paid; returns (receipt, subscription id)."""
    accepted = post(
        api,
        "/payments/initiate",
        {
            "package_id": shop["package"]["package_id"],
            "phone_number": phone,
            "mac_address": OLD_MAC,
            "router_id": shop["router"]["router_id"],
        },
    ).json_body
    payment = payments.by_id(accepted["payment_id"])
    receipt = new_receipt()
    post(
        api,
        f"/mpesa/callback/{CALLBACK_TOKEN}",
        success_callback(payment.checkout_request_id, receipt=receipt),
    )
    run_payment_worker()
    router_commands()
    return receipt, payments.by_id(accepted["payment_id"]).grant_id


def reconnect(api: Client, shop: dict, receipt: str, phone: str, mac: str, router: str | None = None) -> Any:
    return post(
        api,
        "/portal/reconnect",
        {
            "receipt": receipt,
            "phone_number": phone,
            "router_id": router or shop["router"]["router_id"],
            "mac_address": mac,
            "ip": "10.5.50.99",
        },
    )


def test_a_valid_receipt_on_a_new_device_moves_the_access(api: Client, shop: dict) -> None:
    """Given a paid one-device access on OLD_MAC
    When the buyer reconnects from a new device with the receipt (lower case, from the SMS) and
    the paying phone, then again from that same device
    Then the subscription's MAC is the new one at provision_version 2, the command carries
    previous_mac = OLD_MAC; the repeat sends the same version's command again, without moving."""
    phone = new_phone()
    receipt, subscription_id = buy(api, shop, phone)
    mac = new_mac()

    response = reconnect(api, shop, f" {receipt.lower()} ", phone, mac)

    assert response.status_code == 200, response.body
    assert response.json_body["subscription_id"] == subscription_id
    assert response.json_body["status_url"] == f"/portal/access/{subscription_id}"
    sub = subs.get(subscription_id)
    assert (sub.mac, int(sub.provision_version), sub.provision_status) == (mac, 2, "pending")
    (command,) = router_commands()
    assert (command["mac"], command["previous_mac"], command["version"]) == (mac, OLD_MAC, 2)
    assert api.http.get(response.json_body["status_url"]).json_body["mac_address"] == mac

    assert reconnect(api, shop, receipt, phone, mac).status_code == 200
    (again,) = router_commands()
    assert again["version"] == 2 and "previous_mac" not in again and again["mac"] == mac


def test_a_guessed_receipt_or_wrong_phone_is_one_404_then_rate_limited(api: Client, shop: dict) -> None:
    """Given a paid access
    When a device tries a guessed receipt, then the right receipt with another phone, and keeps
    guessing (5 tries per device per window)
    Then the same 404 receipt_not_found for both (no oracle), then 429; the access did not move."""
    phone = new_phone()
    receipt, subscription_id = buy(api, shop, phone)
    mac = new_mac()
    guessed = reconnect(api, shop, new_receipt(), phone, mac)
    wrong_phone = reconnect(api, shop, receipt, new_phone(), mac)
    assert guessed.status_code == wrong_phone.status_code == 404
    assert guessed.json_body == wrong_phone.json_body
    assert guessed.json_body["error"]["code"] == "receipt_not_found"
    more = [reconnect(api, shop, new_receipt(), phone, mac).status_code for _ in range(4)]
    assert more == [404, 404, 404, 429]
    assert subs.get(subscription_id).mac == OLD_MAC and router_commands() == []


def test_an_expired_access_or_another_router_is_refused(api: Client, shop: dict, clock) -> None:
    """Given a paid 1-hour access
    When reconnected on another router's portal, then after the hour
    Then 422 wrong_router, then 409 access_ended; nothing sent to any router."""
    phone = new_phone()
    receipt, _ = buy(api, shop, phone)
    other = reconnect(api, shop, receipt, phone, new_mac(), router="rtr_someotherplace")
    assert other.status_code == 422 and other.json_body["error"]["code"] == "wrong_router"
    clock.advance(3601)
    ended = reconnect(api, shop, receipt, phone, new_mac())
    assert ended.status_code == 409 and ended.json_body["error"]["code"] == "access_ended"
    assert router_commands() == []


def test_bad_input_is_a_json_4xx(api: Client, shop: dict) -> None:
    """Given the reconnect endpoint
    When sent a malformed receipt, bad MAC, bad phone, a missing field or non-JSON
    Then 4xx with {"error": {"code", "message"}}, never 500."""
    good = {
        "receipt": "NLJ7RT61SV",
        "phone_number": "0712345678",
        "router_id": shop["router"]["router_id"],
        "mac_address": new_mac(),
    }
    bad = [
        post(api, "/portal/reconnect", {**good, "receipt": "x'; drop"}),
        post(api, "/portal/reconnect", {**good, "receipt": "A" * 500}),
        post(api, "/portal/reconnect", {**good, "mac_address": "nope"}),
        post(api, "/portal/reconnect", {**good, "phone_number": "12"}),
        post(api, "/portal/reconnect", {"receipt": "NLJ7RT61SV"}),
        post(api, "/portal/reconnect", [1, 2]),
        api.http.post("/portal/reconnect", headers={"Content-Type": "application/json"}, body="{nope"),
    ]
    for response in bad:
        assert 400 <= response.status_code < 500, response.body
        assert set(response.json_body["error"]) >= {"code", "message"}


def test_a_masked_payer_reconnects_with_the_receipt(api: Client, shop: dict) -> None:
    """Given two Paybill payments whose MSISDN Safaricom masked the same way ("2547 ***** 678")
    When the first payer reconnects with its TransID and their phone, and someone tries it with
    a phone the mask does not show
    Then the two payments bought two subscriptions (a mask is many people, never one user); the
    right phone binds the first one to the device; the other phone gets 404 receipt_not_found."""
    account = api.http.get(f"/portal/routers/{shop['router']['router_id']}/packages").json_body
    number = account["packages"][0]["account_number"]
    first = pay_by_paybill(api, number, 20, "2547 ***** 678")[1]["TransID"]
    pay_by_paybill(api, number, 20, "2547 ***** 678")
    router_commands()
    bought = [subs.get(payments.get(t).grant_id) for t in (first,)] + subs_of(shop)
    assert len({s.subscription_id for s in subs_of(shop)}) == 2
    assert len({s.username for s in subs_of(shop)}) == 2
    mac = new_mac()

    wrong = reconnect(api, shop, first, "0712000679", mac)
    right = reconnect(api, shop, first, "0712345678", mac)

    assert wrong.status_code == 404 and wrong.json_body["error"]["code"] == "receipt_not_found"
    assert right.status_code == 200 and right.json_body["subscription_id"] == bought[0].subscription_id
    (command,) = router_commands()
    assert command["mac"] == mac and command["version"] == 2


def test_a_paybill_renewal_keeps_the_device_and_moves_only_with_the_receipt(api: Client, shop: dict) -> None:
    """Given a buyer online on OLD_MAC by STK push
    When they renew by Paybill (no device on the payment), then claim from a new device, then
    reconnect from it with the Paybill TransID
    Then the renewal extends the same subscription still on OLD_MAC (command for OLD_MAC,
    version 2); the claim is 409 already_claimed; the reconnect moves it (version 3,
    previous_mac OLD_MAC)."""
    phone = new_phone()
    _, subscription_id = buy(api, shop, phone)
    number = api.http.get(f"/portal/routers/{shop['router']['router_id']}/packages").json_body["packages"][0][
        "account_number"
    ]
    trans_id = pay_by_paybill(api, number, 20, int("254" + phone[1:]))[1]["TransID"]
    assert payments.get(trans_id).grant_id == subscription_id
    assert [(c["mac"], c["version"]) for c in router_commands()] == [(OLD_MAC, 2)]
    mac = new_mac()

    claimed = post(
        api,
        "/portal/paybill/claim",
        {"router_id": shop["router"]["router_id"], "phone_number": phone, "mac_address": mac},
    )
    moved = reconnect(api, shop, trans_id, phone, mac)

    assert claimed.status_code == 409 and claimed.json_body["error"]["code"] == "already_claimed"
    assert moved.status_code == 200
    (command,) = router_commands()
    assert (command["mac"], command["previous_mac"], command["version"]) == (mac, OLD_MAC, 3)
