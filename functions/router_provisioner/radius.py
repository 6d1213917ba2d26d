"""RADIUS-mode routers: no user is pushed through the API (FreeRADIUS asks Muda at each login);
what the provisioner does instead is end sessions with an RFC 5176 Disconnect-Request to the
router's UDP 3799 (``/radius incoming set accept=yes``), signed with the router's RADIUS secret
from Secrets Manager, through ``pyrad``.

- ``provision``: nothing to push; the subscription is marked provisioned (the login is authorised
  by RADIUS from now on). When the access moved to a new device (``previous_mac``), first a
  Disconnect-Request for the user's session on the old device (User-Name + Calling-Station-Id);
- ``deprovision`` (the subscription expired): Disconnect-Request, then deprovisioned;
- ``disconnect`` (its data ran out; the subscription stays active for a renewal): Disconnect-Request.

No answer after ``MUDA_ROUTERS_RADIUS_TRIES`` sends (``MUDA_ROUTERS_RADIUS_TIMEOUT_SECONDS`` each)
raises ``NoAnswer``: the message comes back after the queue's backoff, like an unreachable API.
An answer is recorded on the subscription (``radius_disconnect_*``): an ACK, or a NAK with its
Error-Cause (503, *session context not found*, means the user was not online: nothing to end).
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from pyrad import packet
from pyrad.client import Client, Timeout
from pyrad.dictionary import Dictionary

from .logic import Command

logger = logging.getLogger("muda.router_provisioner")

# The attributes a Disconnect-Request and its answer carry (RFC 2865, 2866, 5176).
DICTIONARY = """
ATTRIBUTE User-Name 1 string
ATTRIBUTE NAS-IP-Address 4 ipaddr
ATTRIBUTE Framed-IP-Address 8 ipaddr
ATTRIBUTE Reply-Message 18 string
ATTRIBUTE Calling-Station-Id 31 string
ATTRIBUTE NAS-Identifier 32 string
ATTRIBUTE Proxy-State 33 octets
ATTRIBUTE Acct-Session-Id 44 string
ATTRIBUTE Event-Timestamp 55 integer
ATTRIBUTE Message-Authenticator 80 octets
ATTRIBUTE Error-Cause 101 integer
"""
SESSION_NOT_FOUND = 503  # RFC 5176 Error-Cause: Session-Context-Not-Found
DEFAULT_PORT = 3799


class NoAnswer(TimeoutError):
    """The router never answered the Disconnect-Request (retried by the queue)."""


@cache
def dictionary() -> Dictionary:
    return Dictionary(io.StringIO(DICTIONARY))


@dataclass(frozen=True)
class Answer:
    acked: bool
    error_cause: int | None = None

    @property
    def result(self) -> str:
        if self.acked:
            return "ack"
        return "not_online" if self.error_cause == SESSION_NOT_FOUND else "nak"


def disconnect(
    host: str,
    port: int,
    secret: str,
    username: str,
    *,
    mac: str | None = None,
    timeout: float = 2.0,
    tries: int = 3,
) -> Answer:
    """Send a Disconnect-Request for ``username`` (and its device) and read the answer."""
    client = Client(server=host, secret=secret.encode(), dict=dictionary(), coaport=port)
    client.timeout, client.retries = timeout, tries
    request = client.CreateCoAPacket(code=packet.DisconnectRequest)
    request["User-Name"] = username
    if mac:
        request["Calling-Station-Id"] = mac
    request["Event-Timestamp"] = int(time.time())
    try:
        reply = client.SendPacket(request)
    except Timeout:
        raise NoAnswer(f"no answer to Disconnect-Request from {host}:{port} after {tries} tries") from None
    finally:
        client._CloseSocket()
    if reply.code == packet.DisconnectACK:
        return Answer(True)
    cause = reply.get("Error-Cause")
    return Answer(False, int(cause[0]) if cause else None)


_secrets: dict[str, tuple[str, float]] = {}
_lock = threading.Lock()


def _secret(store: Any, name: str) -> str:
    """The router's RADIUS secret (``{"secret": …}``), cached like the API passwords."""
    with _lock:
        hit = _secrets.get(name)
        if hit and time.monotonic() - hit[1] < store.settings.secret_ttl:
            return hit[0]
    import json

    value = json.loads(store.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])[
        "secret"
    ]
    with _lock:
        _secrets[name] = (value, time.monotonic())
    return value


def _record(store: Any, command: Command, answer: Answer) -> None:
    """The router's answer on the subscription (an update only: the subscription must exist)."""
    store._update_if(
        Key={"pk": {"S": f"SUB#{command.subscription_id}"}, "sk": {"S": "SUB"}},
        UpdateExpression="SET radius_disconnect_at = :at, radius_disconnect_result = :r, "
        "radius_disconnect_cause = :c, radius_disconnect_action = :a",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={
            ":at": {"N": str(time.time())},
            ":r": {"S": answer.result},
            ":c": {"N": str(answer.error_cause)} if answer.error_cause is not None else {"NULL": True},
            ":a": {"S": command.action},
        },
    )


def apply(store: Any, router: Any, command: Command, attempt: int) -> tuple[str, bool]:
    """A command for a RADIUS-mode router: ``(outcome, won)``; ``won`` when this try made the
    subscription's transition (its event is then owed, as for an API push)."""
    if command.action == "provision":
        outcome = "radius: authorised at login, nothing pushed"
        if command.moves:  # the access moved: the old device's session ends now
            answer = _disconnect(store, router, command, command.previous_mac)
            outcome += f"; old device {command.previous_mac} disconnect {answer.result}"
        return outcome, store.mark_provisioned(command, attempt)
    # by name only: the device the portal saw may not be the one online
    answer = _disconnect(store, router, command, None)
    if command.action == "deprovision":
        return f"disconnect {answer.result}", store.mark_deprovisioned(command, attempt)
    return f"disconnect {answer.result}", False


def _disconnect(store: Any, router: Any, command: Command, mac: str | None) -> Answer:
    """One Disconnect-Request for the command's user (on ``mac`` only, when given: its
    Calling-Station-Id), its answer recorded on the subscription and logged."""
    if not router.radius_secret:
        raise NoAnswer(f"router {router.router_id} has no RADIUS secret registered")
    answer = disconnect(
        router.host,
        int(router.coa_port or DEFAULT_PORT),
        _secret(store, router.radius_secret),
        command.username,
        mac=mac,
        timeout=float(os.environ.get("MUDA_ROUTERS_RADIUS_TIMEOUT_SECONDS", 2)),
        tries=int(os.environ.get("MUDA_ROUTERS_RADIUS_TRIES", 3)),
    )
    _record(store, command, answer)
    level = logging.INFO if answer.result != "nak" else logging.WARNING
    logger.log(
        level,
        "disconnect-request answered %s",
        answer.result,
        extra={"subscription_id": command.subscription_id, "error_cause": answer.error_cause, "mac": mac},
    )
    return answer
