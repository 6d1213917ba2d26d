"""The console's data on in-process moto: a job retrying on a core queue, queue figures, timers
with how late, runtime health, and the look-ups' refusals."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client
from click.testing import CliRunner

from chalicelib.core import health, timers
from chalicelib.core.aws import client, queue_arn, queue_url
from chalicelib.core.config import get_settings
from chalicelib.core.queues import process_batch
from chalicelib.ops import cli
from chalicelib.ops.handlers import PROBE
from tests.integration.conftest import bearer
from tests.support.ids import unique
from tests.support.queues import sqs_event


def get(api: Client, path: str, token: Any) -> tuple[int, Any]:
    """GET as an admin (``token``: the token fixture, or a header minted already)."""
    headers = token if isinstance(token, dict) else bearer(token("ops-1", "admin"))
    response = api.http.get(path, headers=headers)
    return response.status_code, json.loads(response.body)


def test_a_job_on_its_second_try_is_listed_until_it_succeeds(api: Client, token) -> None:
    """Given a message on the notifications queue whose handler fails on the first try
    When it is tried again and fails, then succeeds on the third
    Then /admin/retries lists it with attempt 2 of the queue's 5, the error and the next try's
    time, and not after the success; a first-try success records nothing."""
    queue, mark = get_settings().name("notifications"), unique("job")
    sqs, url = client("sqs"), queue_url(queue)
    message_id = sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"job": mark}))["MessageId"]
    outcomes = iter([ValueError("mailer said no"), ValueError("mailer said no again"), None])

    def handle(record: Any) -> None:
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome

    def one_try() -> dict[str, Any]:
        mine: list[dict[str, Any]] = []
        while not mine:  # the queue is shared: others' messages stay where they are
            messages = sqs.receive_message(
                QueueUrl=url, VisibilityTimeout=0, MaxNumberOfMessages=10, AttributeNames=["All"]
            ).get("Messages", [])
            mine = [m for m in messages if m["MessageId"] == message_id]
        return process_batch(sqs_event(mine, queue_arn(queue), get_settings().region), handle, backoff=(0,))

    one_try(), one_try()
    status, body = get(api, f"/admin/retries?queue={queue}", token)
    [retry] = [r for r in body["retries"] if mark in r["summary"]]
    assert status == 200 and (retry["attempt"], retry["max_attempts"]) == (2, 5)
    assert "mailer said no again" in retry["error"] and retry["next_try_at"] >= retry["failed_at"]

    listed = CliRunner().invoke(cli.main, ["retries", "--queue", queue]).output
    assert "2 of 5" in listed and "mailer said no again" in listed

    assert one_try() == {"batchItemFailures": []}
    assert [
        r for r in get(api, f"/admin/retries?queue={queue}", token)[1]["retries"] if mark in r["summary"]
    ] == []


def test_queues_timers_and_health_for_the_console(api: Client, token, clock) -> None:
    """Given a probe timer overdue by a minute and a runtime that stopped beating
    When the console reads queues, timers and health
    Then each queue has its tries before the DLQ, the timer says how late it is, and health is
    200 with "degraded" and the runtime stale (/health itself answers 503)."""
    key, admin = unique("late"), bearer(token("ops-1", "admin"))  # minted before the clock moves
    timers.schedule(PROBE, key, clock.t - 60)
    health.beat(health.RUNTIME)
    health.beat(health.SWEEPER)
    clock.advance(get_settings().health_runtime_stale_seconds + 1)
    health.beat(health.SWEEPER)

    status, body = get(api, "/admin/queues", admin)
    assert status == 200
    tries = {q["queue"]: q["max_attempts"] for q in body["queues"]}
    assert tries[get_settings().name("provisioning")] == 6 and tries[get_settings().name("payments")] == 3
    assert all("oldest_age_seconds" in q for q in body["queues"])

    _, body = get(api, "/admin/timers?overdue=true", admin)
    [late] = [t for t in body["timers"] if t["key"] == key]
    assert late["late_seconds"] >= 60 and body["overdue_by_kind"][PROBE] >= 1 and body["overdue"] >= 1

    status, body = get(api, "/admin/health", admin)
    assert status == 200 and body["status"] == "degraded"
    assert body["heartbeats"]["runtime"]["status"] == "stale"
    assert api.http.get("/health").status_code == 503
    timers.cancel(PROBE, key)


def test_look_ups_refuse_bad_keys_and_unknown_ids(api: Client, token) -> None:
    """Given nothing by those ids, each look-up answers 404; a payment look-up needs exactly one
    well-formed key (422/400), and none of it is open to a non-admin."""
    for path in (
        "/admin/lookup/classes/cls_nope",
        "/admin/lookup/waitroom/evt_nope",
        "/admin/lookup/consult/ses_nope",
    ):
        status, body = get(api, path, token)
        assert status == 404 and body["error"]["code"] == "not_found", (path, body)
    assert get(api, "/admin/lookup/payments?checkout_request_id=ws_CO_nope", token) == (200, {"payments": []})
    assert get(api, "/admin/lookup/payments?receipt=NOPE123", token) == (200, {"payments": []})
    status, body = get(api, "/admin/lookup/payments?phone=12", token)
    assert status == 422 and body["error"]["code"] == "invalid_phone"
    status, _ = get(api, "/admin/lookup/payments?phone=0712345678&receipt=X", token)
    assert status == 400
    patient = api.http.get("/admin/retries", headers=bearer(token("p-1", "patient")))
    assert patient.status_code == 403
