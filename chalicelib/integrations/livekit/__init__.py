"""LiveKit: access tokens, webhook verification and the RoomService API, by LiveKit's documented
formats (HS256 JWTs signed with the API secret, ``iss`` = API key; Twirp JSON over HTTP).

Hand-written over pyjwt and the standard library instead of ``livekit-api``: that SDK pulls in
protobuf, aiohttp and an asyncio client for three small calls.
"""

from chalicelib.integrations.livekit.client import (
    Credentials,
    LiveKitError,
    VideoGrant,
    WebhookError,
    access_token,
    delete_room,
    verify_webhook,
)

__all__ = [
    "Credentials",
    "LiveKitError",
    "VideoGrant",
    "WebhookError",
    "access_token",
    "delete_room",
    "verify_webhook",
]
