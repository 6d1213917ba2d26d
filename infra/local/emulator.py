"""moto_server, tuned for the local stack (profiled with py-spy under the e2e timer load).

The local stack serves SQS, EventBridge, Scheduler, SSM and Secrets Manager from this process and
DynamoDB from DynamoDB Local (Amazon's engine). What is changed from stock moto_server:

- no per-request access log (a seventh of moto's CPU went to writing it);
- SQS receive checks a message's retention against the queue's retention period instead of
  recomputing every queue attribute (a scan of all its messages) for each message it returns:
  same answer, O(1) instead of O(queue length) per message;
- ``GET /_muda/sqs/ages``: per queue, how many messages are visible and how long the oldest of
  them has been waiting (since it was sent, or since its delay ran out). SQS reports this as the
  CloudWatch metric ``ApproximateAgeOfOldestMessage``, which moto does not emulate; reading the
  backend here is exact and, unlike a peek (a receive), leaves receive counts alone.
- ``--moto-dynamodb`` only (the stack's moto-only mode, ``python -m infra.local.stack
  --moto-dynamodb``): DynamoDB transactions that hold under concurrency. moto 5.2's
  TransactWriteItems deep-copies every table it touches and, when a condition fails, restores
  that copy, dropping every write other threads committed meanwhile; the patch serialises the
  backend and checks every condition before applying any write.

Run: ``python -m infra.local.emulator -H 127.0.0.1 -p 4566 [--moto-dynamodb]`` (moto_server's
arguments otherwise).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any

from moto.core.utils import unix_time, unix_time_millis
from moto.sqs.models import SQSBackend

AGES_PATH = "/_muda/sqs/ages"


def _retained(self: Any, queue_name: str, message: Any) -> bool:
    period = int(self.get_queue(queue_name).message_retention_period)
    return period + message.sent_timestamp / 1000 > unix_time()


def queue_ages() -> dict[str, dict[str, Any]]:
    """Every queue of the emulator: visible messages and the age of the oldest visible one."""
    from moto.sqs.models import sqs_backends

    now = unix_time_millis()
    ages: dict[str, dict[str, Any]] = {}
    for account in list(sqs_backends):
        for region in list(sqs_backends[account]):
            for name, queue in list(sqs_backends[account][region].queues.items()):
                waiting = [
                    max(m.sent_timestamp or now, m.delayed_until)
                    for m in list(queue._messages)
                    if m.visible and not m.delayed
                ]
                ages[name] = {
                    "visible": len(waiting),
                    "oldest_age_seconds": round((now - min(waiting)) / 1000, 3) if waiting else None,
                }
    return ages


def _with_ages(app: Any) -> Any:
    """WSGI middleware: answer ``AGES_PATH`` from the backend, pass everything else to moto."""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == AGES_PATH:
            body = json.dumps(queue_ages()).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            start_response("200 OK", headers)
            return [body]
        return app(environ, start_response)

    return wrapped


def _atomic_transactions() -> None:
    """Serialise the DynamoDB backend and make TransactWriteItems check every condition first, then
    apply the writes only if all hold: atomic, O(items in the transaction), like DynamoDB."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    names = [n for n, v in vars(DynamoDBBackend).items() if callable(v) and not n.startswith("_")]
    for name in names:  # reads too: moto's reads iterate the dicts its writes mutate
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        with lock:
            seen: set[tuple[str, str]] = set()
            errors: list[tuple[Any, Any, Any]] = []
            plan: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
            for entry in transact_items:
                if len(entry) > 1:
                    raise TransactWriteSingleOpException
                op_type, op = next(iter(entry.items()))
                table = self.get_table(op["TableName"])
                if op_type == "Put":
                    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = op["Item"][table.range_key_attr]
                else:
                    key = op["Key"]
                ident = (op["TableName"], str(sorted(key.items())))
                if ident in seen:
                    raise MultipleTransactionsException()
                seen.add(ident)
                current = self.get_item(op["TableName"], key)
                condition = op.get("ConditionExpression")
                holds = condition is None or get_filter_expression(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                ).expr(current)
                if holds:
                    errors.append((None, None, None))
                else:
                    old = (
                        current.to_json()["Attributes"]
                        if current and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                        else None
                    )
                    errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
                plan.append((op_type, op, key))
            if any(code is not None for code, _, _ in errors):
                raise TransactionCanceledException(errors)
            for op_type, op, key in plan:
                common = {
                    "condition_expression": op.get("ConditionExpression"),
                    "expression_attribute_names": op.get("ExpressionAttributeNames"),
                    "expression_attribute_values": op.get("ExpressionAttributeValues"),
                }
                if op_type == "Put":
                    self.put_item(op["TableName"], op["Item"], **common)
                elif op_type == "Delete":
                    self.delete_item(op["TableName"], key, **common)
                elif op_type == "Update":
                    self.update_item(op["TableName"], key, update_expression=op["UpdateExpression"], **common)

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    SQSBackend.is_message_valid_based_on_retention_period = _retained  # type: ignore[method-assign]
    argv = sys.argv[1:]
    if "--moto-dynamodb" in argv:
        argv.remove("--moto-dynamodb")
        _atomic_transactions()
    from moto import server

    serve = server.run_simple
    server.run_simple = lambda host, port, app, **kw: serve(host, port, _with_ages(app), **kw)  # type: ignore[assignment]
    server.main(argv)


if __name__ == "__main__":
    main()
