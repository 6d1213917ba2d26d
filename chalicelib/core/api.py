"""Spine routes: health and the OpenAPI document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from chalicelib.core import health as heartbeats
from chalicelib.core.aws import client
from chalicelib.core.config import get_settings
from chalicelib.core.http import Api, Call, json_response, openapi

api = Api(__name__, tag="spine")


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    stage: str
    checks: dict[str, str]
    heartbeats: dict[str, heartbeats.Beat]
    queues: dict[str, heartbeats.QueueAge]


@api.route("/health", response=Health, roles=None)
def health(call: Call) -> object:
    """Whether every table and queue of the stage is reachable, the event runtime and the sweeper
    are alive (their heartbeats), and no queue's oldest message has waited too long; 503 if not."""
    settings = get_settings()
    checks: dict[str, str] = {}
    for table in settings.tables:
        checks[f"table:{table}"] = _probe(lambda t=table: client("dynamodb").describe_table(TableName=t))
    for queue in settings.queues:
        checks[f"queue:{queue}"] = _probe(lambda q=queue: client("sqs").get_queue_url(QueueName=q))
    try:
        report = heartbeats.report()
    except Exception as error:  # the ops table or the queues unreachable: the checks above say which
        checks["heartbeats"] = f"error: {type(error).__name__}"
        beats, ages = {}, {}
    else:
        beats, ages = report.heartbeats, report.queues
    for name, beat in beats.items():
        checks[f"heartbeat:{name}"] = "ok" if beat.status == "alive" else beat.status
    for queue, age in ages.items():
        if age.status == "stale":
            checks[f"queue-age:{queue}"] = f"stale: oldest message waiting {age.oldest_age_seconds:.0f} s"
    ok = all(v == "ok" for v in checks.values())
    body = Health(
        status="ok" if ok else "degraded", stage=settings.stage, checks=checks, heartbeats=beats, queues=ages
    )
    return json_response(body.model_dump(), 200 if ok else 503)


def _probe(call: object) -> str:
    try:
        call()  # type: ignore[operator]
        return "ok"
    except Exception as error:
        return f"error: {type(error).__name__}"


@api.route("/openapi.json", roles=None)
def openapi_document(call: Call) -> dict[str, object]:
    """The OpenAPI 3.1 document of this API."""
    return openapi()
