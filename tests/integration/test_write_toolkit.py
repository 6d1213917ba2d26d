"""The core write toolkit and the outbox on moto: labelled refusals, leases, and events that leave
exactly when their state change commits — even when the process dies in between."""

from __future__ import annotations

import json
import uuid

import pytest
from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.core import clock, db, outbox
from chalicelib.core.aws import client, queue_url
from chalicelib.core.config import get_settings
from chalicelib.core.db import MudaModel, Refused


class Account(MudaModel):
    """A toy aggregate in the ops table."""

    table = "ops"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    balance = NumberAttribute(default=0)
    claimed_at = NumberAttribute(null=True)
    done_at = NumberAttribute(null=True)


def account(balance: int = 1) -> Account:
    item = Account(f"ACCOUNT#{uuid.uuid4()}", "A", balance=balance)
    item.save()
    return item


def notifications_received() -> list[dict]:
    """Every message the bus put on the notifications queue (a consumer's view), taken off it."""
    sqs, url = client("sqs"), queue_url(get_settings().name("notifications"))
    got = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for m in messages:
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def debit(item: Account, label_ledger: bool = True) -> str:
    with db.transact() as tx:
        tx.update(item, [Account.balance.add(-1)], Account.balance >= 1, label="account")
        ledger = Account(item.pk, "LEDGER#1")
        tx.put(ledger, Account.pk.does_not_exist(), label="ledger")
        return tx.emit(item.pk, "test", "Debited", {"recipients": ["user-1"], "account": item.pk})


def test_a_refusal_names_the_label_that_refused_whatever_order_pynamodb_sends(aws) -> None:
    """Given an account debited once, when the same debit runs again, then the refusal names the
    ledger (the put, sent before the update) and not the account, and nothing more is written."""
    item = account(balance=5)
    debit(item)

    with pytest.raises(Refused) as refused:
        debit(item)

    assert refused.value.by("ledger") and not refused.value.by("account")
    assert refused.value.refused == {"ledger"} and not refused.value.conflict
    assert Account.get(item.pk, "A").balance == 4


def test_no_event_leaves_when_the_transaction_is_refused(aws) -> None:
    """Given an empty account, when a debit is refused, then no event is written or published."""
    notifications_received()
    item = account(balance=0)
    with pytest.raises(Refused):
        debit(item)
    assert not [e for e in outbox.waiting() if e.aggregate.endswith(item.pk)]
    assert not [m for m in notifications_received() if m["detail"].get("account") == item.pk]


def test_an_event_is_published_right_after_the_commit_and_leaves_the_outbox(aws) -> None:
    notifications_received()
    item = account()
    event_id = debit(item)
    (message,) = [m for m in notifications_received() if m["detail"].get("account") == item.pk]
    assert (message["detail-type"], message["source"]) == ("Debited", "muda.test")
    assert message["detail"]["idempotency_key"] == event_id
    assert not [e for e in outbox.waiting() if e.aggregate.endswith(item.pk)]


def test_a_crash_between_commit_and_publish_delivers_the_event_once_after_recovery(
    aws, clock, monkeypatch
) -> None:
    """Given a process that dies right after its commit (before publishing), then the state change
    stands and its event waits in the outbox; when the sweeper runs, the bus consumer gets it
    exactly once, and later sweeps publish nothing more."""
    notifications_received()
    item = account()

    def die(_: object) -> None:
        raise SystemExit("killed between commit and publish")

    monkeypatch.setattr(outbox, "drain_after_commit", die)
    with pytest.raises(SystemExit):
        debit(item)
    monkeypatch.undo()

    assert Account.get(item.pk, "A").balance == 0  # the change committed
    assert [e.name for e in outbox.waiting() if e.aggregate.endswith(item.pk)] == ["Debited"]
    assert notifications_received() == []

    clock.advance(outbox.SWEEP_AFTER_SECONDS + 1)
    assert outbox.sweep() >= 1
    assert outbox.sweep() == 0

    (message,) = [m for m in notifications_received() if m["detail"].get("account") == item.pk]
    from chalicelib.notifications.handlers import deliver

    assert deliver(message) == 1  # the consumer stores it once
    assert deliver(message) == 0  # and a redelivery of the same event_id adds nothing


def test_events_of_one_aggregate_leave_in_the_order_they_were_written(aws, clock, monkeypatch) -> None:
    notifications_received()
    item = account(balance=3)
    monkeypatch.setattr(outbox, "drain_after_commit", lambda _: None)  # left for the sweeper
    for n in range(3):
        clock.advance(0.001)
        with db.transact() as tx:
            tx.update(item, [Account.balance.add(-1)], Account.balance >= 1, label="account")
            tx.emit(item.pk, "test", "Debited", {"n": n, "account": item.pk})
    monkeypatch.undo()
    clock.advance(outbox.SWEEP_AFTER_SECONDS + 1)
    outbox.sweep()
    received = [m["detail"]["n"] for m in notifications_received() if m["detail"].get("account") == item.pk]
    assert received == [0, 1, 2]


def test_a_lease_is_taken_once_and_taken_over_only_after_it_expires(aws, clock) -> None:
    item = account()
    assert db.claim_lease(item, Account.claimed_at, 30, unless_done=Account.done_at)
    assert not db.claim_lease(item, Account.claimed_at, 30, unless_done=Account.done_at)
    clock.advance(31)
    assert db.claim_lease(item, Account.claimed_at, 30, unless_done=Account.done_at)
    item.update(actions=[Account.done_at.set(clock.t)])
    clock.advance(31)
    assert not db.claim_lease(item, Account.claimed_at, 30, unless_done=Account.done_at)


def test_small_helpers_answer_false_or_none_instead_of_raising(aws) -> None:
    item = account()
    assert db.get_or_none(Account, item.pk, "nope") is None
    assert db.get_or_none(Account, item.pk, "A", consistent=True) is not None
    assert not db.put_if_absent(Account(item.pk, "A"))
    assert db.put_if_absent(Account(item.pk, "B"))
    assert not db.update_if(item, [Account.balance.set(9)], Account.balance == 7)
    assert db.update_if(item, [Account.balance.set(9)], Account.balance == 1)
    assert not db.delete_if(item, Account.balance == 1)
    assert db.delete_if(item, Account.balance == 9)


def test_retry_on_conflict_retries_contention_but_not_a_refused_condition() -> None:
    calls: list[int] = []

    def contended() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Refused({}, conflict=True)
        return "done"

    assert db.retry_on_conflict(contended) == "done" and len(calls) == 3

    def refused() -> None:
        calls.append(1)
        raise Refused({"x": db.REFUSED})

    calls.clear()
    with pytest.raises(Refused):
        db.retry_on_conflict(refused)
    assert len(calls) == 1


def test_time_keys_sort_as_time() -> None:
    instants = [0.5, 9.25, 1_700_000_000.1, 1_700_000_000.123456, 9_999_999_999.0]
    assert sorted(clock.time_key(t) for t in instants) == [clock.time_key(t) for t in instants]


def test_a_sequenced_aggregate_leaves_in_sequence_order_whatever_the_writers_clocks(
    aws, clock, monkeypatch
) -> None:
    """Given two writers whose clocks disagree (the later change stamped earlier), when the events
    carry the aggregate's sequence, then they leave in sequence order."""
    notifications_received()
    item = account(balance=2)
    monkeypatch.setattr(outbox, "drain_after_commit", lambda _: None)
    for n, skew in ((1, 0.0), (2, -0.5)):
        clock.advance(skew)
        with db.transact() as tx:
            tx.update(item, [Account.balance.add(-1)], Account.balance >= 1, label="account")
            tx.emit(item.pk, "test", "Debited", {"n": n, "account": item.pk}, sequence=n)
    monkeypatch.undo()
    clock.advance(outbox.SWEEP_AFTER_SECONDS + 1)
    outbox.sweep()
    received = [m["detail"]["n"] for m in notifications_received() if m["detail"].get("account") == item.pk]
    assert received == [1, 2]


def test_the_idempotency_key_is_the_outboxs_alone(aws) -> None:
    with pytest.raises(ValueError), db.transact() as tx:
        tx.emit("x", "test", "Tested", {"idempotency_key": "mine"})


def test_applied_acknowledges_the_named_refusal_and_raises_any_other(aws) -> None:
    """Given a debited account, a repeat is ``False`` when the ledger is the refusal named; a
    refusal by another label is raised, not swallowed."""
    item = account(balance=5)
    assert db.applied(lambda: debit(item), refused_by="ledger")
    assert not db.applied(lambda: debit(item), refused_by="ledger")
    with pytest.raises(Refused):
        db.applied(lambda: debit(item), refused_by="account")
