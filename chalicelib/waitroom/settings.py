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


def settings() -> WaitroomSettings:
    return domain_settings(WaitroomSettings)
