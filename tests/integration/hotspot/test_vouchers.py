"""Vouchers on in-process moto through the API: a batch generated, exported (CSV, sheet), sold,
redeemed once (and again by the same device), revoked, expired; guessing rate-limited; bad
input answered 4xx; a voucher's access authorised over RADIUS."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client
from click.testing import CliRunner

from chalicelib.core import config, secrets
from chalicelib.core.errors import TooManyRequests
from chalicelib.hotspot.models import subscriptions as subs
from chalicelib.hotspot.settings import HotspotSettings, hotspot_settings
from chalicelib.hotspot.vouchers import logic, models, redeem
from chalicelib.hotspot.vouchers import service as vouchers
from chalicelib.hotspot.vouchers.cli import vouchers as vouchers_cli
from chalicelib.radius import service as radius
from chalicelib.radius.settings import radius_settings
from tests.integration.hotspot.conftest import post, router_commands, subscriptions
from tests.support.calls import counted
from tests.support.ids import unique

GROUPED = re.compile(r"^[23456789A-HJ-NP-Z]{5}-[23456789A-HJ-NP-Z]{5}$")


@pytest.fixture(autouse=True)
def generous_address_limit(api: Client, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every request here comes from 127.0.0.1 (Chalice's local gateway): the per-address limit
    is raised so that only the tests about it meet it."""
    raised = hotspot_settings().model_copy(update={"attempts_per_ip": 100_000})
    monkeypatch.setitem(config._domain, HotspotSettings, raised)
    yield


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def mac() -> str:
    digits = unique("")[-10:].upper()
    return "02:" + ":".join(digits[i : i + 2] for i in range(0, 10, 2))


def make_batch(api: Client, admin: dict, shop: dict, count: int = 5, **changes: Any) -> dict:
    body = {
        "package_id": shop["package"]["package_id"],
        "router_id": shop["router"]["router_id"],
        "count": count,
        "expires_at": in_days(30),
        "label": "Agent Wanjiru",
        **changes,
    }
    response = post(api, "/admin/vouchers/batches", body, admin)
    assert response.status_code == 201, response.body
    return response.json_body


def codes_of(api: Client, admin: dict, batch: dict) -> list[dict[str, str]]:
    response = api.http.get(batch["csv_url"], headers=admin)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.body.decode())))


def get_batch(api: Client, admin: dict, batch: dict) -> dict:
    return api.http.get(f"/admin/vouchers/batches/{batch['batch_id']}", headers=admin).json_body


def redeem_at(api: Client, code: str, router_id: str, device: str) -> Any:
    body = {"code": code, "router_id": router_id, "mac_address": device, "ip": "10.5.50.9"}
    return post(api, "/portal/vouchers/redeem", body)


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json_body["error"]["code"]


def test_a_batch_is_generated_listed_exported_and_printed(api: Client, admin: dict, shop: dict) -> None:
    """Given a package on a router
    When a batch of 99 codes is generated (two transactions' worth: 98, then 1 with the batch)
    Then it is listed newest first (paged) with 99 unused; its CSV and its printable sheet hold every
    code once, grouped ABCDE-FGHJK, with the package, price and expiry."""
    batch = make_batch(api, admin, shop, count=99)

    assert batch["status"] == "active" and batch["count"] == 99
    assert batch["counts"] == {"unused": 99, "sold": 0, "used": 0, "revoked": 0}
    newer = make_batch(api, admin, shop, count=1)
    first = api.http.get("/admin/vouchers/batches?limit=1", headers=admin).json_body
    second = api.http.get(f"/admin/vouchers/batches?limit=1&before={first['next']}", headers=admin).json_body
    assert [b["batch_id"] for b in first["batches"] + second["batches"]] == [
        newer["batch_id"],
        batch["batch_id"],
    ]
    rows = codes_of(api, admin, batch)
    codes = [r["code"] for r in rows]
    assert len(codes) == len(set(codes)) == 99 and all(GROUPED.match(c) for c in codes)
    assert {(r["status"], r["package"], r["price"], r["expires_at"]) for r in rows} == {
        ("unused", "1 hour", "20", batch["expires_at"])
    }
    sheet = api.http.get(batch["sheet_url"], headers=admin)
    page = sheet.body.decode()
    assert sheet.status_code == 200 and sheet.headers["Content-Type"].startswith("text/html")
    assert all(page.count(c) == 1 for c in codes) and page.count('class="card"') == 99
    assert "@media print" in page and "KES 20" in page and "Cafe" in page and "1 hour" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page), "the sheet loads nothing from outside"


def test_a_code_buys_access_once_and_the_same_device_gets_it_again(
    api: Client, admin: dict, shop: dict
) -> None:
    """Given a batch
    When a buyer types a code (lower case, with spaces) on the portal, retries, and another
    device tries it
    Then the first gets 201 and a subscription whose username and password are the code, the
    router a provisioning command; the retry 200 with the same subscription (the command sent
    again while not provisioned); the other device 409 voucher_used; the counts show it."""
    batch = make_batch(api, admin, shop)
    code = codes_of(api, admin, batch)[0]["code"]
    router_id, device = shop["router"]["router_id"], mac()
    typed = code.lower().replace("-", " ")

    first = redeem_at(api, typed, router_id, device)
    again = redeem_at(api, code, router_id, device)
    other = redeem_at(api, code, router_id, mac())

    assert first.status_code == 201, first.body
    out = first.json_body
    assert out["status_url"] == f"/portal/access/{out['subscription_id']}"
    assert out["package"] == {"id": shop["package"]["package_id"], "name": "1 hour"}
    sub = subs.get(out["subscription_id"])
    plain = code.replace("-", "")
    assert (sub.username, sub.password, sub.phone, sub.mac) == (plain, plain, f"voucher:{plain}", device)
    assert sub.status == "active" and float(sub.expires_at_ts) - float(sub.starts_at) == 3600
    assert again.status_code == 200 and again.json_body["subscription_id"] == out["subscription_id"]
    commands = [c for c in router_commands() if c["subscription_id"] == sub.subscription_id]
    assert [(c["action"], c["username"], c["version"]) for c in commands] == [("provision", plain, 1)] * 2
    assert error(other) == (409, "voucher_used")
    assert [s.subscription_id for s in subscriptions(router_id)] == [sub.subscription_id]
    assert get_batch(api, admin, batch)["counts"] == {"unused": 4, "sold": 0, "used": 1, "revoked": 0}
    row = next(r for r in codes_of(api, admin, batch) if r["code"] == code)
    assert (row["status"], row["used_by_mac"]) == ("used", device) and row["used_at"]
    looked_up = api.http.get(f"/admin/vouchers/{plain.lower()}", headers=admin).json_body
    assert (looked_up["status"], looked_up["subscription_id"]) == ("used", sub.subscription_id)


def test_sold_codes_are_counted_and_still_redeemable(api: Client, admin: dict, shop: dict) -> None:
    """Given a batch of 6 with one code used
    When 3 are marked sold by count, then the used one and an unused one by code, and a sold
    one is redeemed
    Then the counts follow every step exactly and the used code is skipped, not sold."""
    batch = make_batch(api, admin, shop, count=6)
    codes = [r["code"] for r in codes_of(api, admin, batch)]
    router_id = shop["router"]["router_id"]
    assert redeem_at(api, codes[5], router_id, mac()).status_code == 201
    sold_path = f"/admin/vouchers/batches/{batch['batch_id']}/sold"

    by_count = post(api, sold_path, {"count": 3}, admin).json_body
    by_code = post(api, sold_path, {"codes": [codes[5], codes[4].lower()]}, admin).json_body
    redeemed = redeem_at(api, codes[0], router_id, mac())

    assert by_count["marked"] == codes[:3]
    assert by_count["batch"]["counts"] == {"unused": 2, "sold": 3, "used": 1, "revoked": 0}
    assert by_code["marked"] == [codes[4]] and by_code["skipped"] == [{"code": codes[5], "status": "used"}]
    assert redeemed.status_code == 201
    assert get_batch(api, admin, batch)["counts"] == {"unused": 1, "sold": 3, "used": 2, "revoked": 0}
    assert error(post(api, sold_path, {"count": 2}, admin)) == (409, "not_enough_codes")


def test_revoked_codes_and_batches_are_refused_and_change_nothing(
    api: Client, admin: dict, shop: dict
) -> None:
    """Given a batch of 4 with one code sold
    When one code is revoked, then the whole batch, and buyers try codes of it
    Then each try is 409 voucher_revoked, no subscription is written, and the counts move the
    unused and sold codes to revoked (the used one stays used)."""
    batch = make_batch(api, admin, shop, count=4)
    codes = [r["code"] for r in codes_of(api, admin, batch)]
    router_id = shop["router"]["router_id"]
    assert redeem_at(api, codes[3], router_id, mac()).status_code == 201
    post(api, f"/admin/vouchers/batches/{batch['batch_id']}/sold", {"codes": [codes[2]]}, admin)
    before = len(subscriptions(router_id))

    revoked = post(api, f"/admin/vouchers/{codes[0]}/revoke", {}, admin)
    twice = post(api, f"/admin/vouchers/{codes[0]}/revoke", {}, admin)
    used = post(api, f"/admin/vouchers/{codes[3]}/revoke", {}, admin)
    tried_code = redeem_at(api, codes[0], router_id, mac())
    counts_after_code = get_batch(api, admin, batch)["counts"]
    whole = post(api, f"/admin/vouchers/batches/{batch['batch_id']}/revoke", {}, admin)
    tried_batch = [redeem_at(api, c, router_id, mac()) for c in codes[1:3]]

    assert revoked.status_code == twice.status_code == 200 and revoked.json_body["status"] == "revoked"
    assert error(used) == (409, "voucher_used")
    assert counts_after_code == {"unused": 1, "sold": 1, "used": 1, "revoked": 1}
    assert whole.status_code == 200 and whole.json_body["status"] == "revoked"
    assert whole.json_body["counts"] == {"unused": 0, "sold": 0, "used": 1, "revoked": 3}
    assert [error(r) for r in [tried_code, *tried_batch]] == [(409, "voucher_revoked")] * 3
    assert len(subscriptions(router_id)) == before
    statuses = sorted(r["status"] for r in codes_of(api, admin, batch))
    assert statuses == ["revoked", "revoked", "revoked", "used"]
    assert error(post(api, f"/admin/vouchers/batches/{batch['batch_id']}/sold", {"count": 1}, admin)) == (
        409,
        "batch_revoked",
    )


def test_an_expired_batch_is_refused(api: Client, admin: dict, shop: dict, clock: Any) -> None:
    """Given a batch valid for one more hour
    When a buyer redeems a code of it just over an hour later
    Then 409 voucher_expired, nothing is written, and the batch says expired."""
    batch = make_batch(api, admin, shop, count=2, expires_at=in_days(1 / 24))
    code = codes_of(api, admin, batch)[0]["code"]
    before = len(subscriptions(shop["router"]["router_id"]))

    clock.advance(3700)
    tried = redeem_at(api, code, shop["router"]["router_id"], mac())

    assert error(tried) == (409, "voucher_expired")
    assert len(subscriptions(shop["router"]["router_id"])) == before
    after = get_batch(api, admin, batch)
    assert after["status"] == "expired" and after["counts"]["used"] == 0


def test_a_code_is_redeemed_only_where_its_batch_and_package_are_sold(
    api: Client, admin: dict, shop: dict
) -> None:
    """Given a batch for one router, and a batch for every router the package is sold on, the
    package then sold on a second router too
    When their codes are tried on other routers' portals
    Then the first batch's code is refused off its router (422 voucher_not_for_router); the
    second's is taken on the router added since and refused on a router the package is not sold
    on; a refused code stays unused."""
    router_id = shop["router"]["router_id"]
    second = post(
        api,
        "/admin/routers",
        {
            **{k: shop["router"][k] for k in ("host", "username", "login_url")},
            "name": "Annex",
            "password": "p",
        },
        admin,
    ).json_body["router_id"]
    one = make_batch(api, admin, shop, count=1)
    every = make_batch(api, admin, shop, count=2, router_id=None)
    patched = api.http.patch(
        f"/admin/packages/{shop['package']['package_id']}",
        headers={**admin, "Content-Type": "application/json"},
        body=json.dumps({"router_ids": [router_id, second]}),
    )
    assert patched.status_code == 200 and every["router_id"] is None
    only_here = codes_of(api, admin, one)[0]["code"]
    anywhere = [r["code"] for r in codes_of(api, admin, every)]

    off_its_router = redeem_at(api, only_here, second, mac())
    added_since = redeem_at(api, anywhere[0], second, mac())
    not_sold_there = redeem_at(api, anywhere[1], "rtr_elsewhere", mac())

    assert error(off_its_router) == (422, "voucher_not_for_router")
    assert added_since.status_code == 201, added_since.body
    assert error(not_sold_there) == (422, "voucher_not_for_router")
    assert get_batch(api, admin, one)["counts"]["unused"] == 1
    assert get_batch(api, admin, every)["counts"] == {"unused": 1, "sold": 0, "used": 1, "revoked": 0}


def test_guessing_is_limited_per_device(api: Client, admin: dict, shop: dict) -> None:
    """Given a device that typed 5 wrong codes (404 voucher_not_found each)
    When it tries a 6th, even a right one
    Then 429 too_many_requests with Retry-After, and the right code stays unused."""
    batch = make_batch(api, admin, shop, count=1)
    code = codes_of(api, admin, batch)[0]["code"]
    router_id, device = shop["router"]["router_id"], mac()

    guesses = [redeem_at(api, logic.new_code(), router_id, device) for _ in range(5)]
    sixth = redeem_at(api, code, router_id, device)

    assert [error(g) for g in guesses] == [(404, "voucher_not_found")] * 5
    assert error(sixth) == (429, "too_many_requests")
    assert (
        1 <= int(sixth.headers["Retry-After"]) <= 600 and "try again" in sixth.json_body["error"]["message"]
    )
    assert get_batch(api, admin, batch)["counts"]["unused"] == 1


def test_guessing_is_limited_per_address(monkeypatch: pytest.MonkeyPatch, shop: dict) -> None:
    """Given a per-address limit of 3 tries
    When 4 devices behind one public address guess
    Then the 4th is refused with TooManyRequests, whatever its MAC."""
    low = hotspot_settings().model_copy(update={"attempts_per_ip": 3})
    monkeypatch.setitem(config._domain, HotspotSettings, low)
    address = "198.51.100." + str(int(unique("")[-6:], 16) % 250 + 1)
    router_id = shop["router"]["router_id"]

    def guess() -> Any:
        try:
            return redeem.redeem(logic.new_code(), router_id, mac(), None, address)
        except (logic.Refused, TooManyRequests) as refused:
            return refused

    tries = [guess() for _ in range(4)]

    assert [getattr(t, "code", None) for t in tries[:3]] == ["voucher_not_found"] * 3
    assert isinstance(tries[3], TooManyRequests) and "network address" in tries[3].message


REDEEM, BATCHES = "/portal/vouchers/redeem", "/admin/vouchers/batches"
DEVICE, LATER = "02:00:00:00:00:01", "2099-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        (REDEEM, "{not json", (400, "malformed_json")),
        (REDEEM, {"code": "ABC", "router_id": "r", "mac_address": DEVICE}, 422),
        (REDEEM, {"code": "ABCDE-FGHJ0", "router_id": "r", "mac_address": "x"}, 422),
        (REDEEM, {"code": 12345, "router_id": "r", "mac_address": DEVICE}, 422),
        (REDEEM, {"code": "ABCDE-FGHJK", "router_id": "r"}, 422),
        (BATCHES, {"package_id": "p", "count": 0, "expires_at": LATER}, 422),
        (BATCHES, {"package_id": "p", "count": 1001, "expires_at": LATER}, 422),
        (BATCHES, {"package_id": "p", "count": 1, "expires_at": "2099-01-01T00:00:00"}, 422),
        (BATCHES, {"package_id": "p", "count": 1, "expires_at": "2020-01-01T00:00:00Z"}, 422),
        (BATCHES, {"package_id": "p", "count": 1, "expires_at": LATER}, (422, "package_not_available")),
        (f"{BATCHES}/vb_nope/sold", {"count": 1, "codes": ["ABCDEFGHJK"]}, 422),
        (f"{BATCHES}/vb_nope/sold", {"count": 1}, (404, "not_found")),
        (f"{BATCHES}/nope/revoke", {}, (404, "not_found")),
        ("/admin/vouchers/ABCDEFGHJK/revoke", {}, (404, "voucher_not_found")),
        ("/admin/vouchers/not-a-code/revoke", {}, (404, "voucher_not_found")),
    ],
)
def test_bad_input_is_a_4xx_json_error(api: Client, admin: dict, path: str, body: Any, expected: Any) -> None:
    """Given malformed, out-of-range or unknown input, when it is sent, then a 4xx JSON error."""
    raw = body if isinstance(body, str) else json.dumps(body)
    response = api.http.post(path, headers={**admin, "Content-Type": "application/json"}, body=raw)
    code = expected if isinstance(expected, int) else expected[0]
    assert response.status_code == code, response.body
    assert set(response.json_body["error"]) >= {"code", "message"}
    if not isinstance(expected, int):
        assert response.json_body["error"]["code"] == expected[1]


def test_reads_of_unknown_things_are_404_and_admin_routes_need_a_token(api: Client, admin: dict) -> None:
    """Given nothing by those names, when read, then 404 JSON; without a token, 401."""
    for path in (
        "/admin/vouchers/batches/vb_nope",
        "/admin/vouchers/batches/vb_nope/codes.csv",
        "/admin/vouchers/batches/vb_nope/sheet",
        "/admin/vouchers/ABCDE-FGHJK",
        "/admin/vouchers/batches/x%20y",
    ):
        response = api.http.get(path, headers=admin)
        assert response.status_code == 404 and "error" in response.json_body, path
    assert api.http.get("/admin/vouchers/batches").status_code == 401
    assert api.http.get("/admin/vouchers/batches?limit=0", headers=admin).status_code == 400


def test_a_voucher_subscription_is_authorised_over_radius(api: Client, admin: dict, shop: dict) -> None:
    """Given a RADIUS-mode router, a package on it and a code redeemed at its portal
    When the router asks Authorize for the code as User-Name from that device
    Then Access-Accept with the code as the password and the hour left; a wrong device of a
    single-device package is refused."""
    nas = unique("nas")
    router = post(
        api,
        "/admin/routers",
        {
            "name": "Radius cafe",
            "host": "127.0.0.1",
            "username": "api",
            "password": "api-password",
            "login_url": "http://10.5.50.1/login",
            "mode": "radius",
            "nas_identifier": nas,
            "radius_secret": "nas-secret-1",
        },
        admin,
    ).json_body
    package = post(
        api,
        "/admin/packages",
        {"name": "1 hour", "price": 20, "validity_seconds": 3600, "router_ids": [router["router_id"]]},
        admin,
    ).json_body
    batch = make_batch(api, admin, {"router": router, "package": package}, count=1)
    code = codes_of(api, admin, batch)[0]["code"].replace("-", "")
    device = mac()
    assert redeem_at(api, code, router["router_id"], device).status_code == 201
    secrets.write(radius_settings().key_secret, {"key": "k" * 32})
    radius.clear_caches()

    answer = radius.authorize({"User-Name": code, "NAS-Identifier": nas, "Calling-Station-Id": device})
    other = radius.authorize({"User-Name": code, "NAS-Identifier": nas, "Calling-Station-Id": mac()})

    assert answer.accept, answer.reason
    assert answer.control == {"Cleartext-Password": code}
    assert 3590 <= answer.reply["Session-Timeout"] <= 3600
    assert (other.accept, other.reason) == (False, "other_device")


def test_what_a_batch_and_a_redemption_cost_in_aws_calls(api: Client, admin: dict, shop: dict) -> None:
    """Given a warm process
    When a batch of 99 codes is generated and one code is redeemed
    Then the batch costs the package's read and 2 transactions (98 codes, then 1 with the batch
    and its code list); the redemption 7 calls: the device's and the address's try counted, the
    code read, one transaction (code, counts, subscription, user, pointer, expiry timer, provision
    check), the provisioning command, the expiry timer armed (Scheduler) and the provision check
    armed (SQS); a wrong guess 3 (the tries counted, the read)."""
    router_id = shop["router"]["router_id"]
    until = datetime.now(UTC) + timedelta(days=1)
    warm = vouchers.generate(shop["package"]["package_id"], router_id, 2, until, None)
    redeem.redeem(models.batch_with_codes(warm.batch_id)[1][0], router_id, mac(), None, "192.0.2.1")

    with counted() as generating:
        made = vouchers.generate(shop["package"]["package_id"], router_id, 99, until, None)
    code = models.batch_with_codes(made.batch_id)[1][0]
    with counted() as redeeming:
        redeem.redeem(code, router_id, mac(), None, "192.0.2.1")
    with counted() as guessing, pytest.raises(logic.Refused):
        redeem.redeem(logic.new_code(), router_id, mac(), None, "192.0.2.1")

    assert generating == {"dynamodb:GetItem": 1, "dynamodb:TransactWriteItems": 2}
    assert sum(redeeming.values()) == 7, redeeming
    assert redeeming["dynamodb:UpdateItem"] == 2 and redeeming["dynamodb:TransactWriteItems"] == 1
    assert redeeming["sqs:SendMessage"] == 2 and redeeming["scheduler:CreateSchedule"] == 1
    assert guessing == {"dynamodb:UpdateItem": 2, "dynamodb:GetItem": 1}


def test_an_operator_generates_exports_and_revokes_from_the_shell(shop: dict) -> None:
    """Given a package on a router
    When `muda hotspot vouchers generate`, `list`, `csv`, `sheet` and `revoke` run
    Then a batch id is printed, listed with its counts, its 3 codes are in the CSV and on the
    sheet, and it ends revoked; an unknown package is an error, not a traceback."""
    runner = CliRunner()
    args = ["--package", shop["package"]["package_id"], "--router", shop["router"]["router_id"]]

    made = runner.invoke(vouchers_cli, ["generate", *args, "--count", "3", "--expires", "2099-01-01"])
    batch_id = made.output.strip()
    listed = runner.invoke(vouchers_cli, ["list"])
    rows = runner.invoke(vouchers_cli, ["csv", batch_id]).output.splitlines()
    sheet = runner.invoke(vouchers_cli, ["sheet", batch_id]).output
    revoked = runner.invoke(vouchers_cli, ["revoke", batch_id])
    unknown = runner.invoke(
        vouchers_cli, ["generate", "--package", "pkg_x", "--count", "1", "--expires", "2099-01-01"]
    )

    assert made.exit_code == 0 and batch_id.startswith("vb_")
    assert f"{batch_id}  active" in listed.output and "unused=3" in listed.output
    codes = [row.split(",")[0] for row in rows[1:]]
    assert len(codes) == 3 and all(GROUPED.match(c) and c in sheet for c in codes)
    assert revoked.exit_code == 0 and "revoked=3" in revoked.output
    assert unknown.exit_code == 1 and "package_not_available" in unknown.output
