"""The waiting room's own knobs (env prefix ``MUDA_WAITROOM_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from chalicelib.core.config import domain_settings


class WaitroomSettings(BaseSettings):
    """Knobs of the waiting room (env ``MUDA_WAITROOM_*``)."""

    model_config = SettingsConfigDict(env_prefix="MUDA_WAITROOM_", extra="ignore", frozen=True)

    # Queued users who have not polled for this long are abandoned when their turn comes.
    abandon_after_seconds: float = Field(default=120, gt=0)
    # Polls write the heartbeat at most this often (a poll every second costs one write per window).
    heartbeat_write_seconds: float = Field(default=15, ge=0)
    # A ticket never written (a join that died) is passed once a later place is this old.
    gap_grace_seconds: float = Field(default=5, ge=0)
    # Time constant of the admission / pass rates behind stats and ETAs.
    rate_window_seconds: float = Field(default=300, gt=0)
    # Admission rounds (one transaction each) per attempt; the rest waits for the next trigger.
    max_rounds: int = Field(default=20, ge=1)
    issuer: str | None = None  # "iss" of checkout tokens; default muda-<stage>-waitroom
    checkout_url: str = "https://checkout.example.com/{event}?session={session}"
    # The longest a checkout token can live (the cap on checkout_minutes): retired keys stay in
    # the JWKS this long after rotation.
    max_checkout_minutes: float = Field(default=120, gt=0)
    key_cache_seconds: int = Field(default=60, ge=0)
    # Ticket counter shards of a new event's normal lane (an event may set its own).
    default_shards: int = Field(default=8, ge=1, le=64)
    # How far one shard's counter may run ahead of the slowest (tickets): with N shards, nobody
    # who joins after you is placed more than N x slack - 1 places ahead of you.
    shard_slack: int = Field(default=8, ge=1, le=100)
    # The waiting page's join limits: per source IP (generous: mobile carriers put many phones
    # behind one address) and per device, in fixed windows; past them a 429 with Retry-After.
    join_limit_per_ip: int = Field(default=120, ge=1)
    join_limit_per_device: int = Field(default=10, ge=1)
    join_limit_window_seconds: float = Field(default=10, gt=0)
    # The poll interval the page is told never goes below this (tests scale it down).
    min_poll_seconds: float = Field(default=2, gt=0)


def settings() -> WaitroomSettings:
    return domain_settings(WaitroomSettings)
