"""Plans, subscriptions, top-ups and wallets: admins grant once per reference; users read their own."""

from __future__ import annotations

from chalicelib.consult import models


def test_plan_subscription_and_top_up_apply_once_per_reference(users) -> None:
    admin, patient = users["admin"], users["patient"].sub
    status, plan = admin(
        "POST",
        "/admin/consult/plans",
        {"name": "Basic", "text_sessions": 4, "voice_calls": 2, "price": 50000},
    )
    assert status == 201 and plan["currency"] == "KES"
    assert any(p["id"] == plan["id"] for p in users["patient"]("GET", "/consult/plans")[1]["plans"])

    body = {"patient_id": patient, "plan_id": plan["id"], "reference": "MPESA-ABC123"}
    status, sub = admin("POST", "/admin/consult/subscriptions", body)
    assert status == 201 and (
        sub["status"],
        sub["text_sessions_remaining"],
        sub["voice_calls_remaining"],
    ) == ("active", 4, 2)
    status, again = admin("POST", "/admin/consult/subscriptions", body)
    assert status == 409 and again["error"]["code"] == "already_applied"

    top = {"patient_id": patient, "kind": "video", "credits": 3, "reference": "MPESA-XYZ"}
    assert admin("POST", "/admin/consult/top-ups", top)[1]["video_calls_remaining"] == 3
    assert admin("POST", "/admin/consult/top-ups", top)[0] == 409
    mine = users["patient"]("GET", "/me/consult/subscription")[1]
    assert (
        mine["text_sessions_remaining"],
        mine["voice_calls_remaining"],
        mine["video_calls_remaining"],
    ) == (4, 2, 3)


def test_bad_admin_input_is_refused_and_changes_nothing(users) -> None:
    admin, patient = users["admin"], users["patient"].sub
    assert (
        admin(
            "POST",
            "/admin/consult/subscriptions",
            {"patient_id": patient, "plan_id": "nope", "reference": "r1"},
        )[0]
        == 404
    )
    assert (
        admin(
            "POST",
            "/admin/consult/top-ups",
            {"patient_id": patient, "kind": "text", "credits": 0, "reference": "r"},
        )[0]
        == 422
    )
    assert (
        admin(
            "POST",
            "/admin/consult/top-ups",
            {"patient_id": patient, "kind": "text", "credits": -5, "reference": "r"},
        )[0]
        == 422
    )
    assert admin("PUT", f"/admin/consult/subscriptions/{patient}/status", {"status": "deleted"})[0] == 422
    assert admin("PUT", f"/admin/consult/subscriptions/{patient}/status", {"status": "expired"})[0] == 404
    assert models.get_subscription(patient) is None
    assert users["patient"]("GET", "/me/consult/subscription")[0] == 404


def test_only_admins_grant_and_users_read_only_their_own(users, credits) -> None:
    patient = users["patient"].sub
    top = {"patient_id": patient, "kind": "text", "credits": 100, "reference": "self-serve"}
    assert users["patient"]("POST", "/admin/consult/top-ups", top)[0] == 403
    assert users["doctor"]("POST", "/admin/consult/plans", {"name": "x", "price": 1})[0] == 403
    assert users["patient"]("GET", f"/admin/consult/subscriptions/{patient}")[0] == 403
    assert users["doctor"]("GET", "/me/consult/subscription")[0] == 403
    assert users["patient"]("GET", "/me/consult/wallet")[0] == 403
    credits(1)
    assert users["admin"]("GET", f"/admin/consult/subscriptions/{patient}")[1]["text_sessions_remaining"] == 1
    assert users["doctor"]("GET", "/me/consult/wallet")[1]["balance"] == 0
