"""Binding a paid access to the buyer's device at the portal ("I paid by Paybill", "I already
paid"), and the limits on those guessable steps.

Every write is conditioned on the subscription as read (``subscriptions.rebind``): two devices
claiming one access at once → one wins, the other is answered from the winner's state. The
provisioning command goes after the commit; should the process die in between, the provision
check written in the same transaction sends it again ``provision_check_seconds`` later
(``purchase.ProvisionCheck``), and so does the same request again from that device (commands are
upserts).
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.core import clock, ratelimit
from chalicelib.core.errors import Conflict
from chalicelib.core.observability import logger
from chalicelib.hotspot import logic, messages
from chalicelib.hotspot.models import subscriptions
from chalicelib.hotspot.models.items import RateWindow, SubscriptionItem
from chalicelib.hotspot.service.purchase import ProvisionCheck, command
from chalicelib.hotspot.settings import hotspot_settings

ENDED = "This access has ended: buy a package to get online again."


def limit(doing: str, what: str, mac: str, source_ip: str | None) -> None:
    """Count one attempt per device MAC and per source address (``core.ratelimit``): past
    ``attempts_per_mac``/``attempts_per_ip`` in ``attempts_window_seconds``, a 429."""
    s = hotspot_settings()
    checks = [("device", f"{what}#mac#{mac}", s.attempts_per_mac)]
    if source_ip:
        checks.append(("network address", f"{what}#ip#{source_ip}", s.attempts_per_ip))
    ratelimit.enforce(RateWindow, checks, s.attempts_window_seconds, clock.now(), doing)


@dataclass(frozen=True)
class Bound:
    subscription: SubscriptionItem
    move: logic.Move


def bind(sub: SubscriptionItem, mac: str, ip: str | None, *, move: bool) -> Bound:
    """The access bound to ``mac`` and the router told: a first device or a move (a reconnect)
    is a new provisioning version (with ``previous_mac`` for a one-device package); the same
    device gets the current version's command again. ``Conflict``: ``access_ended``, or
    ``already_claimed`` (a claim of a one-device access another device holds)."""
    for _ in range(5):
        now = clock.now()
        if not logic.still_active(sub.status, float(sub.expires_at_ts), now):
            raise Conflict(ENDED, code="access_ended")
        try:
            plan = logic.bind(sub.mac, mac, int(sub.shared_users or 1), move)
        except logic.AlreadyClaimed:
            raise Conflict(
                "This payment is already in use on another device. To move it to this one, use "
                "“I already paid” with the M-Pesa receipt code from the SMS.",
                code="already_claimed",
            ) from None
        if plan.kind == "shared":
            return Bound(sub, plan)  # another device of a shared package logs in with the credentials
        if plan.writes:
            check = ProvisionCheck.after(
                sub.subscription_id, int(sub.provision_version or 0) + 1, now, plan.previous_mac
            )
            if not subscriptions.rebind(sub, mac, ip, now, also=check.add):
                found = subscriptions.get(sub.subscription_id)  # renewed, moved or expired meanwhile
                if found is None:
                    raise Conflict(ENDED, code="access_ended")
                sub = found
                continue
            check.arm()  # first: a death before the send is then caught at the check's due time
        messages.router_command(command(sub, int(sub.provision_version), plan.previous_mac))
        logger.info(
            "access bound to a device",
            extra={
                "subscription_id": sub.subscription_id,
                "how": plan.kind,
                "version": int(sub.provision_version),
            },
        )
        return Bound(sub, plan)
    raise Conflict("This access is changing right now; try again in a moment.", code="busy")
