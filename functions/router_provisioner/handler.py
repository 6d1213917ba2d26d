"""The router provisioner Lambda (in the VPC, beside the routers' VPN): two entry points.

- ``handle``: the provisioning queue's consumer (3 concurrent, batches of a few messages).
  Each message is a ``provision`` (upsert profile and user, optional device login) or a
  ``deprovision`` (remove user, MAC cookies, active sessions). A failed try is reported in
  ``batchItemFailures`` and comes back after the next backoff delay (visibility timeout); after
  the last try the subscription is ``provision_failed``, ``ProvisioningFailed`` is emitted and the
  message meets the DLQ (``muda failed retry`` redrives it). A ``Conflict`` (the router has the
  operator's own user of that name) gives up at the first try, straight to the DLQ. Records of
  one router share one API session; once a router cannot be reached, its other records in the
  batch fail at once.
- ``health_check``: every minute (EventBridge schedule), each router's API is tried;
  ``RouterOffline``/``RouterOnline`` are emitted only on a change.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from librouteros.exceptions import MultiTrapError, TrapError

from . import radius
from .config import Settings
from .logic import (
    DEPROVISIONED,
    PROVISIONED,
    Command,
    Conflict,
    InvalidCommand,
    NotReady,
    RouterLoginRefused,
    is_superseded,
    parse_command,
    reason,
    visibility_after,
)
from .router import Router, Session
from .store import Store, owed_event_id

logger = logging.getLogger("muda.router_provisioner")
logger.setLevel(logging.INFO)
if not logging.getLogger().handlers:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def _log(level: int, message: str, **fields: Any) -> None:
    logger.log(level, "%s %s", message, json.dumps(fields, default=str, sort_keys=True))


def _metrics(units: dict[str, str], **values: float) -> None:
    """CloudWatch metrics in Embedded Metric Format on stdout: Lambda's log shipping turns them
    into metrics, so the VPC needs no CloudWatch endpoint and no call is made."""
    record = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": "Muda",
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": name, "Unit": units[name]} for name in values],
                }
            ],
        },
        "service": "router_provisioner",
        **values,
    }
    print(json.dumps(record), flush=True)


@dataclass
class Record:
    message_id: str
    receipt_handle: str
    body: str
    attempt: int  # 1-based: SQS's ApproximateReceiveCount

    @classmethod
    def from_sqs(cls, record: dict[str, Any]) -> Record:
        return cls(
            record["messageId"],
            record["receiptHandle"],
            record["body"],
            int(record.get("attributes", {}).get("ApproximateReceiveCount", 1)),
        )


class RouterLink:
    """One router's API session for a batch: opened on first use; a failure to reach the router
    is remembered so its other records fail at once instead of waiting out the timeout again."""

    def __init__(self, store: Store, router_id: str) -> None:
        self.store, self.router_id = store, router_id
        self.router: Router | None = None
        self.session: Session | None = None
        self.error: BaseException | None = None

    @property
    def where(self) -> str:
        return self.router.where if self.router else self.router_id

    def mode(self) -> str:
        """The router's mode, ``api`` or ``radius`` (its record is read once per batch)."""
        self.router = self.router or self.store.router(self.router_id)
        if self.router is None:
            raise NotReady(f"router {self.router_id} is not registered")
        return self.router.mode

    def open(self) -> Session:
        if self.error is not None:
            raise self.error
        if self.session is not None:
            return self.session
        try:
            self.router = self.router or self.store.router(self.router_id)
            if self.router is None:
                raise NotReady(f"router {self.router_id} is not registered")
            password = self.store.password(self.router)
            try:
                settings = self.store.settings
                self.session = Session.open(self.router, password, settings.timeout, settings.tls_ca_file)
            except RouterLoginRefused:
                self.store.forget_password(self.router)
                raise
        except Exception as error:
            self.error = error
            raise
        return self.session

    def broken(self, error: BaseException) -> None:
        """A command failed: keep the session after a ``!trap`` (it is still usable), drop it
        after anything else (timeout, closed, fatal) and refuse the rest of the batch."""
        if isinstance(error, TrapError | MultiTrapError):
            return
        self.close()
        self.error = error

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """SQS entry point: partial batch response (only the failed records come back)."""
    store = Store(Settings.from_env())
    failures: list[str] = []
    commands: dict[str, list[tuple[Record, Command]]] = {}
    for raw in event.get("Records", []):
        record = Record.from_sqs(raw)
        router_id = check_request(record.body)
        if router_id is not None:  # the console's "check now": the health check, for one router
            try:
                check_routers(store.settings, only=router_id)
            except Exception:
                logger.exception("router check failed")
                failures.append(record.message_id)
            continue
        try:
            command = parse_command(record.body)
        except InvalidCommand as error:
            if not _reject(store, record, error):
                failures.append(record.message_id)
            continue
        commands.setdefault(command.router_id, []).append((record, command))

    def run_router(items: list[tuple[Record, Command]]) -> list[str]:
        """One router's records in order, on one session; the ids of those that failed."""
        link = RouterLink(store, items[0][1].router_id)
        try:
            return [record.message_id for record, command in items if not _run(store, link, record, command)]
        finally:
            link.close()

    # Routers side by side: one slow router must not hold the others' records past the timeout.
    with ThreadPoolExecutor(max(1, min(len(commands), 5))) as pool:
        for failed in pool.map(run_router, commands.values()):
            failures.extend(failed)
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}


def check_request(body: str) -> str | None:
    """The router id of a ``{"action": "check", "router_id": …}`` message (the operator's "check
    now", sent on this queue because only this function reaches the routers), else ``None``."""
    if '"check"' not in body:
        return None
    try:
        request = json.loads(body)
    except ValueError:
        return None
    router_id = request.get("router_id") if isinstance(request, dict) else None
    return router_id if request.get("action") == "check" and isinstance(router_id, str) else None


def _reject(store: Store, record: Record, error: InvalidCommand) -> bool:
    """A malformed command: retrying cannot help, so it goes to the DLQ now with its reason.
    ``False`` if that failed (the message then comes back and is rejected again)."""
    try:
        dead_id = store.dead_letter(record.body)
        store.record_failure(dead_id, f"invalid command: {error}", record.attempt)
    except Exception:
        logger.exception("could not move an invalid command to the DLQ")
        return False
    _log(
        logging.ERROR,
        "invalid provisioning command sent to the DLQ",
        error=str(error),
        message_id=record.message_id,
    )
    return True


def _run(store: Store, link: RouterLink, record: Record, command: Command) -> bool:
    """One command, one try; ``True`` when the message is done (success or nothing to do)."""
    started = time.monotonic()
    try:
        outcome = _apply(store, link, command, record.attempt)
    except Conflict as conflict:
        return _conflict(store, link, record, command, conflict)
    except Exception as error:
        link.broken(error)
        _failed(store, link, record, command, error)
        _metrics({"ProvisioningFailedTries": "Count"}, ProvisioningFailedTries=1)
        return False
    seconds = time.monotonic() - started
    if record.attempt > 1:  # it had failed before: it leaves the console's retries now
        try:
            store.record_success(record.message_id)
        except Exception:
            logger.exception("could not clear the failed try")
    _metrics({"ProvisioningSeconds": "Seconds"}, ProvisioningSeconds=round(seconds, 4))
    _log(
        logging.INFO,
        "provisioning command done",
        outcome=outcome,
        attempt=record.attempt,
        seconds=round(seconds, 3),
        **command.ids(),
    )
    return True


def _apply(store: Store, link: RouterLink, command: Command, attempt: int) -> Any:
    subscription = store.subscription(command.subscription_id)
    if subscription is None:
        raise NotReady(f"subscription {command.subscription_id} not found")
    if is_superseded(command, subscription):
        return "superseded"
    if int(subscription.get("provision_version", 0)) < command.version:
        raise NotReady(f"subscription {command.subscription_id} is not at version {command.version} yet")
    done = PROVISIONED if command.action == "provision" else DEPROVISIONED
    if subscription.get("provision_status") == done:
        _settle_event(store, command, subscription.get("provision_event"))
        return "duplicate"
    if link.mode() == "radius" or command.action == "disconnect":  # no user push: radius.py
        outcome, won = radius.apply(store, link.router, command, attempt)
        if won:
            owed = "UserProvisioned" if command.action == "provision" else "UserDeprovisioned"
            _settle_event(store, command, owed)
        return outcome
    session = link.open()
    if command.action == "provision":
        outcome = session.provision(command)
        won = store.mark_provisioned(command, attempt)
    else:
        outcome = session.deprovision(command.username)
        won = store.mark_deprovisioned(command, attempt)
    if won:
        _settle_event(
            store, command, "UserProvisioned" if command.action == "provision" else "UserDeprovisioned"
        )
    return outcome


def _settle_event(store: Store, command: Command, owed: str | None) -> None:
    """Publish the event a transition owes, then mark it published (at least once; once unless
    a crash falls between the two)."""
    if not owed:
        return
    detail = {
        "subscription_id": command.subscription_id,
        "router_id": command.router_id,
        "username": command.username,
        "version": command.version,
    }
    store.publish(owed, detail, owed_event_id(command, owed))
    store.event_published(command, owed)


def _failed(store: Store, link: RouterLink, record: Record, command: Command, error: BaseException) -> None:
    """Record why; back off, or after the last try give up: ``provision_failed``, the event, DLQ."""
    why = reason(error, link.where)
    settings = store.settings
    delay = visibility_after(record.attempt, settings.backoff)
    _log(
        logging.WARNING,
        "provisioning try failed",
        reason=why,
        attempt=record.attempt,
        of=settings.max_attempts,
        retry_in=delay,
        **command.ids(),
    )
    try:
        summary = f"{command.action} {command.username} on {command.router_id}"
        store.record_failure(record.message_id, why, record.attempt, next_try_in=delay, summary=summary)
        if delay is not None:
            store.note_attempt(command, why, record.attempt)
            store.retry_in(record.receipt_handle, delay)
            return
        gave_up = (
            store.mark_failed(command, why, record.attempt)
            if command.action == "provision"
            else store.note_attempt(command, why, record.attempt)
        )
        if gave_up:
            _metrics({"ProvisioningFailed": "Count"}, ProvisioningFailed=1)  # the alarm's
            store.publish(
                "ProvisioningFailed",
                {
                    "subscription_id": command.subscription_id,
                    "router_id": command.router_id,
                    "username": command.username,
                    "action": command.action,
                    "error": why,
                    "attempts": record.attempt,
                },
            )
        store.retry_in(record.receipt_handle, 0)  # the queue's redrive policy moves it to the DLQ
    except Exception:  # bookkeeping must never hide the router's failure: the message still retries
        logger.exception("could not record the failed try")


def _conflict(store: Store, link: RouterLink, record: Record, command: Command, conflict: Conflict) -> bool:
    """The router has the operator's own row of that name: nothing was written, and no retry can
    help until the operator renames or removes it. Give up now: ``provision_failed`` with the
    reason, ``ProvisioningFailed`` with ``conflict: true``, and the command to the DLQ (not
    deleted: ``muda failed list`` shows it with the reason, and once the operator has acted
    ``muda failed retry`` redrives the very command). ``False`` when the bookkeeping failed:
    the message comes back, meets the same conflict and tries again."""
    router = link.router
    why = reason(conflict, f"{router.name!r} {link.where}" if router else link.where)
    _log(logging.ERROR, "provisioning conflict: router row left alone", reason=why, **command.ids())
    try:
        if store.mark_conflict(command, why, record.attempt):
            _metrics({"ProvisioningFailed": "Count"}, ProvisioningFailed=1)  # the alarm's
        current = store.subscription(command.subscription_id) or {}
        if (
            current.get("provision_event") == "ProvisioningFailed"
            and int(current.get("provision_version", -1)) == command.version
        ):  # owed by this try's transition, or by an earlier try that crashed before publishing
            detail = {
                "subscription_id": command.subscription_id,
                "router_id": command.router_id,
                "username": command.username,
                "action": command.action,
                "error": why,
                "attempts": record.attempt,
                "conflict": True,
            }
            store.publish("ProvisioningFailed", detail, owed_event_id(command, f"ProvisioningFailed {why}"))
            store.event_published(command, "ProvisioningFailed")
        dead_id = store.dead_letter(record.body)
        summary = f"{command.action} {command.username} on {command.router_id}"
        store.record_failure(dead_id, why, record.attempt, summary=summary)
        if record.attempt > 1:  # its earlier failed tries leave the console's retries
            store.record_success(record.message_id)
    except Exception:
        logger.exception("could not record the provisioning conflict")
        return False
    return True


# ---------------------------------------------------------------- health


@dataclass
class Health:
    router_id: str
    name: str
    where: str
    online: bool
    changed_from: str | None
    detail: str
    seconds: float


def probe(store: Store, router: Router) -> tuple[bool, str]:
    """Log in and read ``/system/resource`` (one quick retry: one lost packet is not an outage)."""
    last: BaseException | None = None
    for _ in range(2):
        session = None
        try:
            settings = store.settings
            session = Session.open(router, store.password(router), settings.timeout, settings.tls_ca_file)
            info = session.health()
            return True, f"RouterOS {info['version']}, up {info['uptime']}"
        except Exception as error:
            if isinstance(error, RouterLoginRefused):
                store.forget_password(router)
            last = error
        finally:
            if session is not None:
                session.close()
    assert last is not None
    return False, reason(last, router.where)


def check_routers(settings: Settings | None = None, only: str | None = None) -> list[Health]:
    """Probe every router (or ``only`` that one) side by side; record status; emit an event on
    each change."""
    store = Store(settings or Settings.from_env())
    if only is not None:
        router = store.router(only)
        routers = [router] if router is not None else []
    else:
        routers = store.routers()

    def check(router: Router) -> Health:
        started = time.monotonic()
        online, detail = probe(store, router)
        previous = store.set_router_status(router, online, None if online else detail)
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        event = {"router_id": router.router_id, "name": router.name, "at": at}
        if previous is not None and not online:
            store.publish("RouterOffline", {**event, "error": detail, "was": previous})
        elif previous == "offline" and online:
            store.publish("RouterOnline", event)
        return Health(
            router.router_id, router.name, router.where, online, previous, detail, time.monotonic() - started
        )

    if not routers:
        return []
    with ThreadPoolExecutor(min(store.settings.health_workers, len(routers))) as pool:
        return list(pool.map(check, routers))


def health_check(event: dict[str, Any] | None = None, context: Any = None) -> dict[str, Any]:
    """Schedule entry point (every minute)."""
    results = check_routers()
    for health in results:
        if health.changed_from is not None:
            _log(
                logging.WARNING if not health.online else logging.INFO,
                "router status changed",
                router_id=health.router_id,
                online=health.online,
                was=health.changed_from,
                detail=health.detail,
            )
    online = sum(h.online for h in results)
    _metrics(
        {"RoutersOnline": "Count", "RoutersOffline": "Count"},
        RoutersOnline=online,
        RoutersOffline=len(results) - online,
    )
    return {"routers": len(results), "online": online}
