"""Plans, subscriptions, top-ups, wallets and ledgers: admins grant once per reference; users
read their own."""

from __future__ import annotations

from chalicelib.consult import service
from chalicelib.consult.api import ADMIN, PATIENT, api
from chalicelib.consult.api.shapes import (
    ledger_out,
    plan_out,
    subscription_out,
    viewer,
    wallet_out,
)
from chalicelib.consult.schemas import (
    LedgerOut,
    LedgerPage,
    PlanIn,
    PlanList,
    PlanOut,
    StatusIn,
    SubscribeIn,
    SubscriptionOut,
    TopUpIn,
    WalletOut,
)
from chalicelib.core.http import Call


@api.route("/admin/consult/plans", "POST", body=PlanIn, response=PlanOut, status=201, roles=ADMIN)
def create_plan(call: Call) -> PlanOut:
    """Create a plan: credits per kind and a price."""
    body: PlanIn = call.body
    return plan_out(service.create_plan(**body.model_dump()))


@api.route("/consult/plans", response=PlanList)
def list_plans(call: Call) -> PlanList:
    """The plans on offer."""
    return PlanList(plans=[plan_out(p) for p in service.list_plans()])


@api.route(
    "/admin/consult/subscriptions",
    "POST",
    body=SubscribeIn,
    response=SubscriptionOut,
    status=201,
    roles=ADMIN,
    errors=(404, 409),
)
def subscribe(call: Call) -> SubscriptionOut:
    """Subscribe a patient to a plan: adds the plan's credits and (re)activates, once per reference."""
    body: SubscribeIn = call.body
    return subscription_out(service.subscribe(body.patient_id, body.plan_id, body.reference, call.user.sub))


@api.route(
    "/admin/consult/top-ups",
    "POST",
    body=TopUpIn,
    response=SubscriptionOut,
    status=201,
    roles=ADMIN,
    errors=(409,),
)
def top_up(call: Call) -> SubscriptionOut:
    """Add credits of one kind to a patient, once per reference (e.g. the M-Pesa receipt)."""
    body: TopUpIn = call.body
    return subscription_out(
        service.top_up(body.patient_id, body.kind, body.credits, body.reference, call.user.sub)
    )


@api.route(
    "/admin/consult/subscriptions/{patient_id}/status",
    "PUT",
    body=StatusIn,
    response=SubscriptionOut,
    roles=ADMIN,
)
def set_status(call: Call, patient_id: str) -> SubscriptionOut:
    """Set a subscription's status (active, expired, suspended); only active ones are charged."""
    return subscription_out(service.set_status(patient_id, call.body.status))


@api.route("/admin/consult/subscriptions/{patient_id}", response=SubscriptionOut, roles=ADMIN)
def admin_subscription(call: Call, patient_id: str) -> SubscriptionOut:
    """Any patient's subscription."""
    return subscription_out(service.subscription(patient_id))


@api.route("/admin/consult/wallets/{doctor_id}", response=WalletOut, roles=ADMIN)
def admin_wallet(call: Call, doctor_id: str) -> WalletOut:
    """Any doctor's wallet."""
    return wallet_out(doctor_id)


@api.route("/me/consult/subscription", response=SubscriptionOut, roles=PATIENT, errors=(404,))
def my_subscription(call: Call) -> SubscriptionOut:
    """Your credits per kind and subscription status."""
    return subscription_out(service.subscription(call.user.sub, mine=True))


@api.route("/me/consult/wallet", response=WalletOut, roles=("doctor",))
def my_wallet(call: Call) -> WalletOut:
    """Your earnings (KES minor units) and the credits they came from."""
    return wallet_out(call.user.sub)


@api.route("/me/consult/ledger", query=LedgerPage, response=LedgerOut, roles=("patient", "doctor"))
def my_ledger(call: Call) -> LedgerOut:
    """Your debits (patient) or awards (doctor), newest first."""
    sub, role = viewer(call)
    return ledger_out(service.ledger(sub, role, call.args.limit))
