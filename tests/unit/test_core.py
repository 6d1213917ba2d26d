"""Core rules that need no AWS."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from chalicelib.core import clock, ids, timers
from chalicelib.core.config import Settings
from chalicelib.core.errors import BadRequest, Conflict, MudaError, Unprocessable
from chalicelib.core.http import MAX_DEPTH, NestingTooDeep, NumberOutOfRange, loads, parse_body, too_deep
from chalicelib.core.text import table
from chalicelib.ops.logic import QueueDepth, count_by_kind
from infra.local.runtime import rate_seconds, sqs_event


def test_resource_names_follow_the_stage() -> None:
    settings = Settings(stage="prod")
    assert settings.timers_table == "muda-prod-timers"
    assert settings.queues[:2] == ["muda-prod-timers", "muda-prod-events"]
    assert settings.event_bus == "muda-prod-bus"


def test_settings_refuse_an_sqs_delay_beyond_fifteen_minutes() -> None:
    with pytest.raises(ValueError):
        Settings(timer_sqs_max_delay=901)


def test_errors_render_code_and_message() -> None:
    error = Conflict("slot already taken", code="slot_taken")
    assert (error.status, error.to_dict()) == (
        409,
        {"error": {"code": "slot_taken", "message": "slot already taken"}},
    )
    assert isinstance(error, MudaError)


def test_ids_are_unique_and_time_ordered() -> None:
    made = [ids.new_id() for _ in range(1000)]
    assert len(set(made)) == 1000
    assert all(re.fullmatch(r"[0-9a-z]{26}", i) for i in made)
    assert ids.new_id("s_").startswith("s_")


def test_frozen_clock_moves_only_when_told() -> None:
    frozen = clock.FrozenClock(1000.0)
    clock.set_clock(frozen)
    try:
        assert clock.now() == 1000.0
        frozen.advance(60)
        assert clock.utcnow() == datetime.fromtimestamp(1060, tz=UTC)
    finally:
        clock.set_clock(None)


def test_schedule_names_are_deterministic_and_valid() -> None:
    name = timers.schedule_name("consult.tick#session-1#3")
    assert name == timers.schedule_name("consult.tick#session-1#3")
    assert name != timers.schedule_name("consult.tick#session-1#4")
    assert re.fullmatch(r"[0-9A-Za-z_.-]{1,64}", name)


class Thing(BaseModel):
    name: str
    size: int


def test_body_parsing_tells_malformed_from_invalid() -> None:
    assert parse_body(b'{"name": "a", "size": 2}', Thing) == Thing(name="a", size=2)
    with pytest.raises(BadRequest) as malformed:
        parse_body(b"{nope", Thing)
    assert malformed.value.code == "malformed_json"
    with pytest.raises(Unprocessable) as invalid:
        parse_body(b'{"name": "a", "size": "big"}', Thing)
    assert invalid.value.details[0]["field"] == "size"


def test_body_parsing_is_strict_about_numbers() -> None:
    """A bool or a string is never an int, a float is never an int (pydantic's lax mode takes all)."""
    for size in ("true", '"2"', "2.0", "false"):
        with pytest.raises(Unprocessable) as invalid:
            parse_body(b'{"name": "a", "size": ' + size.encode() + b"}", Thing)
        assert invalid.value.details[0]["field"] == "size"


def test_depth_is_measured_without_recursion() -> None:
    """Given a million nested brackets, the scan answers (a recursive parser would overflow)."""
    assert too_deep("[" * 1_000_000 + "]" * 1_000_000)
    assert not too_deep("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert too_deep("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert not too_deep(json.dumps({"a": "[" * 1000, "b": '\\"[[[' * 100}))
    with pytest.raises(NestingTooDeep):
        loads("{" + '"a":{' * 100_000 + "}" * 100_001)


@pytest.mark.parametrize("text", ["5e-324", "1e-131", "1e126", "-1e126", "1" * 39, "0." + "1" * 39])
def test_numbers_dynamodb_cannot_store_are_refused(text: str) -> None:
    with pytest.raises(NumberOutOfRange):
        loads(f'{{"n": {text}}}')
    with pytest.raises(Unprocessable) as refused:
        parse_body(f'{{"name": "a", "size": {text}}}'.encode(), Thing)
    assert refused.value.code == "number_out_of_range"


@pytest.mark.parametrize(
    "text", ["0", "-0.0", "1e-130", "9.9999999999999999999999999999999999999e125", "1" + "0" * 100]
)
def test_numbers_dynamodb_stores_are_read(text: str) -> None:
    assert loads(f"[{text}]") == [json.loads(text)]


def test_nan_and_infinity_are_not_json() -> None:
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(BadRequest) as malformed:
            parse_body(f'{{"name": "a", "size": {constant}}}'.encode(), Thing)
        assert malformed.value.code == "malformed_json"


def test_callback_nested_past_the_limit_is_a_callback_error() -> None:
    from chalicelib.integrations.mpesa.callback import CallbackError, parse_callback

    with pytest.raises(CallbackError, match="nested"):
        parse_callback(b'{"Body": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")


def test_rate_expressions_become_periods() -> None:
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(2 hours)") == 7200
    with pytest.raises(ValueError):
        rate_seconds("cron(0 12 * * ? *)")


def test_runtime_builds_lambda_shaped_sqs_events() -> None:
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "r1",
        "Body": "{}",
        "Attributes": {"ApproximateReceiveCount": "2"},
    }
    (record,) = sqs_event([message], "arn:aws:sqs:us-east-1:000000000000:q", "us-east-1")["Records"]
    assert record["eventSource"] == "aws:sqs" and record["messageId"] == "m1"
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
    assert record["eventSourceARN"].endswith(":q")


def test_queue_depth_and_tables_for_people() -> None:
    depth = QueueDepth.from_attributes(
        "q", {"ApproximateNumberOfMessages": "3"}, {"ApproximateNumberOfMessages": "1"}
    )
    assert (depth.visible, depth.dead, depth.in_flight) == (3, 1, 0)
    assert table(["a", "bb"], [[1, 2]]).splitlines() == ["a  bb", "1  2"]
    assert count_by_kind(["x", "y", "x"]) == [("x", 2), ("y", 1)]


def test_contention_outlasting_the_retries_is_a_503_to_try_again_not_a_500() -> None:
    """Given a route whose write is still refused for contention alone after db's retries, when
    it is called, then the client gets 503 ``contention`` with Retry-After (nothing was written),
    while any other failure stays a 500 ``internal``."""
    from chalice import Chalice
    from chalice.test import Client

    from chalicelib.core import db
    from chalicelib.core.http import Api

    api = Api("contention-test", tag="test")

    @api.route("/contended", roles=None)
    def contended(call: object) -> dict:
        raise db.Refused({}, conflict=True)

    @api.route("/refused", roles=None)
    def refused(call: object) -> dict:
        raise db.Refused({"item": "ConditionalCheckFailed"})

    app = Chalice("contention-test")
    app.register_blueprint(api.blueprint)
    with Client(app) as client:
        busy = client.http.get("/contended")
        bug = client.http.get("/refused")
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
    assert json.loads(busy.body)["error"]["code"] == "contention"
    assert bug.status_code == 500 and json.loads(bug.body)["error"]["code"] == "internal"
