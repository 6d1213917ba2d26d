"""The RADIUS domain's knobs (env prefix ``MUDA_RADIUS_``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chalicelib.core.config import domain_settings, get_settings


class RadiusSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MUDA_RADIUS_", extra="ignore", frozen=True)

    # The shared key FreeRADIUS sends (HTTP basic auth, user ``freeradius``) lives in Secrets
    # Manager as ``{"key": …}`` (default ``muda/<stage>/radius/rest``), never in the environment.
    key_secret_name: str | None = None
    secrets_max_age_seconds: int = Field(default=300, ge=0)
    # Source networks FreeRADIUS calls from (empty: any, the key alone guards the endpoints).
    allowed_sources: Annotated[tuple[str, ...], NoDecode] = ()
    # What an Access-Accept tells the router.
    interim_interval_seconds: int = Field(default=300, ge=10)
    idle_timeout_seconds: int | None = Field(default=None, ge=1)
    # How long the NAS → router map and a user's subscription id are reused in this process.
    nas_cache_seconds: float = Field(default=60, ge=0)

    @field_validator("allowed_sources", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @property
    def key_secret(self) -> str:
        return self.key_secret_name or f"muda/{get_settings().stage}/radius/rest"


def radius_settings() -> RadiusSettings:
    return domain_settings(RadiusSettings)
