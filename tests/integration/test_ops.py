"""Operations on in-process moto: dead letters keep their error and can be redriven; the CLI."""

from __future__ import annotations

import json

import pytest
from chalice.test import Client
from click.testing import CliRunner

from chalicelib.core import timers
from chalicelib.core.aws import client, queue_url
from chalicelib.core.config import get_settings
from chalicelib.core.queues import process_batch
from chalicelib.ops import cli, queues
from chalicelib.ops.handlers import PROBE
from tests.integration.conftest import bearer
from tests.support.queues import sqs_event


def boom(record) -> None:
    raise ValueError("downstream said no")


def kill_one_message(queue: str) -> str:
    """Send a message and fail it until the queue's redrive policy moves it to the DLQ."""
    sqs, url = client("sqs"), queue_url(queue)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    message_id = sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}))["MessageId"]
    while True:
        messages = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0, AttributeNames=["All"]).get(
            "Messages", []
        )
        if not messages:
            return message_id
        result = process_batch(sqs_event(messages, arn, "us-east-1"), boom, backoff=())
        assert result["batchItemFailures"] == [{"itemIdentifier": message_id}]


@pytest.mark.usefixtures("fresh_stack")  # lists every dead letter and queue depth there is
def test_dead_letter_is_listed_with_its_error_and_redriven(api: Client, token) -> None:
    """Given a message that failed until it reached the DLQ, the admin sees why and can redrive it."""
    queue = get_settings().events_queue
    message_id = kill_one_message(queue)
    admin = {**bearer(token("a", "admin")), "Content-Type": "application/json"}

    listed = json.loads(api.http.get("/admin/failed", headers=admin).body)["failed"]
    assert [(f["message_id"], f["queue"]) for f in listed] == [(message_id, queue)]
    assert "downstream said no" in listed[0]["error"]

    response = api.http.post(
        "/admin/failed/retry", headers=admin, body=json.dumps({"message_id": message_id})
    )
    assert json.loads(response.body) == {"redriven": 1}
    assert queues.dead_letters() == []
    assert [d.visible for d in queues.depths() if d.queue == queue] == [1]


@pytest.mark.usefixtures("fresh_stack")  # counts every pending timer and redrives every dead letter
def test_cli_shows_queues_timers_and_retries_all(clock) -> None:
    """Given a pending timer and a dead letter, the CLI lists them and redrives all."""
    runner = CliRunner()
    timers.schedule(PROBE, "cli.1", clock.t + 60)
    kill_one_message(get_settings().timers_queue)

    out = runner.invoke(cli.main, ["queues"]).output
    assert "muda-test-timers" in out and "dlq" in out
    assert "ops.probe  1" in runner.invoke(cli.main, ["timers"]).output
    assert "no overdue timers" in runner.invoke(cli.main, ["timers", "--overdue"]).output
    assert "downstream said no" in runner.invoke(cli.main, ["failed", "list"]).output
    assert runner.invoke(cli.main, ["failed", "retry"]).exit_code == 2
    assert "redriven: 1" in runner.invoke(cli.main, ["failed", "retry", "--all"]).output


@pytest.mark.usefixtures("aws")
def test_cli_token_is_refused_outside_the_local_stage() -> None:
    result = CliRunner().invoke(cli.main, ["token", "--role", "admin", "--sub", "a"])
    assert result.exit_code != 0 and "local stage" in result.output
