"""Hotspot on in-process moto, Daraja played by daraja-mock: admin API, initiate, callback,
the payment worker, the STK query fallback, status, expiry and renewal."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client
from daraja_mock import DarajaMock

from chalicelib.core import timers
from chalicelib.core.aws import client
from chalicelib.core.clock import time_key as clock_key
from chalicelib.hotspot import service
from chalicelib.hotspot.models import catalog
from chalicelib.hotspot.models import subscriptions as subs
from chalicelib.hotspot.models.items import SubscriptionItem
from chalicelib.payments import daraja
from chalicelib.payments.models import callbacks, payments
from chalicelib.payments.models.items import PaymentItem
from chalicelib.payments.service import recovery, settlement
from tests.integration.conftest import bearer
from tests.integration.hotspot.conftest import (
    CALLBACK_TOKEN,
    drain,
    failure_callback,
    new_phone,
    post,
    router_commands,
    run_payment_worker,
    subscriptions,
    success_callback,
)

PHONE = "0712345678"
MAC = "aa:bb:cc:dd:ee:01"


def initiate(api: Client, shop: dict, phone: str | None = None) -> dict:
    response = post(
        api,
        "/payments/initiate",
        {
            "package_id": shop["package"]["package_id"],
            "phone_number": phone or new_phone(),
            "mac_address": MAC,
            "router_id": shop["router"]["router_id"],
            "ip": "10.5.50.23",
        },
    )
    assert response.status_code == 202, response.body
    return response.json_body


def checkout_of(payment_id: str) -> str:
    payment = payments.by_id(payment_id)
    assert payment is not None
    return payment.checkout_request_id


def callback(api: Client, body: dict, token: str = CALLBACK_TOKEN):
    return post(api, f"/mpesa/callback/{token}", body)


def status(api: Client, payment_id: str) -> dict:
    return api.http.get(f"/payments/{payment_id}").json_body


def events(name: str) -> list[dict]:
    """Domain events that reached the bus's rule → events queue (consumed)."""
    found = [json.loads(m["Body"]) for m in drain("events")]
    return [e for e in found if e["detail-type"] == name]


# --- routers and packages ------------------------------------------------------------------------


def test_router_password_lives_in_secrets_manager_only(api: Client, shop: dict, admin: dict) -> None:
    """Given a router created through the admin API
    When it is read back
    Then no password is returned, the item names the secret, and the secret holds {"password"}."""
    router = shop["router"]
    assert "password" not in router and "password_secret" not in router
    item = catalog.get_router(router["router_id"])
    assert item is not None and item.password_secret == f"muda/test/hotspot/routers/{router['router_id']}"
    assert item.gsi1pk == "ROUTERS" and item.port == 8728 and item.status == "unknown"
    secret = client("secretsmanager").get_secret_value(SecretId=item.password_secret)
    assert json.loads(secret["SecretString"]) == {"password": "s3cret!"}
    listed = api.http.get("/admin/routers", headers=admin).json_body["routers"]
    assert [r["router_id"] for r in listed].count(router["router_id"]) == 1  # the stack is shared
    assert "s3cret" not in json.dumps(listed)


def test_router_password_rotation_and_admin_only(api: Client, shop: dict, admin: dict, token) -> None:
    """Given a router
    When an admin patches its password, and a patient tries to list routers
    Then the secret has the new value, and the patient gets 403."""
    rid = shop["router"]["router_id"]
    response = api.http.patch(
        f"/admin/routers/{rid}",
        headers={**admin, "Content-Type": "application/json"},
        body=json.dumps({"password": "n3w"}),
    )
    assert response.status_code == 200 and "password" not in response.json_body
    secret = client("secretsmanager").get_secret_value(SecretId=f"muda/test/hotspot/routers/{rid}")
    assert json.loads(secret["SecretString"])["password"] == "n3w"
    assert api.http.get("/admin/routers", headers=bearer(token("p-1", "patient"))).status_code == 403
    assert api.http.get("/admin/routers").status_code == 401


def test_package_validation(api: Client, shop: dict, admin: dict) -> None:
    """Given the admin API
    When packages with an unknown router, a bad rate limit or a fractional price are created
    Then each is refused with 422 and nothing is stored."""
    base = {"name": "x", "price": 10, "validity_seconds": 3600, "router_ids": [shop["router"]["router_id"]]}
    for bad in (
        {"router_ids": ["rtr_nope"]},
        {"rate_limit": "fast"},
        {"price": 10.5},
        {"validity_seconds": 0},
    ):
        assert post(api, "/admin/packages", {**base, **bad}, admin).status_code == 422
    rid = shop["router"]["router_id"]
    listed = api.http.get(f"/admin/packages?router={rid}", headers=admin).json_body["packages"]
    assert [p["package_id"] for p in listed] == [shop["package"]["package_id"]]


def test_portal_lists_the_routers_active_packages(api: Client, shop: dict, admin: dict) -> None:
    """Given an active and an inactive package on a router
    When the portal asks for the router's packages (no token)
    Then only the active one is listed, with its price and validity."""
    rid = shop["router"]["router_id"]
    post(
        api,
        "/admin/packages",
        {"name": "off", "price": 5, "validity_seconds": 600, "router_ids": [rid], "active": False},
        admin,
    )
    body = api.http.get(f"/portal/routers/{rid}/packages").json_body
    assert [p["name"] for p in body["packages"]] == ["1 hour"]
    assert body["packages"][0]["price"] == 20 and body["packages"][0]["validity"] == "1h"
    page = api.http.get(f"/portal?router={rid}&mac={MAC}&ip=10.5.50.23")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert b"pay-form" in page.body and rid.encode() in page.body
    assert api.http.get("/portal/routers/rtr_unknown/packages").status_code == 404


# --- initiate ------------------------------------------------------------------------------------


def test_initiate_pushes_with_nairobi_password_and_arms_the_query(
    api: Client, shop: dict, hotspot: DarajaMock
) -> None:
    """Given a package on a router
    When a buyer initiates a payment
    Then Daraja got one STK push for the price, with Password = base64(shortcode+passkey+timestamp)
    in Nairobi time and our callback URL; the payment is pending; the first STK query is armed."""
    accepted = initiate(api, shop, PHONE)
    assert accepted["status"] == "pending" and accepted["status_url"] == f"/payments/{accepted['payment_id']}"
    pushes = [r for r in hotspot.request_log() if r["path"] == "/mpesa/stkpush/v1/processrequest"]
    assert len(pushes) == 1
    push = pushes[0]["body"]
    stamp = push["Timestamp"]
    assert base64.b64decode(push["Password"]).decode() == f"174379pk-test{stamp}"
    nairobi = datetime.now(UTC) + timedelta(hours=3)
    assert (
        abs((datetime.strptime(stamp, "%Y%m%d%H%M%S") - nairobi.replace(tzinfo=None)).total_seconds()) < 120
    )
    assert push["Amount"] == 20 and push["PhoneNumber"] == "254712345678" and push["PartyA"] == "254712345678"
    assert push["CallBackURL"].endswith(f"/mpesa/callback/{CALLBACK_TOKEN}")
    assert len(push["AccountReference"]) <= 12 and len(push["TransactionDesc"]) <= 13
    assert "Passkey" not in push
    checkout = checkout_of(accepted["payment_id"])
    payment = payments.get(checkout)  # its first STK query is armed with it (the periodic query's index)
    assert payment.query_n == 0 and payment.gsi1sk == clock_key(float(payment.created_at) + 30)
    assert status(api, accepted["payment_id"])["status"] == "pending"


def test_initiate_refuses_bad_input_without_writing(api: Client, shop: dict, hotspot: DarajaMock) -> None:
    """Given a shop
    When initiate gets a bad phone, a bad MAC, or a package not sold on the router
    Then 422 each time and Daraja is never called."""
    good = {
        "package_id": shop["package"]["package_id"],
        "phone_number": PHONE,
        "mac_address": MAC,
        "router_id": shop["router"]["router_id"],
    }
    for bad in (
        {"phone_number": "12345"},
        {"mac_address": "zz"},
        {"router_id": "rtr_other"},
        {"ip": "999.1.1.1"},
    ):
        response = post(api, "/payments/initiate", {**good, **bad})
        assert response.status_code == 422, (bad, response.body)
        assert "error" in response.json_body
    assert not [r for r in hotspot.request_log() if "stkpush" in r["path"]]


def test_daraja_down_is_a_502_and_leaves_no_payment(api: Client, shop: dict, monkeypatch) -> None:
    """Given Daraja unreachable
    When a buyer initiates
    Then 502 mpesa_unavailable and no payment is stored."""
    from chalicelib.integrations.mpesa import DarajaClient, DarajaConfig
    from infra.local.stack import free_port

    dead = DarajaConfig(f"http://127.0.0.1:{free_port()}", "174379", "pk", "key", "secret", timeout=2)
    monkeypatch.setattr(daraja, "client", lambda: DarajaClient(dead))
    response = post(
        api,
        "/payments/initiate",
        {
            "package_id": shop["package"]["package_id"],
            "phone_number": PHONE,
            "mac_address": MAC,
            "router_id": shop["router"]["router_id"],
        },
    )
    assert response.status_code == 502 and response.json_body["error"]["code"] == "mpesa_unavailable"
    rid = shop["router"]["router_id"]
    assert list(PaymentItem.scan((PaymentItem.sk == "PAY") & (PaymentItem.scope == rid))) == []


# --- callback → worker ---------------------------------------------------------------------------


def test_success_callback_buys_access_once(api: Client, shop: dict) -> None:
    """Given a pending payment
    When Safaricom's success callback arrives three times and the worker runs
    Then each copy gets the fast ack, the raw callback is kept once, and there is one subscription,
    one provisioning command (the contract's shape) and one PaymentProcessed."""
    accepted = initiate(api, shop)
    checkout = checkout_of(accepted["payment_id"])
    for _ in range(3):
        response = callback(api, success_callback(checkout))
        assert response.status_code == 200 and response.json_body == {
            "ResultCode": 0,
            "ResultDesc": "Accepted",
        }
    assert run_payment_worker() == {"batchItemFailures": []}
    callback(api, success_callback(checkout))  # a late copy after settlement queues nothing
    assert run_payment_worker() == {"batchItemFailures": []}

    payment = payments.get(checkout)
    assert payment.status == "paid" and payment.receipt == "NLJ7RT61SV" and payment.callback_copies == 4
    assert json.loads(payment.callback_raw)["Body"]["stkCallback"]["CheckoutRequestID"] == checkout
    subs = subscriptions(shop["router"]["router_id"])
    assert len(subs) == 1
    sub = subs[0]
    assert sub.status == "active" and sub.provision_status == "pending" and sub.provision_version == 1
    commands = router_commands()
    assert len(commands) == 1
    command = commands[0]
    assert command == {
        "action": "provision",
        "subscription_id": sub.subscription_id,
        "router_id": shop["router"]["router_id"],
        "version": 1,
        "username": sub.username,
        "password": sub.password,
        "profile": {
            "name": f"muda-{shop['package']['package_id']}",
            "rate_limit": "2M/5M",
            "shared_users": 1,
            "session_timeout": command["profile"]["session_timeout"],
        },
        "limit_uptime": "1h",
        "limit_bytes_total": None,
        "comment": command["comment"],
        "mac": "AA:BB:CC:DD:EE:01",
        "ip": "10.5.50.23",
    }
    assert command["comment"].startswith(f"muda {sub.subscription_id} until ")
    assert timers.get(service.EXPIRE, sub.subscription_id).due_at == pytest.approx(
        float(sub.expires_at_ts), abs=0.01
    )
    processed = events("PaymentProcessed")
    assert len(processed) == 1 and processed[0]["source"] == "muda.hotspot"
    assert processed[0]["detail"]["subscription_id"] == sub.subscription_id

    # B's provisioner marks it; the buyer's status then carries credentials and the login URL.
    sub.update(actions=[SubscriptionItem.provision_status.set("provisioned")])
    body = status(api, accepted["payment_id"])
    assert body["status"] == "provisioned" and body["username"] == sub.username
    assert body["password"] == sub.password and body["login_url"] == "http://127.0.0.1:9/login"
    assert "***" in body["phone"] and not any(c.isdigit() for c in body["phone"][6:9])


def test_amount_mismatch_gives_no_access(api: Client, shop: dict) -> None:
    """Given a pending payment for KES 20
    When the success callback says KES 1
    Then the payment fails (amount_mismatch), no subscription, no command, PaymentFailed."""
    accepted = initiate(api, shop)
    callback(api, success_callback(checkout_of(accepted["payment_id"]), amount=1.0))
    run_payment_worker()
    body = status(api, accepted["payment_id"])
    assert (
        body["status"] == "failed" and body["reason"] == "amount_mismatch" and "username" not in body
    ) or not body.get("username")
    assert subscriptions(shop["router"]["router_id"]) == []
    assert router_commands() == []
    assert [e["detail"]["reason"] for e in events("PaymentFailed")] == ["amount_mismatch"]


def test_reused_receipt_gives_no_access(api: Client, shop: dict) -> None:
    """Given one payment settled with receipt R
    When another pending payment's callback carries the same receipt R
    Then the second fails with receipt_reused; still one subscription and one command."""
    first, second = initiate(api, shop), initiate(api, shop, phone="0722000111")
    callback(api, success_callback(checkout_of(first["payment_id"]), receipt="RCPT000001"))
    run_payment_worker()
    callback(api, success_callback(checkout_of(second["payment_id"]), receipt="RCPT000001"))
    run_payment_worker()
    assert status(api, first["payment_id"])["status"] == "paid"
    second_status = status(api, second["payment_id"])
    assert second_status["status"] == "failed" and second_status["reason"] == "receipt_reused"
    assert len(subscriptions(shop["router"]["router_id"])) == 1
    assert len(router_commands()) == 1


def test_forged_callbacks_change_nothing_and_are_recorded(api: Client, shop: dict) -> None:
    """Given a pending payment
    When callbacks come with a wrong path secret, an unknown CheckoutRequestID, or a malformed body
    Then 404/404/400, nothing is queued, the payment stays pending, and each refusal is recorded."""
    accepted = initiate(api, shop)
    checkout = checkout_of(accepted["payment_id"])
    started = time.time()
    assert callback(api, success_callback(checkout), token="wrong-token").status_code == 404
    unknown = callback(api, success_callback("ws_CO_unknown"))
    assert unknown.status_code == 404 and unknown.json_body["error"]["code"] == "unknown_checkout"
    malformed = callback(api, {"Body": {"stkCallback": {"CheckoutRequestID": checkout}}})
    assert malformed.status_code == 400
    not_json = api.http.post(
        f"/mpesa/callback/{CALLBACK_TOKEN}", headers={"Content-Type": "application/json"}, body="{"
    )
    assert not_json.status_code == 400
    assert drain("payments") == []
    payment = payments.get(checkout)
    assert payment.status == "pending" and payment.callback_raw is None
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    mine = [r for r in callbacks.rejected(today) if r.created_at >= started]
    reasons = sorted(r.reason.split(":")[0] for r in mine)
    assert reasons == ["bad_path_secret", "malformed", "malformed", "unknown_checkout"]


def test_failure_codes_map_to_clear_reasons(api: Client, shop: dict) -> None:
    """Given pending payments
    When Safaricom reports 1032 (cancelled), 1037 as a string (timeout) and 2001 (wrong PIN)
    Then cancelled / failed timeout / failed wrong_pin, each with a human message, no access."""
    cases = [
        (1032, "Request cancelled by user", "cancelled", "cancelled"),
        ("1037", "DS timeout user cannot be reached", "failed", "timeout"),
        (2001, "The initiator information is invalid.", "failed", "wrong_pin"),
    ]
    ids = []
    for code, desc, _, _ in cases:
        accepted = initiate(api, shop)
        ids.append(accepted["payment_id"])
        callback(api, failure_callback(checkout_of(accepted["payment_id"]), code, desc))
    run_payment_worker()
    for payment_id, (_, _, state, reason) in zip(ids, cases, strict=True):
        body = status(api, payment_id)
        assert (body["status"], body["reason"]) == (state, reason) and body["message"]
    assert router_commands() == []
    assert len(events("PaymentFailed")) == 3


# --- STK query fallback --------------------------------------------------------------------------


def _fire_query(checkout: str, n: int) -> None:
    """STK query ``n`` comes due and the periodic query of pending pushes runs."""
    payment = payments.get(checkout)
    assert payment is not None and payment.status == "pending" and payment.query_n == n
    due_at = float(payment.created_at) + 300
    due = [p for p in payments.due_for_query(due_at) if p.checkout_request_id == checkout]
    assert len(due) == 1
    recovery.query(due[0])


def test_query_settles_a_payment_whose_callback_never_came(
    api: Client, shop: dict, hotspot: DarajaMock
) -> None:
    """Given a pending payment and no callback
    When the 30 s STK query fires and Daraja says the push succeeded
    Then the payment is paid (settled by query) and access is provisioned once."""
    accepted = initiate(api, shop)
    checkout = checkout_of(accepted["payment_id"])
    hotspot.set_stk_result(0)
    _fire_query(checkout, 0)
    payment = payments.get(checkout)
    assert payment.status == "paid" and payment.settled_by == "query" and payment.receipt is None
    assert len(router_commands()) == 1
    callback(api, success_callback(checkout))  # the late callback changes nothing
    run_payment_worker()
    assert router_commands() == []


def test_query_cancelled_and_still_processing(
    api: Client, shop: dict, hotspot: DarajaMock, monkeypatch
) -> None:
    """Given two pending payments
    When the query says 1032 for one; and for the other Daraja answers 500.001.1001 (still processing)
    Then the first is cancelled; the second stays pending with the next query armed."""
    first = initiate(api, shop)
    hotspot.set_stk_result(1032)
    _fire_query(checkout_of(first["payment_id"]), 0)
    assert status(api, first["payment_id"])["status"] == "cancelled"

    second = initiate(api, shop)
    checkout = checkout_of(second["payment_id"])
    from chalicelib.integrations.mpesa import DarajaClient

    monkeypatch.setattr(DarajaClient, "query", lambda self, cid: None)
    _fire_query(checkout, 0)
    assert status(api, second["payment_id"])["status"] == "pending"
    assert payments.get(checkout).query_n == 1  # the next query is armed (60 s after the push)


# --- expiry and renewal --------------------------------------------------------------------------


def _buy(api: Client, shop: dict, receipt: str, phone: str | None = None) -> dict:
    accepted = initiate(api, shop, phone)
    callback(api, success_callback(checkout_of(accepted["payment_id"]), receipt=receipt))
    run_payment_worker()
    return accepted


def test_renewal_extends_the_same_subscription(api: Client, shop: dict, clock) -> None:
    """Given an active 1-hour subscription
    When the same phone buys the same package again 10 minutes later
    Then it is the same subscription, expiring an hour later than before, uptime caps added,
    provision_version 2 with a second command, and the expiry timer moved."""
    phone = new_phone()
    _buy(api, shop, "RCPT00000A", phone)
    sub = subscriptions(shop["router"]["router_id"])[0]
    first_expiry = sub.expires_at_ts
    clock.advance(600)
    _buy(api, shop, "RCPT00000B", phone)
    subs = subscriptions(shop["router"]["router_id"])
    assert len(subs) == 1
    renewed = subs[0]
    assert renewed.expires_at_ts == first_expiry + 3600 and renewed.limit_uptime_seconds == 7200
    assert renewed.provision_version == 2
    commands = router_commands()
    assert [c["version"] for c in commands] == [1, 2] and commands[1]["limit_uptime"] == "2h"
    assert timers.get(service.EXPIRE, renewed.subscription_id).due_at == pytest.approx(
        float(renewed.expires_at_ts), abs=0.01
    )


def test_expiry_queues_deprovision_once(api: Client, shop: dict, clock) -> None:
    """Given an active subscription
    When its expiry timer fires (and fires again), after expires_at
    Then it is expired, one deprovision command is queued, one SubscriptionExpired; a new purchase
    afterwards starts a new subscription."""
    phone = new_phone()
    _buy(api, shop, "RCPT00000C", phone)
    router_commands()
    sub = subscriptions(shop["router"]["router_id"])[0]
    clock.advance(3601)
    assert service.expire(sub.subscription_id) == "expired"
    assert service.expire(sub.subscription_id) == "duplicate"
    assert subs.get(sub.subscription_id).status == "expired"
    commands = router_commands()
    assert commands == [
        {
            "action": "deprovision",
            "subscription_id": sub.subscription_id,
            "router_id": shop["router"]["router_id"],
            "version": 1,
            "username": sub.username,
            "mac": "AA:BB:CC:DD:EE:01",
        }
    ]
    assert len(events("SubscriptionExpired")) == 1
    _buy(api, shop, "RCPT00000D", phone)
    assert len(subscriptions(shop["router"]["router_id"])) == 2


def test_expire_command_reconciles_from_data(api: Client, shop: dict, clock) -> None:
    """Given a subscription past expiry whose timer never ran
    When `muda hotspot expire --dry-run` and then `muda hotspot expire` run
    Then the dry run changes nothing and the real run expires it."""
    from click.testing import CliRunner

    from chalicelib.hotspot.cli import expire_cmd

    _buy(api, shop, "RCPT00000E")
    sub = subscriptions(shop["router"]["router_id"])[0]
    clock.advance(4000)
    dry = CliRunner().invoke(expire_cmd, ["--dry-run", "--verbose"])
    assert dry.exit_code == 0 and "would expire" in dry.output
    assert subs.get(sub.subscription_id).status == "active"
    real = CliRunner().invoke(expire_cmd, [])
    assert real.exit_code == 0 and "expired: " in real.output
    assert subs.get(sub.subscription_id).status == "expired"


def test_admin_feed_shows_payment_events_newest_first(api: Client, shop: dict, admin: dict) -> None:
    """Given a paid and a cancelled payment whose events reached the events queue
    When the ops consumer stores them and an admin reads /admin/events?type=PaymentFailed
    Then only PaymentFailed is listed; unfiltered, both, newest first; no token gets 401."""
    from app import app
    from chalicelib.core.aws import queue_arn
    from chalicelib.core.config import get_settings
    from infra.local.runtime import LambdaContext, sqs_event

    _buy(api, shop, "RCPT00000F")
    cancelled = initiate(api, shop)
    callback(api, failure_callback(checkout_of(cancelled["payment_id"]), 1032, "Request cancelled by user"))
    run_payment_worker()
    messages = drain("events")
    name = get_settings().events_queue
    app.handler_map["domain_events"](sqs_event(messages, queue_arn(name), "us-east-1"), LambdaContext("e"))
    failed = api.http.get("/admin/events?type=PaymentFailed", headers=admin).json_body["events"]
    assert [e["type"] for e in failed] == ["PaymentFailed"] and failed[0]["detail"]["reason"] == "cancelled"
    everything = api.http.get("/admin/events", headers=admin).json_body["events"]
    mine = [e for e in everything if e["type"].startswith("Payment")]
    assert {e["type"] for e in mine} == {"PaymentFailed", "PaymentProcessed"}
    # Newest first, to the second: EventBridge's `time` has no finer resolution (ties keep no order).
    assert [e["time"] for e in everything] == sorted((e["time"] for e in everything), reverse=True)
    assert api.http.get("/admin/events").status_code == 401


def test_one_oauth_token_serves_many_requests(api: Client, shop: dict, hotspot: DarajaMock) -> None:
    """Given a fresh Daraja client
    When three payments are initiated and one STK query is made
    Then Daraja issued one OAuth token for all four calls, each sent with it as Bearer."""
    daraja.reset()
    first = initiate(api, shop)
    initiate(api, shop)
    initiate(api, shop)
    daraja.client().query(checkout_of(first["payment_id"]))
    paths = [r["path"] for r in hotspot.request_log()]
    assert paths.count("/oauth/v1/generate") == 1
    assert (
        paths.count("/mpesa/stkpush/v1/processrequest") == 3
        and paths.count("/mpesa/stkpushquery/v1/query") == 1
    )


def test_a_late_success_after_no_answer_pays_and_its_followups_survive_a_crash(
    api: Client, shop: dict, clock, monkeypatch
) -> None:
    """Given a payment given up for lack of an answer (failed, no_result)
    When its success callback comes late and the worker dies before sending the router command
    Then the payment is paid with one subscription, and the next delivery after the follow-up
    grace takes the follow-ups over: one provisioning command, the expiry timer armed."""
    from chalicelib.hotspot import messages
    from chalicelib.payments import logic

    accepted = initiate(api, shop)
    checkout = checkout_of(accepted["payment_id"])
    gave_up = logic.Outcome(logic.FAILED, "no_result", logic.REASONS["no_result"])
    assert settlement.fail(payments.get(checkout), gave_up, logic.Settlement("no_result", "none", "query"))
    router_commands()

    def die(_: dict) -> None:
        raise RuntimeError("worker killed before the router command")

    monkeypatch.setattr(messages, "router_command", die)
    with pytest.raises(RuntimeError):
        settlement.settle(checkout, "0", "ok", None, "RLATE00001", "callback")
    monkeypatch.undo()
    paid = payments.get(checkout)
    assert paid.status == "paid" and paid.followups_at is None and router_commands() == []

    assert settlement.settle(checkout, "0", "ok", None, "RLATE00001", "callback") == "duplicate"
    clock.advance(31)
    assert settlement.settle(checkout, "0", "ok", None, "RLATE00001", "callback") == "resumed"
    (command,) = router_commands()
    assert command["action"] == "provision" and command["subscription_id"] == paid.grant_id
    assert timers.get(service.EXPIRE, paid.grant_id).state == "pending"
    assert payments.get(checkout).followups_at is not None
