"""The buyer's access, as it really is on the router: what the portal and the operator's look-up say.

A payment being *paid* is not the buyer being online: the router provisioner still has to put the
user on the router, and a router may be slow or down. The state therefore follows the
subscription's ``provision_status`` (written by the provisioner only once the router has the user):

- ``waiting``: the payment is not confirmed yet;
- ``setting_up``: paid, the user is being put on the router;
- ``slow``: paid, and a try failed already (``provision_error`` recorded) or it has taken longer
  than ``SLOW_AFTER_SECONDS``: "taking longer than usual";
- ``online``: the router has the user (``provisioned``, or a later purchase's version got there);
- ``failed``: provisioning gave up (``provision_failed``): the operator sees it in the console's
  dead letters and ``ProvisioningFailed``; the buyer is told it will be refunded or retried;
- ``ended``: the access expired and was removed from the router; ``none``: the payment failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.hotspot import logic

SLOW_AFTER_SECONDS = 20.0

MESSAGES = {
    "waiting": "Waiting for your M-Pesa confirmation.",
    "setting_up": "Payment received. Setting up your access on the router…",
    "slow": "Payment received. Setting up your access is taking longer than usual; please wait.",
    "online": "You're online.",
    "failed": (
        "Payment received, but the router could not set up your access. "
        "We will retry or refund you; the operator has been alerted."
    ),
    "ended": "This access has ended.",
    "none": "No access: the payment did not go through.",
}


@dataclass(frozen=True)
class Access:
    state: str
    message: str
    attempts: int | None = None
    error: str | None = None  # for the operator only (never shown to the buyer)

    def public(self) -> dict[str, Any]:
        return {"state": self.state, "message": self.message, "attempts": self.attempts}


def access(public_state: str, sub: Any | None, paid_at: float | None, now: float) -> Access:
    """The access state of a payment from its public state (``logic.public_state``) and its
    subscription as read (``None`` before settlement)."""
    attempts = int(sub.provision_attempts) if sub is not None and sub.provision_attempts else None
    error = sub.provision_error if sub is not None else None
    if public_state == logic.PENDING:
        state = "waiting"
    elif public_state == "provisioned":
        state, attempts, error = "online", None, None
    elif public_state == "provision_failed":
        state = "failed"
    elif public_state == "expired":
        state = "ended"
    elif public_state == logic.PAID:
        late = paid_at is not None and now - paid_at > SLOW_AFTER_SECONDS
        state = "slow" if error or late else "setting_up"
    else:
        state, attempts, error = "none", None, None
    return Access(state, MESSAGES[state], attempts, error)
