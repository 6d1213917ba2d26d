"""Earnings statements over the API on moto: after a run of sessions (ticks, a manual end, an
idle auto-end, a credits-exhausted auto-end, a call) the statement equals the ledger, and over
all time the wallet's balance plus what was paid out; CSV and admin views agree."""

from __future__ import annotations

import csv
import io

from chalicelib.consult import models
from chalicelib.consult.models import credits as wallets
from chalicelib.core import clock as core_clock
from chalicelib.core import db
from tests.integration.consult.conftest import fire_due

INTERVAL, IDLE = 600, 1800


def text_session(users, patient: str = "patient") -> str:
    status, body = users[patient]("POST", "/text-sessions", {"doctor_id": users["doctor"].sub})
    assert status == 201, body
    assert users["doctor"]("POST", f"/text-sessions/{body['id']}/messages", {"body": "Hello"})[0] == 201
    return body["id"]


def run_of_sessions(users, credits, ids, clock) -> list[str]:
    """Four consultations with one doctor: a text session ended by hand in its third interval,
    one that ends when its 2 credits run out, a voice call on its one credit (ends after its
    first tick; the hang-up changes nothing), and a session nobody writes in that ends idle."""
    credits(8)
    credits(2, patient=ids["stranger"])
    credits(1, "voice")
    manual, exhausted = text_session(users), text_session(users, "stranger")
    call = users["patient"]("POST", "/calls", {"doctor_id": users["doctor"].sub, "kind": "voice"})[1]
    assert users["doctor"]("POST", f"/calls/{call['id']}/connected")[0] == 200
    clock.advance(INTERVAL)
    fire_due()
    clock.advance(INTERVAL + 30)
    fire_due()
    assert users["patient"]("POST", f"/text-sessions/{manual}/end", {})[1]["intervals_billed"] == 3
    assert users["patient"]("POST", f"/calls/{call['id']}/end", {})[1]["intervals_billed"] == 1
    assert users["stranger"]("GET", f"/text-sessions/{exhausted}")[1]["ended_reason"] == "credits_exhausted"
    idle = text_session(users)  # nobody writes: it bills what elapsed, then ends idle
    clock.advance(IDLE + 1)
    fire_due()
    ended = users["patient"]("GET", f"/text-sessions/{idle}")[1]
    assert (ended["status"], ended["ended_reason"]) == ("ended", "idle")
    return [manual, exhausted, call["id"], idle]


def ledger_awards(session_ids: list[str]) -> list[models.LedgerEntry]:
    return [e for sid in session_ids for e in models.ledger_of_session(sid) if e.entry == "award"]


def test_statement_equals_the_ledger_and_the_wallet_after_a_run_of_sessions(
    users, credits, ids, clock
) -> None:
    """Given a run of sessions, manual ends and auto-ends, the all-time statement's intervals,
    credits and amount per mode equal the ledger's awards and the wallet (balance + paid out),
    and still do after a payout moves money out of the balance."""
    sessions = run_of_sessions(users, credits, ids, clock)
    awards = ledger_awards(sessions)
    doctor = users["doctor"]

    status, statement = doctor("GET", "/me/consult/earnings?group=day")

    assert status == 200, statement
    total = statement["total"]
    assert total["intervals"] == total["credits"] == len(awards) == 9  # 3 + 2 + 1 + 3 (idle)
    assert total["amount"] == sum(int(e.amount) for e in awards)
    for mode in ("text", "voice"):
        mine = [e for e in awards if e.kind == mode]
        assert statement["by_mode"][mode] == {
            "intervals": len(mine),
            "credits": len(mine),
            "amount": sum(int(e.amount) for e in mine),
        }
    wallet = statement["wallet"]
    assert total["amount"] == wallet["balance"] + wallet["paid_out"] and wallet["paid_out"] == 0
    assert statement["reconciles"] is True
    assert sum(p["amount"] for p in statement["periods"]) == total["amount"]

    # the payouts' side of the wallet (issue 14): balance down, paid_out up, in one transaction
    with db.transact() as tx:
        wallets.pay_out(tx, doctor.sub, 1000, core_clock.now())
    after = doctor("GET", "/me/consult/earnings?group=month")[1]
    assert after["total"] == total and after["reconciles"] is True
    assert (after["wallet"]["balance"], after["wallet"]["paid_out"]) == (wallet["balance"] - 1000, 1000)
    assert after["total"]["amount"] == after["wallet"]["balance"] + after["wallet"]["paid_out"]


def test_csv_and_admin_views_agree_and_only_the_doctor_or_an_admin_read(users, credits, clock) -> None:
    """Given earnings (one interval), the CSV's total row equals the JSON total; an admin sees
    the same for the doctor; a patient or another doctor cannot read them; a partial range does not claim to
    reconcile."""
    credits(1)
    sid = text_session(users)
    clock.advance(60)
    assert users["patient"]("POST", f"/text-sessions/{sid}/end", {})[1]["intervals_billed"] == 1
    doctor = users["doctor"]
    mine = doctor("GET", "/me/consult/earnings?group=week")[1]
    response = doctor.api.http.get("/me/consult/earnings/csv?group=week", headers=doctor.headers)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.body.decode())))
    assert rows[-1]["mode"] == "all" and int(rows[-1]["amount"]) == mine["total"]["amount"]
    assert int(rows[-1]["intervals"]) == mine["total"]["intervals"]

    admin = users["admin"]("GET", f"/admin/consult/doctors/{doctor.sub}/earnings?group=week")[1]
    assert (admin["total"], admin["periods"]) == (mine["total"], mine["periods"])
    assert users["admin"]("GET", "/admin/consult/doctors/nobody-here/earnings")[0] == 404
    assert users["patient"]("GET", "/me/consult/earnings")[0] == 403
    assert users["other_doctor"]("GET", f"/admin/consult/doctors/{doctor.sub}/earnings")[0] == 403
    assert users["other_doctor"]("GET", "/me/consult/earnings")[1]["total"]["amount"] == 0

    first, last = mine["periods"][0]["start"], mine["periods"][-1]["end"]
    partial = doctor("GET", f"/me/consult/earnings?from={first}&to={last}")[1]
    assert partial["reconciles"] is None and partial["total"] == mine["total"]
    assert doctor("GET", "/me/consult/earnings?from=2027-01-02&to=2027-01-01")[0] == 400
    assert doctor("GET", "/me/consult/earnings?group=year")[0] == 400
