"""The local event runtime: what Lambda and EventBridge do on AWS and the emulator cannot.

- polls every queue the app consumes and, like Lambda's event source, feeds up to the handler's
  ``maximum_concurrency`` concurrent invocations with real SQS events; records the handler
  reports as failed (or all, if it raises) are not deleted, so they come
  back after their visibility timeout and reach the DLQ by the queue's redrive policy;
- fires every ``@app.schedule`` handler at start and then at its rate (or every
  ``MUDA_LOCAL_SCHEDULE_SECONDS``), with that period as its Lambda timeout (so the sweeper's
  second round of the minute fits, as on AWS);
- fires EventBridge Scheduler one-time schedules at their time: sends the target input to the
  target queue, then deletes the schedule (``ActionAfterCompletion=DELETE``);
- runs the Lambdas that live outside the Chalice app (``functions/``, see ``functions()``) on
  their queue or rate the same way, as infra/template.yaml wires them on AWS.

- writes its heartbeat (``chalicelib.core.health``) every ``MUDA_HEALTH_BEAT_SECONDS``, which
  ``/health`` and ``muda health`` read: a dead runtime shows as stale.

It holds no state of its own: the emulator keeps every message, so killing it loses nothing (the
local stack restarts it). Run: ``python -m infra.local.runtime``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import re
import signal
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalice import Chalice
from chalice.app import ScheduledEventConfig, SQSEventConfig

from chalicelib.core.aws import client, queue_arn, queue_url
from chalicelib.core.config import get_settings
from chalicelib.core.db import warm_up
from chalicelib.core.observability import logger

# Short polls: moto's long poll notices a delayed message turning visible only once a second,
# which would make every timer up to a second late. Real Lambda pollers long-poll real SQS.
POLL_INTERVAL_SECONDS = 0.1
SCHEDULER_POLL_SECONDS = 0.5  # discovery of new or changed schedules
SCHEDULER_TICK_SECONDS = 0.1  # firing of known ones
_RATE = re.compile(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Function:
    """A Lambda outside the Chalice app: its handler and its SQS queue or its rate (the same
    attribute names as Chalice's event configs, so the loops below take either)."""

    name: str
    handler_string: str  # "package.module.function"
    queue: str | None = None  # full queue name
    batch_size: int = 10
    maximum_concurrency: int | None = None
    rate: float | None = None  # seconds between runs

    def load(self) -> Any:
        module, _, function = self.handler_string.rpartition(".")
        return getattr(importlib.import_module(module), function)


def functions() -> list[Function]:
    """The functions/ Lambdas as the template wires them (RouterProvisioner* resources)."""
    settings = get_settings()
    return [
        Function(
            "router_provisioner",
            "functions.router_provisioner.handler.handle",
            queue=settings.name("provisioning"),
            batch_size=5,
            maximum_concurrency=3,
        ),
        Function("router_health_check", "functions.router_provisioner.handler.health_check", rate=60),
    ]


@dataclass
class LambdaContext:
    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    deadline: float = field(default_factory=lambda: time.time() + 30)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


def rate_seconds(expression: Any) -> float:
    text = expression.to_string() if hasattr(expression, "to_string") else str(expression)
    match = _RATE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"local runtime supports rate() schedules only, not {text!r}")
    return int(match.group(1)) * _UNIT[match.group(2).rstrip("s")]


def sqs_event(messages: list[dict[str, Any]], arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source passes to a function."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {
                    k: {**{kk[0].lower() + kk[1:]: vv for kk, vv in v.items()}}
                    for k, v in m.get("MessageAttributes", {}).items()
                },
                "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def scheduled_event(name: str, region: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:000000000000:rule/{name}"],
        "detail": {},
    }


class Runtime:
    def __init__(self, app: Chalice, pollers_per_queue: int = 1, default_concurrency: int = 10) -> None:
        self.app = app
        self.pollers_per_queue = pollers_per_queue
        self.default_concurrency = default_concurrency
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.pools: list[ThreadPoolExecutor] = []
        self._schedules: dict[str, tuple[float, dict[str, Any]]] = {}  # name -> (at, target)
        self._schedules_lock = threading.Lock()
        self.region = get_settings().region

    def start(self) -> None:
        for source in [*self.app.event_sources, *functions()]:
            if isinstance(source, SQSEventConfig) or (isinstance(source, Function) and source.queue):
                # Like Lambda: a few pollers feed up to `maximum_concurrency` concurrent invocations.
                concurrency = source.maximum_concurrency or self.default_concurrency
                pool = ThreadPoolExecutor(concurrency, thread_name_prefix=f"lambda:{source.name}")
                slots = threading.BoundedSemaphore(concurrency)
                self.pools.append(pool)
                for n in range(self.pollers_per_queue):
                    self._spawn(f"sqs:{source.queue}:{n}", self._poll_queue, source, pool, slots)
            elif isinstance(source, ScheduledEventConfig | Function):
                self._spawn(f"schedule:{source.name}", self._run_schedule, source)
        self._spawn("scheduler", self._discover_schedules)
        self._spawn("scheduler-fire", self._fire_schedules)
        self._spawn("heartbeat", self._heartbeat)

    def _heartbeat(self) -> None:
        """Say the runtime is alive, now and every ``health_beat_seconds``."""
        from chalicelib.core import health

        started = datetime.now(UTC).isoformat(timespec="seconds")
        every = get_settings().health_beat_seconds
        while True:
            alive = sum(t.is_alive() for t in self.threads)
            health.beat(health.RUNTIME, started_at=started, threads=alive)
            if self.stop_event.wait(every):
                return

    def _handler(self, source: Any) -> Any:
        return source.load() if isinstance(source, Function) else self.app.handler_map[source.name]

    def _spawn(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=self._guard, args=(name, target, *args), name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _guard(self, name: str, target: Any, *args: Any) -> None:
        """Keep a loop alive through emulator hiccups; a bad round is logged and retried."""
        while not self.stop_event.is_set():
            try:
                target(*args)
            except Exception:
                logger.exception("runtime loop failed; retrying", extra={"loop": name})
                self.stop_event.wait(1)

    def stop(self, grace: float = 3.0) -> None:
        """Stop polling and give running invocations ``grace`` seconds in all; whatever is still
        running then (a sweeper waiting for its second round) ends with the process, as a
        crash would, which loses nothing."""
        self.stop_event.set()
        deadline = time.monotonic() + grace
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for pool in self.pools:
            pool.shutdown(wait=False, cancel_futures=True)

    # --- SQS event sources ----------------------------------------------------------------

    def _poll_queue(
        self, source: SQSEventConfig | Function, pool: ThreadPoolExecutor, slots: threading.Semaphore
    ) -> None:
        sqs = client("sqs")
        url, arn = queue_url(source.queue), queue_arn(source.queue)
        while not self.stop_event.is_set():
            if not slots.acquire(timeout=1):
                continue  # every invocation busy: back-pressure, as Lambda's poller does
            messages = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(source.batch_size, 10),
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                slots.release()
                self.stop_event.wait(POLL_INTERVAL_SECONDS)
                continue
            pool.submit(self._invoke, source, url, arn, messages).add_done_callback(lambda _: slots.release())

    def _invoke(
        self, source: SQSEventConfig | Function, url: str, arn: str, messages: list[dict[str, Any]]
    ) -> None:
        """One Lambda invocation: delete what succeeded; the rest returns after its visibility timeout."""
        handler = self._handler(source)
        try:
            result = handler(sqs_event(messages, arn, self.region), LambdaContext(source.name))
        except Exception:
            logger.exception("handler raised; batch returns to the queue", extra={"handler": source.name})
            return
        report = result.get("batchItemFailures", []) if isinstance(result, dict) else []
        failed = {f["itemIdentifier"] for f in report}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start : start + 10])
            ]
            client("sqs").delete_message_batch(QueueUrl=url, Entries=entries)

    # --- @app.schedule --------------------------------------------------------------------

    def _run_schedule(self, source: ScheduledEventConfig | Function) -> None:
        override = get_settings().local_schedule_seconds
        rate = source.rate if isinstance(source, Function) else rate_seconds(source.schedule_expression)
        period = override or rate
        handler = self._handler(source)
        next_at = time.monotonic()  # at start (after a restart, the sweeper catches up at once)
        while not self.stop_event.wait(max(0.0, next_at - time.monotonic())):
            next_at += period
            context = LambdaContext(source.name, deadline=time.time() + period)
            try:
                handler(scheduled_event(source.name, self.region), context)
            except Exception:
                logger.exception("scheduled handler failed", extra={"handler": source.name})

    # --- EventBridge Scheduler one-time schedules -------------------------------------------
    # Two loops: discovery (list + get, slow with many fresh schedules) must never hold up
    # firing, which checks the known schedules every SCHEDULER_TICK_SECONDS.

    def _discover_schedules(self) -> None:
        scheduler = client("scheduler")
        group = get_settings().scheduler_group
        modified: dict[str, Any] = {}

        def fetch(name: str) -> None:
            try:
                detail = scheduler.get_schedule(Name=name, GroupName=group)
            except scheduler.exceptions.ResourceNotFoundException:
                return  # fired (and deleted) meanwhile
            with self._schedules_lock:
                self._schedules[name] = (_at_epoch(detail), detail["Target"])

        with ThreadPoolExecutor(8, thread_name_prefix="scheduler-get") as pool:
            while not self.stop_event.wait(SCHEDULER_POLL_SECONDS):
                try:
                    listed = {
                        summary["Name"]: summary.get("LastModificationDate")
                        for page in scheduler.get_paginator("list_schedules").paginate(GroupName=group)
                        for summary in page.get("Schedules", [])
                    }
                except scheduler.exceptions.ClientError as error:
                    if error.response["Error"]["Code"] != "InvalidToken":
                        raise
                    continue  # moto's page token went stale as schedules were deleted: list again
                changed = [name for name, stamp in listed.items() if modified.get(name) != stamp]
                list(pool.map(fetch, changed))
                modified = listed
                with self._schedules_lock:
                    for name in set(self._schedules) - set(listed):
                        del self._schedules[name]

    def _fire_schedules(self) -> None:
        scheduler, sqs = client("scheduler"), client("sqs")
        group = get_settings().scheduler_group

        def delete(name: str) -> None:  # ActionAfterCompletion=DELETE
            with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
                scheduler.delete_schedule(Name=name, GroupName=group)

        with ThreadPoolExecutor(4, thread_name_prefix="scheduler-delete") as deleter:
            while not self.stop_event.wait(SCHEDULER_TICK_SECONDS):
                now = time.time()
                with self._schedules_lock:
                    due = [(name, target) for name, (at, target) in self._schedules.items() if at <= now]
                    for name, _ in due:
                        del self._schedules[name]
                # Deliver first, in batches (a burst of due schedules must not queue behind
                # one call each); delete afterwards, off the firing path.
                by_queue: dict[str, list[str]] = {}
                for _, target in due:
                    by_queue.setdefault(target["Arn"].rsplit(":", 1)[-1], []).append(
                        target.get("Input", "{}")
                    )
                for queue, bodies in by_queue.items():
                    for start in range(0, len(bodies), 10):
                        entries = [
                            {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])
                        ]
                        sqs.send_message_batch(QueueUrl=queue_url(queue), Entries=entries)
                for name, _ in due:
                    deleter.submit(delete, name)


def _at_epoch(schedule: dict[str, Any]) -> float:
    match = re.fullmatch(r"at\((.+)\)", schedule["ScheduleExpression"])
    if not match:
        return float("inf")  # rate/cron schedules are not timers; leave them alone
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC).timestamp()


def main() -> None:
    from app import app

    runtime = Runtime(app)
    for service in ("sqs", "scheduler", "events", "dynamodb"):
        client(service)
    warm_up()
    stopped = threading.Event()

    def on_signal(*_: object) -> None:
        stopped.set()
        # A backstop: whatever holds the main thread up, leave within 5 s (a crash loses nothing).
        deadline = threading.Timer(5, os._exit, args=(0,))
        deadline.daemon = True
        deadline.start()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    runtime.start()
    logger.info("event runtime started", extra={"threads": [t.name for t in runtime.threads]})
    print("event runtime ready", flush=True)
    stopped.wait()
    runtime.stop()
    # Invocations still running (a sweeper waiting for its second round) would hold the exit:
    # concurrent.futures joins its workers at shutdown. Leaving now is a crash, which loses nothing.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
