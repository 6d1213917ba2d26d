"""Liveness from heartbeats, and how long work waits on each queue.

A process that should be running says so by writing a heartbeat (an item ``HEARTBEAT/<name>`` in
the ops table): the local event runtime every ``health_beat_seconds``, the sweeper after each
sweep. ``report()`` reads them back and calls each *alive* or *stale* by its age, and adds the
age of the oldest visible message of every work queue, which is how a dead or drowning consumer
shows even when every process beats:

- on the local stack, from the emulator (``GET /_muda/sqs/ages``: exact, from moto's own queue
  state; a peek by ReceiveMessage would count as a receive and push messages toward their DLQ);
- on AWS, from CloudWatch's ``ApproximateAgeOfOldestMessage`` (the maximum over the last five
  minutes; SQS publishes it once a minute);
- where neither answers (in-process moto, LocalStack), the age is ``None``: no data, not stale.

The report is ``degraded`` when any heartbeat is stale or missing, or any queue's oldest message
is older than ``health_queue_stale_seconds``. ``/health`` answers it with HTTP 503.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Any, Literal

import requests
from pydantic import BaseModel
from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.core import clock
from chalicelib.core.aws import client, endpoint_url
from chalicelib.core.config import get_settings
from chalicelib.core.db import MudaModel

RUNTIME, SWEEPER = "runtime", "sweeper"
HEARTBEATS_PK = "HEARTBEAT"
AGES_PATH = "/_muda/sqs/ages"  # the local emulator's (infra/local/emulator.py)


class HeartbeatItem(MudaModel):
    """The last sign of life of one process (overwritten by each beat)."""

    table = "ops"
    pk = UnicodeAttribute(hash_key=True)  # HEARTBEAT
    sk = UnicodeAttribute(range_key=True)  # runtime | sweeper
    at = NumberAttribute()
    info = JSONAttribute(null=True)


class Beat(BaseModel):
    status: Literal["alive", "stale", "missing"]
    at: str | None = None  # ISO 8601, UTC
    age_seconds: float | None = None
    stale_after_seconds: float
    info: dict[str, Any] = {}


class QueueAge(BaseModel):
    status: Literal["ok", "stale", "no data"]
    oldest_age_seconds: float | None = None
    visible: int | None = None
    stale_after_seconds: float
    source: str


class Report(BaseModel):
    status: Literal["ok", "degraded"]
    heartbeats: dict[str, Beat]
    queues: dict[str, QueueAge]


def beat(name: str, **info: Any) -> None:
    """Record that ``name`` is alive now (with whatever describes it: pid, host, counts)."""
    details = {"pid": os.getpid(), "host": socket.gethostname(), **info}
    HeartbeatItem(HEARTBEATS_PK, name, at=clock.now(), info=details).save()


def expected() -> dict[str, float]:
    """The heartbeats this stage must have, and the age past which each is stale. On AWS there is
    no runtime process: Lambda's event sources consume the queues (their age tells)."""
    settings = get_settings()
    beats = {SWEEPER: settings.health_sweeper_stale_seconds}
    if settings.stage in ("local", "test"):
        beats[RUNTIME] = settings.health_runtime_stale_seconds
    return beats


def heartbeats() -> dict[str, Beat]:
    found = {item.sk: item for item in HeartbeatItem.query(HEARTBEATS_PK, consistent_read=True)}
    now = clock.now()
    beats: dict[str, Beat] = {}
    for name, stale_after in expected().items():
        item = found.get(name)
        if item is None:
            beats[name] = Beat(status="missing", stale_after_seconds=stale_after)
            continue
        age = max(0.0, now - float(item.at))
        beats[name] = Beat(
            status="alive" if age <= stale_after else "stale",
            at=clock.to_datetime(float(item.at)).isoformat(timespec="seconds"),
            age_seconds=round(age, 1),
            stale_after_seconds=stale_after,
            info=item.info or {},
        )
    return beats


def _local_ages(endpoint: str) -> dict[str, dict[str, Any]] | None:
    try:
        response = requests.get(f"{endpoint}{AGES_PATH}", timeout=5)
    except requests.RequestException:
        return None
    return response.json() if response.ok else None  # LocalStack has no such route: no data


def _cloudwatch_ages(queues: list[str]) -> dict[str, dict[str, Any]]:
    end = clock.utcnow()
    queries = [
        {
            "Id": f"q{n}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateAgeOfOldestMessage",
                    "Dimensions": [{"Name": "QueueName", "Value": queue}],
                },
                "Period": 60,
                "Stat": "Maximum",
            },
        }
        for n, queue in enumerate(queues)
    ]
    answer = client("cloudwatch").get_metric_data(
        MetricDataQueries=queries, StartTime=end - timedelta(minutes=5), EndTime=end
    )
    ages: dict[str, dict[str, Any]] = {}
    for result in answer.get("MetricDataResults", []):
        values = result.get("Values") or []
        queue = queues[int(result["Id"][1:])]
        ages[queue] = {"oldest_age_seconds": float(values[0]) if values else None, "visible": None}
    return ages


def queue_ages() -> dict[str, QueueAge]:
    """Per work queue (DLQs hold what already failed; ``muda failed`` shows them), the age of its
    oldest visible message."""
    settings = get_settings()
    queues = settings.queues
    stale_after = settings.health_queue_stale_seconds
    endpoint = endpoint_url("sqs")
    if endpoint:
        source, ages = "emulator", _local_ages(endpoint) or {}
    else:
        source, ages = "cloudwatch", _cloudwatch_ages(queues)
    report: dict[str, QueueAge] = {}
    for queue in queues:
        seen = ages.get(queue) or {}
        age, visible = seen.get("oldest_age_seconds"), seen.get("visible")
        status: Literal["ok", "stale", "no data"] = "ok"
        if age is None and visible is None:
            status = "no data"
        elif age is not None and age > stale_after:
            status = "stale"
        report[queue] = QueueAge(
            status=status,
            oldest_age_seconds=age,
            visible=visible,
            stale_after_seconds=stale_after,
            source=source,
        )
    return report


def report() -> Report:
    beats = heartbeats()
    queues = queue_ages()
    ok = all(b.status == "alive" for b in beats.values())
    ok = ok and all(q.status != "stale" for q in queues.values())
    return Report(status="ok" if ok else "degraded", heartbeats=beats, queues=queues)
