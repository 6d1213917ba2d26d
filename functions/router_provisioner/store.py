"""Everything the provisioner reads and writes on AWS, with boto3 alone: the hotspot table (router
and subscription records, the contract with the payments side), the router passwords in Secrets
Manager, domain events on the bus, and the spine's record of failed tries (ops table).

This Lambda cannot import ``chalicelib`` (boto3 and librouteros only), so it keeps small
equivalents of the core toolkit, written the same way:

- ``_update_if`` is ``db.update_if``: a refused condition is ``False`` (a lost race or a
  duplicate), any other failure raises;
- ``_subscription_key`` / ``_router_key`` spell this side of the contract's keys once (the
  payments side spells them in ``chalicelib/hotspot/models/items.py``);
- events carry the core envelope (``occurred_at``, a stable ``event_id`` consumers deduplicate
  on), and a subscription's event is *owed* in the same conditional write as its state change
  (``provision_event``) and published after it, like ``tx.emit``: a crash in between is healed
  by the next try, which publishes it again under the same ``event_id``;
- the router passwords have their own small TTL cache (the core's ``secrets.read``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from .config import Settings
from .logic import DEPROVISIONED, FAILED, PENDING, PROVISIONED, Command
from .router import Router

logger = logging.getLogger("muda.router_provisioner")
FAILURE_RETENTION_SECONDS = 14 * 24 * 3600  # as long as the DLQ keeps a message
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)


_serializer, _deserializer = TypeSerializer(), TypeDeserializer()
_client_lock = threading.Lock()


@cache
def _build(service: str, region: str, endpoint: str | None) -> Any:
    """AWS itself (``endpoint`` unset), or the local stage's emulator, which takes any key."""
    keys: dict[str, str] = {}
    if endpoint and not os.environ.get("AWS_ACCESS_KEY_ID"):
        keys = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return boto3.session.Session().client(
        service, region_name=region, endpoint_url=endpoint, config=_CONFIG, **keys
    )


def _client(service: str, settings: Settings) -> Any:
    """A cached low-level client: thread-safe once built, unlike boto3's resources (the health
    check probes routers side by side)."""
    with _client_lock:
        return _build(service, settings.region, settings.endpoint(service))


def _subscription_key(subscription_id: str) -> dict[str, Any]:
    return _dynamo({"pk": f"SUB#{subscription_id}", "sk": "SUB"})


def _router_key(router_id: str) -> dict[str, Any]:
    return _dynamo({"pk": f"ROUTER#{router_id}", "sk": "ROUTER"})


def _refused(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _dynamo(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items()}


def _python(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def reset_clients() -> None:
    """Forget cached clients and secrets (tests that move the endpoint)."""
    _build.cache_clear()
    _queue_url.cache_clear()
    _secrets.clear()


_secrets: dict[str, tuple[str, float]] = {}
_secrets_lock = threading.Lock()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class Store:
    """The provisioner's AWS side for one invocation (clients are shared and thread-safe)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dynamodb = _client("dynamodb", settings)

    def client(self, service: str) -> Any:
        return _client(service, self.settings)

    def _update_if(self, **update: Any) -> dict[str, Any] | None:
        """One conditional ``UpdateItem`` on the hotspot table: its response, or ``None`` when
        its condition refused it (a lost race, a duplicate, a superseded command)."""
        try:
            return self.dynamodb.update_item(TableName=self.settings.table, **update)
        except ClientError as error:
            if _refused(error):
                return None
            raise

    # --- records ---

    def subscription(self, subscription_id: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(
            TableName=self.settings.table,
            Key=_subscription_key(subscription_id),
            ConsistentRead=True,
        ).get("Item")
        return _python(item) if item else None

    def router(self, router_id: str) -> Router | None:
        item = self.dynamodb.get_item(TableName=self.settings.table, Key=_router_key(router_id)).get("Item")
        return Router.from_item(_python(item)) if item else None

    def routers(self) -> list[Router]:
        """Every router, from gsi1 (``gsi1pk = ROUTERS``)."""
        found: list[Router] = []
        kwargs: dict[str, Any] = {
            "TableName": self.settings.table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :routers",
            "ExpressionAttributeValues": _dynamo({":routers": "ROUTERS"}),
        }
        while True:
            page = self.dynamodb.query(**kwargs)
            for item in map(_python, page["Items"]):
                try:
                    found.append(Router.from_item(item))
                except (KeyError, ValueError):  # half-written or foreign item: never stop the sweep
                    logger.warning("skipping malformed router record %s", item.get("pk"))
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def password(self, router: Router) -> str:
        """The router's API password (``{"password": ...}`` in Secrets Manager), reused briefly."""
        with _secrets_lock:
            cached = _secrets.get(router.password_secret)
        if cached and time.monotonic() - cached[1] < self.settings.secret_ttl:
            return cached[0]
        secret = self.client("secretsmanager").get_secret_value(SecretId=router.password_secret)
        password = json.loads(secret["SecretString"])["password"]
        with _secrets_lock:
            _secrets[router.password_secret] = (password, time.monotonic())
        return password

    def forget_password(self, router: Router) -> None:
        """After a refused login: the secret may have been rotated since it was cached."""
        with _secrets_lock:
            _secrets.pop(router.password_secret, None)

    # --- conditional transitions of the subscription (version-guarded) ---

    def _transition(
        self,
        command: Command,
        expected: tuple[str, ...],
        updates: str,
        values: dict[str, Any],
        also: str = "",
    ) -> bool:
        """Apply ``updates`` only if the subscription is still at the command's version and in
        one of ``expected`` (and ``also`` holds); ``False`` when a newer command or another run
        got there first."""
        placeholders = []
        for i, status in enumerate(expected):
            values[f":e{i}"] = status
            placeholders.append(f":e{i}")
        done = self._update_if(
            Key=_subscription_key(command.subscription_id),
            UpdateExpression=updates,
            ConditionExpression=(
                f"attribute_exists(pk) AND provision_version = :v AND #s0 IN ({', '.join(placeholders)})"
                + (f" AND {also}" if also else "")
            ),
            ExpressionAttributeNames={"#s0": "provision_status"},
            ExpressionAttributeValues=_dynamo({":v": command.version, **values}),
        )
        return done is not None

    def mark_provisioned(self, command: Command, attempts: int) -> bool:
        """``pending|provision_failed → provisioned``; the winner owes ``UserProvisioned``
        (``provision_event`` marks it owed until published, so a crash in between is healed by
        the next try)."""
        return self._transition(
            command,
            (PENDING, FAILED),
            "SET #s0 = :to, provisioned_at = :now, provision_attempts = :n, provision_event = :ev "
            "REMOVE provision_error",
            {":to": PROVISIONED, ":now": int(time.time()), ":n": attempts, ":ev": "UserProvisioned"},
        )

    def mark_deprovisioned(self, command: Command, attempts: int) -> bool:
        return self._transition(
            command,
            (PENDING, FAILED, PROVISIONED),
            "SET #s0 = :to, deprovisioned_at = :now, provision_attempts = :n, provision_event = :ev "
            "REMOVE provision_error",
            {":to": DEPROVISIONED, ":now": int(time.time()), ":n": attempts, ":ev": "UserDeprovisioned"},
        )

    def mark_failed(self, command: Command, error: str, attempts: int) -> bool:
        """After the last try: ``pending → provision_failed`` (never over a success)."""
        return self._transition(
            command,
            (PENDING, FAILED),
            "SET #s0 = :to, provision_error = :err, provision_attempts = :n",
            {":to": FAILED, ":err": error[:1000], ":n": attempts},
        )

    def mark_conflict(self, command: Command, error: str, attempts: int) -> bool:
        """A conflict on the router (the operator's user of that name): ``pending|provision_failed
        → provision_failed`` at once, owing ``ProvisioningFailed`` (``provision_event``, healed like
        the others). Refused when the subscription already shows this very conflict: a duplicate
        delivery or a redrive before the operator acted does not announce it again."""
        return self._transition(
            command,
            (PENDING, FAILED),
            "SET #s0 = :to, provision_error = :err, provision_attempts = :n, provision_event = :ev",
            {":to": FAILED, ":err": error[:1000], ":n": attempts, ":ev": "ProvisioningFailed"},
            also="NOT (#s0 = :to AND provision_error = :err)",
        )

    def note_attempt(self, command: Command, error: str, attempts: int) -> bool:
        """A failed try that will be retried: the status page can say why it is taking long."""
        expected = (PENDING, FAILED) if command.action == "provision" else (PENDING, FAILED, PROVISIONED)
        return self._transition(
            command,
            expected,
            "SET provision_error = :err, provision_attempts = :n",
            {":err": error[:1000], ":n": attempts},
        )

    def event_published(self, command: Command, event: str) -> None:
        """The owed event went out: forget it (only if it is still the one owed)."""
        self._update_if(
            Key=_subscription_key(command.subscription_id),
            UpdateExpression="REMOVE provision_event",
            ConditionExpression="provision_version = :v AND provision_event = :ev",
            ExpressionAttributeValues=_dynamo({":v": command.version, ":ev": event}),
        )

    # --- router status (health check) ---

    def set_router_status(self, router: Router, online: bool, error: str | None) -> str | None:
        """Record one probe. Returns the previous status when this probe changed it (exactly one
        of racing checks wins the change), else ``None``."""
        now = int(time.time())
        status = "online" if online else "offline"
        values: dict[str, Any] = {":new": status, ":now": now}
        seen = ", last_seen_at = :now" if online else ""
        why = ", status_error = :err" if error else ""
        if error:
            values[":err"] = error[:500]
        key = _router_key(router.router_id)
        changed = self._update_if(
            Key=key,
            UpdateExpression=f"SET #s = :new, status_changed_at = :now, last_checked_at = :now{seen}{why}"
            + ("" if error else " REMOVE status_error"),
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(#s) OR #s <> :new)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=_dynamo(values),
            ReturnValues="ALL_OLD",
        )
        if changed is not None:
            return str(_python(changed["Attributes"]).get("status", "unknown"))
        values.pop(":new")
        # Unchanged: only the times (and the reason) move; refused if the router was deleted
        # while we probed it.
        self._update_if(
            Key=key,
            UpdateExpression=f"SET last_checked_at = :now{seen}{why}",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=_dynamo(values),
        )
        return None

    # --- events, failures, queue ---

    def publish(self, name: str, detail: dict[str, Any], event_id: str | None = None) -> None:
        """A domain event with the envelope of ``chalicelib.core.outbox`` (source ``muda.hotspot``):
        ``idempotency_key`` is what consumers deduplicate on; an event published again after a crash
        passes the same one (``owed_event_id``), a one-off gets a fresh one."""
        body = {
            "idempotency_key": event_id or uuid.uuid4().hex,
            "occurred_at": datetime.now(UTC).isoformat(),
            **detail,
        }
        response = self.client("events").put_events(
            Entries=[
                {
                    "Source": "muda.hotspot",
                    "DetailType": name,
                    "Detail": json.dumps(body, default=str),
                    "EventBusName": self.settings.bus,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused {name}: {response['Entries']}")

    def record_failure(
        self,
        message_id: str,
        error: str,
        attempts: int,
        *,
        next_try_in: float | None = None,
        summary: str = "",
    ) -> None:
        """A failed try, as it happens (``chalicelib.core.queues.FailedAttempt``: the console's
        retries while ``next_try_in`` is set, ``muda failed list``'s error after the last). One
        conditional put: a late write of an earlier try never overwrites a later one."""
        now = time.time()
        item: dict[str, Any] = {
            "pk": f"FAILED#{self.settings.queue}",
            "sk": message_id,
            "error": error[:2000],
            "attempts": attempts,
            "max_attempts": self.settings.max_attempts,
            "summary": summary[:200],
            "failed_at": Decimal(str(round(now, 3))),
            "expires_at": int(now + FAILURE_RETENTION_SECONDS),
        }
        if next_try_in is not None:
            item["next_try_at"] = Decimal(str(round(now + next_try_in, 3)))
        try:
            self.dynamodb.put_item(
                TableName=self.settings.ops_table,
                Item=_dynamo(item),
                ConditionExpression="attribute_not_exists(sk) OR #n <= :n",
                ExpressionAttributeNames={"#n": "attempts"},
                ExpressionAttributeValues=_dynamo({":n": attempts}),
            )
        except ClientError as error_:
            if not _refused(error_):
                raise

    def record_success(self, message_id: str) -> None:
        """Done after a failed try: no longer retrying (a first-try success writes nothing)."""
        self.dynamodb.delete_item(
            TableName=self.settings.ops_table,
            Key=_dynamo({"pk": f"FAILED#{self.settings.queue}", "sk": message_id}),
        )

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        """Backoff: the message comes back after ``seconds`` (0: now, to meet its DLQ)."""
        sqs = self.client("sqs")
        sqs.change_message_visibility(
            QueueUrl=self.queue_url(), ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )

    def dead_letter(self, body: str) -> str:
        """Straight to the DLQ (a message no retry can fix); returns the new message id."""
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=f"{self.settings.queue}-dlq")["QueueUrl"]
        return sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"]

    def delete(self, receipt_handle: str) -> None:
        self.client("sqs").delete_message(QueueUrl=self.queue_url(), ReceiptHandle=receipt_handle)

    def queue_url(self) -> str:
        return _queue_url(self.settings)


def owed_event_id(command: Command, event: str) -> str:
    """The stable id of the event a subscription's transition owes: the same on every retry."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"muda:{command.subscription_id}:{command.version}:{event}").hex


@cache
def _queue_url(settings: Settings) -> str:
    return _client("sqs", settings).get_queue_url(QueueName=settings.queue)["QueueUrl"]
