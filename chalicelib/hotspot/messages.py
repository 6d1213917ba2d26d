"""The hotspot's work messages, sent from one place: router commands (→ the router provisioner,
the contract in ``logic.provision_command``)."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.core.aws import client, queue_url
from chalicelib.core.config import get_settings


def _send(queue: str, body: dict[str, Any]) -> None:
    client("sqs").send_message(QueueUrl=queue_url(get_settings().name(queue)), MessageBody=json.dumps(body))


def router_command(command: dict[str, Any]) -> None:
    _send("provisioning", command)
