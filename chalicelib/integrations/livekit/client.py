"""LiveKit access tokens, webhook receiver and RoomService ``DeleteRoom``.

- Access token (LiveKit "Tokens & grants"): a JWT, HS256 with the API secret, claims ``iss`` (API
  key), ``sub`` (participant identity), ``name``, ``nbf``, ``exp`` and the ``video`` grant
  (``room``, ``roomJoin``, ``canPublish``, ``canSubscribe``, ``canPublishData``).
- Webhooks: LiveKit POSTs the event as JSON with an ``Authorization`` header holding a JWT signed
  the same way whose ``sha256`` claim is the base64 SHA-256 of the exact body bytes.
- RoomService is Twirp: ``POST {url}/twirp/livekit.RoomService/DeleteRoom`` with a JSON body and a
  token carrying the ``roomCreate`` grant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt

from chalicelib.core import clock

ALGORITHM = "HS256"
LEEWAY_SECONDS = 60  # LiveKit's SDKs accept a minute of clock skew


class LiveKitError(RuntimeError):
    """LiveKit's server could not be reached or refused a call."""


class WebhookError(ValueError):
    """A webhook whose signature, body hash or shape does not verify."""


@dataclass(frozen=True)
class Credentials:
    api_key: str
    api_secret: str


@dataclass(frozen=True)
class VideoGrant:
    room: str = ""
    room_join: bool = False
    room_create: bool = False
    can_publish: bool = True
    can_subscribe: bool = True
    can_publish_data: bool = True

    def claims(self) -> dict[str, Any]:
        grant: dict[str, Any] = {}
        if self.room:
            grant["room"] = self.room
        if self.room_join:
            grant.update(
                roomJoin=True,
                canPublish=self.can_publish,
                canSubscribe=self.can_subscribe,
                canPublishData=self.can_publish_data,
            )
        if self.room_create:
            grant["roomCreate"] = True
        return grant


def access_token(
    credentials: Credentials,
    grant: VideoGrant,
    *,
    identity: str = "",
    name: str = "",
    ttl_seconds: float = 3600,
) -> str:
    """A LiveKit access token valid from now for ``ttl_seconds``."""
    if grant.room_join and not (identity and grant.room):
        raise ValueError("identity and room are required to join a room")
    now = int(clock.now())
    claims: dict[str, Any] = {
        "iss": credentials.api_key,
        "nbf": now,
        "exp": now + max(1, int(ttl_seconds)),
        "video": grant.claims(),
    }
    if identity:
        claims["sub"] = identity
    if name:
        claims["name"] = name
    return jwt.encode(claims, credentials.api_secret, algorithm=ALGORITHM)


def decode_token(credentials: Credentials, token: str) -> dict[str, Any]:
    """Verify a token signed with these credentials (algorithm pinned, issuer = API key)."""
    return jwt.decode(
        token,
        credentials.api_secret,
        algorithms=[ALGORITHM],
        issuer=credentials.api_key,
        leeway=LEEWAY_SECONDS,
        options={"require": ["exp", "iss"]},
    )


def verify_webhook(credentials: Credentials, body: bytes, authorization: str | None) -> dict[str, Any]:
    """The webhook event, once its ``Authorization`` JWT and the body's SHA-256 check out."""
    token = (authorization or "").strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token:
        raise WebhookError("missing Authorization token")
    try:
        claims = decode_token(credentials, token)
    except jwt.PyJWTError as error:
        raise WebhookError(f"invalid webhook token: {error}") from None
    expected = base64.b64encode(hashlib.sha256(body).digest()).decode()
    if not hmac.compare_digest(str(claims.get("sha256", "")), expected):
        raise WebhookError("webhook body does not match its signed hash")
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError("webhook body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise WebhookError("webhook body has no event")
    return event


def webhook_authorization(credentials: Credentials, body: bytes, ttl_seconds: int = 300) -> str:
    """The ``Authorization`` value LiveKit would send with ``body`` (tests, the demo), by the wall
    clock as LiveKit's server signs it."""
    now = int(time.time())
    claims = {
        "iss": credentials.api_key,
        "nbf": now,
        "exp": now + ttl_seconds,
        "sha256": base64.b64encode(hashlib.sha256(body).digest()).decode(),
        "video": {},
    }
    return jwt.encode(claims, credentials.api_secret, algorithm=ALGORITHM)


def http_url(url: str) -> str:
    """RoomService speaks HTTP on the same host clients reach by WebSocket."""
    if url.startswith("wss://"):
        return "https://" + url[6:]
    if url.startswith("ws://"):
        return "http://" + url[5:]
    return url


def delete_room(credentials: Credentials, url: str, room: str, timeout: float = 3.0) -> None:
    """RoomService ``DeleteRoom``; a room that does not exist (never joined) counts as deleted."""
    token = access_token(credentials, VideoGrant(room=room, room_create=True), ttl_seconds=60)
    request = urllib.request.Request(
        f"{http_url(url).rstrip('/')}/twirp/livekit.RoomService/DeleteRoom",
        data=json.dumps({"room": room}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return
        raise LiveKitError(f"DeleteRoom {room}: HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        raise LiveKitError(f"DeleteRoom {room}: {error}") from None
