"""Reads and conditional writes of RADIUS accounting, and the reads an Authorize makes.

- ``partition``: one ``Query`` → the subscription, its sessions and its cut-offs;
- ``lookup``: one ``BatchGetItem`` → the phone's user, current and last subscriptions;
- ``record``: one ``TransactWriteItems`` per accounting packet: the subscription must be this
  user's on this router (a check), and the session's totals only grow (a duplicate or
  out-of-order Interim is refused, so nothing is counted twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.core import clock, db
from chalicelib.hotspot.models.items import CurrentItem, SubscriptionItem, current_key, user_key
from chalicelib.radius import logic
from chalicelib.radius.models.items import (
    CUTOFF,
    SESSION,
    CutoffItem,
    LastItem,
    SessionItem,
    cutoff_key,
    last_key,
    session_key,
)
from chalicelib.radius.models.items import (
    partition as partition_key,
)


def _client() -> Any:
    return SubscriptionItem._get_connection().connection.client


@dataclass
class Partition:
    subscription: SubscriptionItem | None
    sessions: list[SessionItem] = field(default_factory=list)
    cutoffs: set[int] = field(default_factory=set)

    @property
    def usage(self) -> logic.Usage:
        return logic.Usage(
            sum(int(s.total_octets) for s in self.sessions), sum(int(s.session_time) for s in self.sessions)
        )


def partition(subscription_id: str) -> Partition:
    """The subscription and everything accounted against it, in one consistent ``Query``."""
    found = Partition(None)
    kwargs: dict[str, Any] = {
        "TableName": SubscriptionItem.Meta.table_name,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": partition_key(subscription_id)}},
        "ConsistentRead": True,
    }
    while True:
        page = _client().query(**kwargs)
        for raw in page.get("Items", []):
            sk = raw["sk"]["S"]
            if sk == "SUB":
                found.subscription = SubscriptionItem.from_raw_data(raw)
            elif sk.startswith(SESSION):
                found.sessions.append(SessionItem.from_raw_data(raw))
            elif sk.startswith(CUTOFF):
                found.cutoffs.add(int(sk[len(CUTOFF) :]))
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass(frozen=True)
class Lookup:
    user: bool
    current: str | None  # the subscription the hotspot's pointer names on this router
    last: str | None  # the last one that logged in here
    elsewhere: bool  # a current subscription on another of ``others``


def lookup(phone: str, router_id: str, others: list[str]) -> Lookup:
    """Who the phone is on this router, in one ``BatchGetItem`` (up to 100 keys)."""
    keys = {
        "user": user_key(phone),
        "current": current_key(phone, router_id),
        "last": last_key(phone, router_id),
        **{f"other:{r}": current_key(phone, r) for r in others[:97]},
    }
    table = SubscriptionItem.Meta.table_name
    request = {table: {"Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in keys.values()]}}
    found: dict[str, dict[str, Any]] = {}
    while request:
        response = _client().batch_get_item(
            RequestItems={t: {**r, "ConsistentRead": True} for t, r in request.items()}
        )
        for raw in response.get("Responses", {}).get(table, []):
            found[raw["pk"]["S"]] = raw
        request = response.get("UnprocessedKeys") or {}
    current = found.get(keys["current"][0])
    last = found.get(keys["last"][0])
    return Lookup(
        user=keys["user"][0] in found,
        current=CurrentItem.from_raw_data(current).subscription_id if current else None,
        last=LastItem.from_raw_data(last).subscription_id if last else None,
        elsewhere=any(keys[k][0] in found for k in keys if k.startswith("other:")),
    )


def _owned(tx: db.Tx, subscription_id: str, router_id: str, username: str) -> None:
    """The packet's subscription exists and is this user's on this router (label ``owner``)."""
    sk = SubscriptionItem.sk
    tx.check(
        SubscriptionItem,
        partition_key(subscription_id),
        "SUB",
        sk.exists() & (SubscriptionItem.router_id == router_id) & (SubscriptionItem.username == username),
        label="owner",
    )


def record(report: logic.Report, subscription_id: str, router_id: str, username: str, phone: str) -> str:
    """Apply one accounting packet: ``recorded``, ``duplicate`` (already counted: a replay, an
    older Interim, anything after Stop) or ``not_owned`` (no such subscription for this user
    here). One transaction: nothing is written unless the whole packet counts."""
    now = clock.now()
    item = SessionItem(*session_key(subscription_id, report.unique_id))
    fields: dict[str, Any] = {
        "subscription_id": subscription_id,
        "router_id": router_id,
        "username": username,
        "input_octets": report.input_octets,
        "output_octets": report.output_octets,
        "total_octets": report.octets,
        "session_time": report.session_time,
        "state": {"start": "started", "interim": "interim", "stop": "stopped"}[report.kind],
        "updated_at": now,
    }
    for name, value in (
        ("acct_session_id", report.session_id),
        ("mac", report.mac),
        ("ip", report.ip),
    ):
        if value:
            fields[name] = value
    if report.kind == "stop":
        fields["stopped_at"] = now
        if report.cause:
            fields["terminate_cause"] = report.cause
    S = SessionItem
    actions = [getattr(S, k).set(v) for k, v in fields.items()]
    actions += [S.started_at.set(S.started_at | now), S.reports.add(1)]
    fresh = S.pk.does_not_exist()
    if report.kind == "start":
        condition = fresh
    else:
        grows = (S.total_octets < report.octets) | (
            (S.total_octets == report.octets) & (S.session_time < report.session_time)
        )
        if report.kind == "stop":  # a Stop closes the session once, and never lowers it
            grows = (S.total_octets <= report.octets) & (S.session_time <= report.session_time)
        condition = fresh | (S.stopped_at.does_not_exist() & grows)

    def write() -> None:
        with db.transact() as tx:
            _owned(tx, subscription_id, router_id, username)
            tx.update(item, actions, condition, label="session")
            if report.kind == "start":
                last = LastItem(*last_key(phone, router_id), subscription_id=subscription_id, updated_at=now)
                tx.put(last, label="last")

    try:
        db.retry_on_conflict(write)
    except db.Refused as refused:
        if refused.by("owner"):
            return "not_owned"
        if refused.by("session"):
            return "duplicate"
        raise
    return "recorded"


def claim_cutoff(subscription_id: str, limit: int) -> bool:
    """Claim the one Disconnect for running out of ``limit`` bytes (a renewal raises the limit,
    so its own cut-off can be claimed later)."""
    return db.put_if_absent(CutoffItem(*cutoff_key(subscription_id, limit), created_at=clock.now()))
