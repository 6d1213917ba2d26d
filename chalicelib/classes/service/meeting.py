"""The LiveKit side of a session: its credentials, join tokens, and closing the room."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.classes import logic
from chalicelib.classes.models import ClassSession
from chalicelib.classes.settings import settings
from chalicelib.core import clock, secrets
from chalicelib.core.errors import Conflict, Forbidden, Unavailable
from chalicelib.core.observability import logger
from chalicelib.integrations import livekit


def livekit_credentials() -> livekit.Credentials:
    """The LiveKit API key/secret from Secrets Manager (the core cache, five minutes)."""
    value = secrets.read(settings().secret_id, max_age=300)
    if not value.get("api_key") or not value.get("api_secret"):
        raise Unavailable("LiveKit credentials are incomplete")
    return livekit.Credentials(str(value["api_key"]), str(value["api_secret"]))


@dataclass(frozen=True)
class JoinGrant:
    url: str
    token: str
    room: str
    identity: str
    role: str
    expires_at: float


def participant_role(session: ClassSession, user: str) -> str:
    role = logic.role_in(user, session.teacher_id, list(session.student_ids))
    if role is None:
        raise Forbidden("only the class's teacher and students can do this")
    return role


def join_grant(session: ClassSession, user: str, name: str) -> JoinGrant:
    role = participant_role(session, user)
    refusal = logic.join_refusal(session.status, session.schedule.moments()["ready"])
    if refusal or not session.room_name:
        raise Conflict(refusal or "the meeting is not prepared yet", code="meeting_not_open")
    now = clock.now()
    ttl = logic.token_ttl(now, session.schedule.moments()["complete"], settings().token_min_ttl_seconds)
    token = livekit.access_token(
        livekit_credentials(),
        livekit.VideoGrant(room=session.room_name, room_join=True),
        identity=user,
        name=name,
        ttl_seconds=ttl,
    )
    return JoinGrant(settings().livekit_url, token, session.room_name, user, role, int(now) + ttl)


def close_meeting(session: ClassSession) -> None:
    """Best effort: LiveKit closes empty rooms by itself; a failure is logged, never raised."""
    if not session.room_name:
        return
    try:
        livekit.delete_room(
            livekit_credentials(),
            settings().livekit_url,
            session.room_name,
            settings().livekit_timeout_seconds,
        )
        logger.info("meeting room deleted", extra={"class_id": session.class_id, "room": session.room_name})
    except (livekit.LiveKitError, Unavailable) as error:
        logger.warning(
            "meeting room deletion failed (best effort)",
            extra={"class_id": session.class_id, "room": session.room_name, "error": str(error)},
        )
