"""The end of a session that held (or waited for) a slot: completed by the checkout service with
its token, revoked by an admin, expired by its timer or the backstop. Each release frees the slot
in its own transaction, then admits the next at once."""

from __future__ import annotations

from chalicelib.core import clock, timers
from chalicelib.core.errors import Conflict, Unauthorized
from chalicelib.core.observability import logger
from chalicelib.waitroom import logic, tokens
from chalicelib.waitroom.models import events, sessions
from chalicelib.waitroom.models.items import SessionItem
from chalicelib.waitroom.service.admission import CHECKOUT_TIMER, admit, admit_quietly, count_error
from chalicelib.waitroom.service.line import find_session


def complete(sid: str, token: str) -> SessionItem:
    """The checkout service's call: the purchase is done, the slot is free at once."""
    session = find_session(sid)
    claims = tokens.verify(token, audience=session.event_id)
    if claims["sub"] != sid:
        raise Unauthorized("checkout token is for another session", code="invalid_token")
    now = clock.now()
    if session.status == logic.ADMITTED and sessions.release(
        session, logic.COMPLETED, now, jti=claims["jti"]
    ):
        session.status, session.ended_at = logic.COMPLETED, now
        _after_release(session, cancel_timer=True)
        logger.info("waitroom checkout completed", extra={"session_id": sid, "event_id": session.event_id})
        return session
    session = find_session(sid)  # lost a race, or it was not admitted: say why
    if session.status == logic.COMPLETED and session.jti == claims["jti"]:
        return session  # a repeat: already done
    if session.status == logic.REVOKED:
        raise Unauthorized("checkout token revoked", code="token_revoked")
    if session.status == logic.EXPIRED:
        raise Unauthorized("checkout window has ended", code="token_expired")
    raise Unauthorized("checkout token is not this session's current token", code="invalid_token")


def revoke(sid: str) -> SessionItem:
    """Admin: end a session now; its token is refused from then on, its slot (if any) freed."""
    session = find_session(sid)
    now = clock.now()
    if session.status in (logic.QUEUED, logic.ADMITTED) and sessions.release(
        session, logic.REVOKED, now, from_status=session.status
    ):
        held = session.status == logic.ADMITTED
        session.status, session.ended_at = logic.REVOKED, now
        if held:
            _after_release(session, cancel_timer=True)
        logger.info("waitroom session revoked", extra={"session_id": sid, "event_id": session.event_id})
        return session
    current = find_session(sid)
    raise Conflict(f"session {sid} is {current.status}: nothing to revoke", code="not_revocable")


def expire_checkout(sid: str) -> bool:
    """The checkout timer: an admitted session past its window expires and frees its slot."""
    session = find_session(sid)
    if session.status != logic.ADMITTED or float(session.checkout_expires_at or 0) > clock.now():
        return False
    if not sessions.release(session, logic.EXPIRED, clock.now()):
        return False
    logger.info("waitroom checkout expired", extra={"session_id": sid, "event_id": session.event_id})
    _after_release(session, cancel_timer=False)
    return True


def _after_release(session: SessionItem, *, cancel_timer: bool) -> None:
    if cancel_timer:
        try:
            timers.cancel(CHECKOUT_TIMER, session.session_id)
        except Exception:  # the timer then fires and finds nothing to do
            logger.exception("could not cancel checkout timer", extra={"session_id": session.session_id})
    admit_quietly(session.event_id)


def backstop() -> dict[str, int]:
    """Every minute: expire checkouts whose timer was lost, then an attempt per active event.
    One event's failure never stops another's."""
    admitted = expired = failed = 0
    grace = 60.0
    for event in list(events.by_status(logic.ACTIVE)):
        try:
            for session in sessions.overdue_checkouts(event.event_id, clock.now() - grace):
                expired += expire_checkout(session.session_id)
            admitted += len(admit(event.event_id).admitted)
        except Exception:
            failed += 1
            logger.exception("waitroom backstop failed for an event", extra={"event_id": event.event_id})
            count_error(event.event_id)
    return {"admitted": admitted, "expired": expired, "failed": failed}
