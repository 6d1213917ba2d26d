"""The classes domain's own knobs (env prefix ``MUDA_CLASSES_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from chalicelib.core.config import domain_settings, get_settings


class ClassesSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MUDA_CLASSES_", extra="ignore", frozen=True)

    # Academy defaults (the old system's default_*_minutes); each academy may set its own.
    preparation_minutes: float = Field(default=10, ge=0)
    buffer_minutes: float = Field(default=5, ge=0)
    late_tolerance_minutes: float = Field(default=15, ge=0)
    # Where participants connect (LiveKit's WebSocket URL); RoomService is called on its HTTP twin.
    livekit_url: str = "ws://127.0.0.1:7880"
    # Secrets Manager id of {"api_key", "api_secret"}; default muda/<stage>/classes/livekit.
    livekit_secret_id: str | None = None
    livekit_timeout_seconds: float = Field(default=3, gt=0)
    # Join tokens live until the class's end moment, at least this long.
    token_min_ttl_seconds: int = Field(default=300, ge=60)
    # Backstop: sessions whose next moment passed this long ago without a timer moving them are
    # advanced by the per-minute reconcile (a lost timer costs at most a minute).
    reconcile_grace_seconds: float = Field(default=60, ge=0)
    # Shards of the sparse "open sessions" index, so no single partition holds every session.
    open_shards: int = Field(default=4, ge=1, le=64)

    @property
    def secret_id(self) -> str:
        return self.livekit_secret_id or f"muda/{get_settings().stage}/classes/livekit"


def settings() -> ClassesSettings:
    return domain_settings(ClassesSettings)
