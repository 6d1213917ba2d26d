"""Conditional writes and transactions on DynamoDB Local, raced by threads for real."""

from __future__ import annotations

import pytest
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError

from chalicelib.core import clock, db, timers
from chalicelib.core.db import MudaModel
from chalicelib.ops import models
from chalicelib.ops.handlers import PROBE
from tests.support.races import race

pytestmark = [pytest.mark.contract, pytest.mark.usefixtures("tables")]
RACERS = 20


@pytest.fixture(autouse=True)
def no_arming(monkeypatch: pytest.MonkeyPatch) -> None:
    """Arming (SQS/Scheduler) is not the data layer's business: only the table is under test."""
    monkeypatch.setattr(timers, "_arm", lambda item, now: None)


def test_concurrent_claims_fire_a_timer_once() -> None:
    """Given a due timer, when 20 consumers deliver it at once, exactly one claim wins."""
    due = round(clock.now(), 3)
    timers.schedule(PROBE, "c1.1", due)

    outcomes = race(lambda: timers.fire(timers.timer_id(PROBE, "c1.1"), due), n=RACERS, strict=True)

    assert sorted(outcomes) == ["duplicate"] * (RACERS - 1) + ["fired"]
    assert [p.executions for p in models.probes("c1")] == [1]
    assert timers.get(PROBE, "c1.1").state == timers.FIRED


def test_concurrent_schedules_of_the_same_timer_write_once() -> None:
    """Given 20 callers scheduling the same (kind, key, due_at), exactly one writes it."""
    due = clock.now() + 30
    assert sorted(race(lambda: timers.schedule(PROBE, "c2.1", due), n=RACERS, strict=True)) == [False] * (
        RACERS - 1
    ) + [True]


def test_claim_refuses_a_moved_timer_and_cancel_beats_late_claims() -> None:
    """Given a timer moved to a new time, a claim for the old time fails; once cancelled, none wins."""
    now = round(clock.now(), 3)
    timers.schedule(PROBE, "c3.1", now)
    timers.schedule(PROBE, "c3.1", now + 100)
    tid = timers.timer_id(PROBE, "c3.1")
    assert timers.fire(tid, now) == "duplicate"
    assert timers.cancel(PROBE, "c3.1") is True
    assert race(lambda: timers.fire(tid, now + 100), n=5, strict=True) == ["duplicate"] * 5


def test_cancel_racing_delivery_has_one_winner() -> None:
    """Given due timers, when a cancel and 5 deliveries race on each, either the cancel or one
    delivery wins, never both, and the handler runs at most once."""
    due = round(clock.now(), 3)
    for n in range(10):
        timers.schedule(PROBE, f"c5.{n}", due)

    def contest(n: int) -> tuple[bool, list[str]]:
        tid = timers.timer_id(PROBE, f"c5.{n}")
        cancelled, *fired = race(
            [lambda: timers.cancel(PROBE, f"c5.{n}")] + [lambda: timers.fire(tid, due)] * 5, strict=True
        )
        return cancelled, fired

    for n in range(10):
        cancelled, outcomes = contest(n)
        assert cancelled != ("fired" in outcomes)
        assert outcomes.count("fired") <= 1
    assert all(p.executions == 1 for p in models.probes("c5"))


def test_sweep_index_is_sparse() -> None:
    """Given fired and cancelled timers, only pending ones are on the sweeper's index."""
    now = round(clock.now(), 3)
    for n in range(3):
        timers.schedule(PROBE, f"c4.{n}", now - 600)
    timers.fire(timers.timer_id(PROBE, "c4.0"), now - 600)
    timers.cancel(PROBE, "c4.1")
    overdue = {t.key for t in timers.overdue(grace=0) if t.key.startswith("c4.")}
    assert overdue == {"c4.2"}


# --- the TransactWrite pattern every product's money movement uses ---------------------------


class Wallet(MudaModel):
    table = "ops"
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    credits = NumberAttribute(default=0)


class LedgerEntry(MudaModel):
    table = "ops"
    pk = UnicodeAttribute(hash_key=True)  # LEDGER#<session>
    sk = UnicodeAttribute(range_key=True)  # INTERVAL#<n>
    amount = NumberAttribute()


def bill_interval(wallet: str, payee: str, session: str, interval: int) -> bool:
    """Debit one credit, award it, and record the interval once: all or nothing."""
    try:
        with db.transact() as tx:
            tx.update(
                Wallet(wallet, "WALLET"),
                actions=[Wallet.credits.add(-1)],
                condition=Wallet.credits >= 1,
                label="debit",
            )
            tx.update(Wallet(payee, "WALLET"), actions=[Wallet.credits.add(1)], label="award")
            tx.put(
                LedgerEntry(f"LEDGER#{session}", f"INTERVAL#{interval}", amount=1),
                condition=LedgerEntry.pk.does_not_exist(),
                label="ledger",
            )
        return True
    except db.Refused:
        return False


def test_racing_bills_of_one_interval_move_money_once() -> None:
    """Given a wallet with 3 credits, when 20 workers bill interval 1 at once, one debit and one award."""
    Wallet("patient-1", "WALLET", credits=3).save()
    Wallet("doctor-1", "WALLET", credits=0).save()

    results = race(lambda: bill_interval("patient-1", "doctor-1", "s1", 1), n=RACERS, strict=True)

    assert results.count(True) == 1
    assert Wallet.get("patient-1", "WALLET", consistent_read=True).credits == 2
    assert Wallet.get("doctor-1", "WALLET", consistent_read=True).credits == 1


def test_credits_never_go_negative_under_racing_intervals() -> None:
    """Given 3 credits, when 20 different intervals are billed at once, exactly 3 succeed."""
    Wallet("patient-2", "WALLET", credits=3).save()
    Wallet("doctor-2", "WALLET", credits=0).save()
    counter = iter(range(1000))

    results = race(lambda: bill_interval("patient-2", "doctor-2", "s2", next(counter)), n=RACERS, strict=True)

    assert results.count(True) == 3
    assert Wallet.get("patient-2", "WALLET", consistent_read=True).credits == 0
    assert Wallet.get("doctor-2", "WALLET", consistent_read=True).credits == 3
    assert len(list(LedgerEntry.query("LEDGER#s2"))) == 3


def test_a_transaction_may_not_touch_one_item_twice() -> None:
    """Given a transaction with two actions on one item, DynamoDB refuses it whole (moto used not to)."""
    Wallet("patient-3", "WALLET", credits=5).save()
    with pytest.raises(TransactWriteError) as raised, db.transact() as tx:
        tx.update(Wallet("patient-3", "WALLET"), actions=[Wallet.credits.add(-1)], label="a")
        tx.update(Wallet("patient-3", "WALLET"), actions=[Wallet.credits.add(-1)], label="b")
    assert raised.value.cause_response_code == "ValidationException"
    assert Wallet.get("patient-3", "WALLET", consistent_read=True).credits == 5


def test_a_refusal_is_read_by_label_though_dynamodb_reports_in_sent_order() -> None:
    """Given a ledger entry that exists and a wallet with credits, when a transaction updates the
    wallet (added first) and puts the entry again (added second: PynamoDB sends puts before
    updates), then DynamoDB Local's reasons, read by label, blame the ledger and not the wallet."""
    Wallet("patient-4", "WALLET", credits=5).save()
    LedgerEntry("LEDGER#s4", "INTERVAL#1", amount=1).save()

    with pytest.raises(db.Refused) as refused, db.transact() as tx:
        tx.update(
            Wallet("patient-4", "WALLET"), [Wallet.credits.add(-1)], Wallet.credits >= 1, label="wallet"
        )
        tx.put(LedgerEntry("LEDGER#s4", "INTERVAL#1", amount=1), LedgerEntry.pk.does_not_exist(), "ledger")

    assert refused.value.refused == {"ledger"}
    assert Wallet.get("patient-4", "WALLET", consistent_read=True).credits == 5
