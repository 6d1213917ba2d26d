"""Plans, subscriptions, top-ups, wallets and ledgers: what the admin and "me" routes and the
demo seed do with credits. Each grant applies once per reference (the business fact)."""

from __future__ import annotations

from chalicelib.consult.models import billing, credits, items
from chalicelib.consult.models.items import LedgerEntry, Plan, Subscription, Wallet
from chalicelib.core import clock, ids
from chalicelib.core.errors import Conflict, NotFound, PaymentRequired

_LABELS = {"text": "text session", "voice": "voice call", "video": "video call"}


def require_credit(patient_id: str, kind: str) -> None:
    subscription = credits.get_subscription(patient_id)
    label = _LABELS[kind]
    if subscription is None or subscription.status != "active":
        raise PaymentRequired(
            f"You need an active subscription with {label} credits. Please subscribe to a plan.",
            code="no_active_subscription",
        )
    if subscription.remaining(kind) < 1:
        raise PaymentRequired(
            f"You have no {label} credits left. Please top up or renew your plan.", code="no_credits"
        )


def create_plan(
    name: str,
    *,
    text_sessions: int = 0,
    voice_calls: int = 0,
    video_calls: int = 0,
    price: int = 0,
    currency: str = "KES",
    plan_id: str | None = None,
) -> Plan:
    """A new plan; with a ``plan_id`` that exists already (a re-run seed), that plan, unchanged."""
    plan = items.new_plan(
        plan_id or ids.new_id("plan_"),
        name,
        clock.now(),
        text_sessions=text_sessions,
        voice_calls=voice_calls,
        video_calls=video_calls,
        price=price,
        currency=currency,
    )
    if credits.add_plan(plan):
        return plan
    return credits.get_plan(plan.plan_id) or plan


def list_plans() -> list[Plan]:
    return credits.list_plans()


def subscribe(patient_id: str, plan_id: str, reference: str, by: str) -> Subscription:
    """Subscribe a patient to a plan: its credits are added and the subscription (re)activated,
    once per reference (409 ``already_applied`` after that)."""
    plan = credits.get_plan(plan_id)
    if plan is None:
        raise NotFound(f"no plan {plan_id}")
    return _grant(patient_id, reference, plan.credits(), plan.plan_id, by)


def top_up(patient_id: str, kind: str, count: int, reference: str, by: str) -> Subscription:
    """Add credits of one kind, once per reference (e.g. the M-Pesa receipt)."""
    return _grant(patient_id, reference, {kind: count}, None, by)


def _grant(
    patient_id: str, reference: str, added: dict[str, int], plan_id: str | None, by: str
) -> Subscription:
    if not credits.grant(patient_id, reference, added, plan_id, by):
        raise Conflict(f"reference {reference} was already applied", code="already_applied")
    return subscription(patient_id)


def set_status(patient_id: str, status: str) -> Subscription:
    """Set a subscription's status (only active ones are charged)."""
    if not credits.set_subscription_status(patient_id, status):
        raise NotFound(f"patient {patient_id} has no subscription")
    return subscription(patient_id)


def subscription(patient_id: str, *, mine: bool = False) -> Subscription:
    found = credits.get_subscription(patient_id)
    if found is None:
        if mine:
            raise NotFound("you have no subscription yet", code="no_subscription")
        raise NotFound(f"patient {patient_id} has no subscription")
    return found


def wallet(doctor_id: str) -> Wallet:
    """The doctor's earnings; an empty wallet before the first award."""
    return credits.get_wallet(doctor_id) or Wallet(*items.wallet_key(doctor_id), doctor_id=doctor_id)


def ledger(sub: str, role: str, limit: int) -> list[LedgerEntry]:
    """A party's debits (patient) or awards (doctor), newest first."""
    return billing.ledger_of(sub, role, limit)
