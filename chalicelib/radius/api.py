"""The RADIUS routes: what FreeRADIUS's rlm_rest calls (authorize, accounting), guarded by the
shared key in Secrets Manager, and the admin's view of a subscription's sessions.

rlm_rest reads the HTTP status: 200 with attributes → ok/updated (Access-Accept follows), 401
with ``reply:Reply-Message`` → reject, 403 → userlock (a reject), 4xx → invalid (a reject), 5xx →
fail (a reject: FreeRADIUS fails closed). Accounting: 204 → the Accounting-Response is sent;
anything else → none, so the router sends it again later.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from typing import Any

from chalice import Response

from chalicelib.core import secrets
from chalicelib.core.errors import BadRequest, Forbidden, NotFound
from chalicelib.core.http import Api, Call, json_response, loads
from chalicelib.core.observability import logger
from chalicelib.radius import logic, service
from chalicelib.radius.settings import radius_settings

api = Api(__name__, tag="radius")
ADMIN = ("admin",)


def _key(call: Call) -> None:
    """The caller is our FreeRADIUS: right source network (when configured) and the shared key
    (HTTP basic auth, as rlm_rest sends it, or ``X-Muda-Radius-Key``). 403 otherwise."""
    settings = radius_settings()
    if settings.allowed_sources:
        try:
            source = ipaddress.ip_address(call.source_ip or "")
        except ValueError:
            source = None
        if source is None or not any(
            source in ipaddress.ip_network(n, strict=False) for n in settings.allowed_sources
        ):
            logger.warning(
                "radius: call from outside the allowed networks", extra={"source_ip": call.source_ip}
            )
            raise Forbidden("not an allowed RADIUS server", code="radius_forbidden")
    given = call.headers.get("x-muda-radius-key", "")
    auth = call.headers.get("authorization", "")
    if not given and auth[:6].lower() == "basic ":
        try:
            given = base64.b64decode(auth[6:], validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            given = ""
    expected = str(secrets.read(settings.key_secret, settings.secrets_max_age_seconds).get("key") or "")
    if not (expected and given and hmac.compare_digest(given.encode(), expected.encode())):
        logger.warning("radius: call without the shared key", extra={"source_ip": call.source_ip})
        raise Forbidden("missing or wrong RADIUS key", code="radius_forbidden")


def _attributes(call: Call) -> dict[str, str]:
    try:
        return logic.attributes(loads(call.raw_body))
    except ValueError as error:  # not JSON, nested too deep, or not RADIUS attributes
        logger.warning("radius: malformed request", extra={"error": str(error)})
        raise BadRequest(str(error), code="malformed_radius") from None


@api.route("/radius/authorize", "POST", roles=None, errors=(400, 401, 403))
def authorize(call: Call) -> Response:
    """rlm_rest authorize: the user's Cleartext-Password and limits (200), or a reason (401)."""
    _key(call)
    attrs = _attributes(call)
    answer = service.authorize(attrs)
    ids = {"user": attrs.get("User-Name"), "nas": attrs.get("NAS-Identifier") or attrs.get("NAS-IP-Address")}
    if not answer.accept:
        logger.info("radius: access rejected", extra={**ids, "reason": answer.reason})
        return json_response(answer.body(), 401)
    logger.info("radius: access accepted", extra={**ids, "session_timeout": answer.reply["Session-Timeout"]})
    return json_response(answer.body(), 200)


@api.route("/radius/accounting", "POST", roles=None, errors=(400, 403, 404))
def accounting(call: Call) -> Response:
    """rlm_rest accounting: Start/Interim-Update/Stop recorded once (204; a duplicate is
    acknowledged and changes nothing), 404 for a session Muda cannot place."""
    _key(call)
    attrs = _attributes(call)
    try:
        done = service.account(attrs)
    except logic.Malformed as error:
        logger.warning("radius: malformed accounting", extra={"error": str(error)})
        raise BadRequest(str(error), code="malformed_radius") from None
    except service.UnknownNas as error:
        logger.warning("radius: accounting from an unknown NAS", extra={"nas": str(error)})
        raise NotFound("unknown NAS", code="unknown_nas") from None
    extra: dict[str, Any] = {
        "user": attrs.get("User-Name"),
        "status_type": attrs.get("Acct-Status-Type"),
        "unique_id": attrs.get("Acct-Unique-Session-Id"),
        "subscription_id": done.subscription_id,
        "outcome": done.outcome,
    }
    if done.outcome == "unknown":
        logger.warning("radius: accounting for no subscription of this user here", extra=extra)
        raise NotFound("no subscription of this user on this router", code="unknown_session")
    logger.info("radius: accounting", extra=extra)
    return Response(body="", status_code=204)


@api.route("/admin/radius/subscriptions/{subscription_id}/sessions", roles=ADMIN)
def subscription_sessions(call: Call, subscription_id: str) -> dict[str, Any]:
    """A subscription's RADIUS sessions and the data and time they used."""
    if not subscription_id.startswith("sub_") or len(subscription_id) > 64:
        raise NotFound("no such subscription")
    found = service.sessions_of(subscription_id)
    if found is None:
        raise NotFound("no such subscription")
    return found
