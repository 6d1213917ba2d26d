"""The consult domain's knobs (env prefix ``MUDA_CONSULT_``), e.g. ``MUDA_CONSULT_INTERVAL_SECONDS``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from chalicelib.core.config import domain_settings


class ConsultSettings(BaseSettings):
    """The consult domain's knobs (env prefix ``MUDA_CONSULT_``)."""

    model_config = SettingsConfigDict(env_prefix="MUDA_CONSULT_", extra="ignore", frozen=True)

    interval_seconds: float = Field(default=600, gt=0)
    idle_seconds: float = Field(default=1800, gt=0)
    pending_timeout_seconds: float = Field(default=1800, gt=0)  # unanswered text request expires
    call_connect_timeout_seconds: float = Field(default=90, gt=0)
    award_text: int = Field(default=500, ge=0)  # KES minor units per deducted credit
    award_voice: int = Field(default=1000, ge=0)
    award_video: int = Field(default=1500, ge=0)
    slot_minutes: int = Field(default=30, ge=1, le=24 * 60)
    appointment_pending_seconds: float = Field(default=24 * 3600, gt=0)
    presence_idle_seconds: float = Field(default=900, gt=0)  # ``available`` lapses without a heartbeat
    slots_max_days: int = Field(default=31, ge=1, le=366)  # the longest range GET /doctors/{id}/slots answers
    max_intervals_per_end: int = Field(default=40, ge=1, le=45)  # 2 ledger items each, ≤ 100 actions


def settings() -> ConsultSettings:
    return domain_settings(ConsultSettings)


def award_for(kind: str, cfg: ConsultSettings | None = None) -> int:
    cfg = cfg or settings()
    return {"text": cfg.award_text, "voice": cfg.award_voice, "video": cfg.award_video}[kind]
