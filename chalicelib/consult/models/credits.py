"""Plans, subscriptions (credits per kind), grants and wallets: reads and conditional writes."""

from __future__ import annotations

from chalicelib.consult.models import items
from chalicelib.consult.models.items import Plan, Subscription, Wallet
from chalicelib.core import clock, db


def get_plan(plan_id: str) -> Plan | None:
    return db.get_or_none(Plan, *items.plan_key(plan_id), consistent=True)


def list_plans() -> list[Plan]:
    return list(Plan.by_doctor.query(items.PLANS))


def add_plan(plan: Plan) -> bool:
    """Store a new plan; ``False`` if one with its id exists (kept as it is)."""
    return db.put_if_absent(plan)


def get_subscription(patient_id: str) -> Subscription | None:
    return db.get_or_none(Subscription, *items.subscription_key(patient_id), consistent=True)


def get_wallet(doctor_id: str) -> Wallet | None:
    return db.get_or_none(Wallet, *items.wallet_key(doctor_id), consistent=True)


def pay_out(tx: db.Tx, doctor_id: str, amount: int, now: float) -> None:
    """The wallet's side of a payout, inside the payout's own transaction: ``balance`` down and
    ``paid_out`` up by ``amount`` (refused below 0, label ``wallet``), so the earnings statement
    of all time still equals ``balance + paid_out``."""
    tx.update(
        Wallet(*items.wallet_key(doctor_id)),
        [Wallet.balance.add(-amount), Wallet.paid_out.add(amount), Wallet.updated_at.set(now)],
        condition=Wallet.balance >= amount,
        label="wallet",
    )


def grant(patient_id: str, reference: str, credits: dict[str, int], plan_id: str | None, by: str) -> bool:
    """Add credits (a subscription or a top-up) once per reference; ``False`` if already applied."""
    now = clock.now()
    actions = [Subscription.patient_id.set(patient_id), Subscription.updated_at.set(now)]
    actions += [Subscription.credit(kind).add(n) for kind, n in credits.items()]
    if plan_id:
        # A new plan (re)activates the subscription; a top-up leaves its status alone.
        actions += [Subscription.plan_id.set(plan_id), Subscription.status.set("active")]
    else:
        actions.append(Subscription.status.set(Subscription.status | "active"))
    record = items.new_grant(patient_id, reference, credits, plan_id, by, now)

    def write() -> None:
        with db.transact() as tx:
            tx.put(record, condition=items.Grant.sk.does_not_exist(), label="grant")
            tx.update(Subscription(*items.subscription_key(patient_id)), actions, label="subscription")

    return db.applied(write, refused_by="grant")


def set_subscription_status(patient_id: str, status: str) -> bool:
    """``False`` if the patient has no subscription."""
    return db.update_if(
        Subscription(*items.subscription_key(patient_id)),
        [Subscription.status.set(status), Subscription.updated_at.set(clock.now())],
        Subscription.pk.exists(),
    )
