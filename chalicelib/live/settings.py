"""The live feed's own knobs (env prefix ``MUDA_LIVE_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from chalicelib.core.config import domain_settings


class LiveSettings(BaseSettings):
    """Knobs of the live feed (env ``MUDA_LIVE_*``)."""

    model_config = SettingsConfigDict(env_prefix="MUDA_LIVE_", extra="ignore", frozen=True)

    # Where browsers connect (``wss://<api id>.execute-api.<region>.amazonaws.com/api`` on AWS,
    # the local gateway's ``ws://`` URL locally); the console page is told it.
    websocket_url: str | None = None
    # The @connections management API. Unset on AWS: each connection records the URL of the API
    # it came through (``https://<domainName>/<stage>``); the local stack sets its gateway's.
    management_url: str | None = None
    # API Gateway closes a WebSocket after 2 h; a record outliving its socket expires by TTL.
    connection_ttl_seconds: int = Field(default=7200, gt=0)
    # Posts to connections side by side (each is one HTTPS call on AWS).
    post_workers: int = Field(default=8, ge=1, le=64)


def settings() -> LiveSettings:
    return domain_settings(LiveSettings)
