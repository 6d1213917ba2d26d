"""The hotspot domain's own knobs (env prefix ``MUDA_HOTSPOT_``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chalicelib.core.config import domain_settings, get_settings


class HotspotSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MUDA_HOTSPOT_", extra="ignore", frozen=True)

    # Daraja: where it is and whose shortcode. Keys, passkey and the callback path token live in
    # Secrets Manager (``daraja_secret``, JSON), never in the environment.
    daraja_base_url: str = "https://sandbox.safaricom.co.ke"
    daraja_shortcode: str = "174379"
    daraja_transaction_type: Literal["CustomerPayBillOnline", "CustomerBuyGoodsOnline"] = (
        "CustomerPayBillOnline"
    )
    daraja_party_b: str | None = None
    daraja_secret_name: str | None = None  # default muda/<stage>/hotspot/daraja
    daraja_timeout_seconds: float = Field(default=10.0, gt=0)
    daraja_token_refresh_margin_seconds: float = Field(default=60.0, ge=0)
    secrets_max_age_seconds: int = Field(default=300, ge=0)
    # The API's public base URL, which Safaricom calls back (API Gateway stage URL in AWS).
    callback_base_url: str = "http://127.0.0.1:8000"
    # Safaricom's published callback IPs: off, log (log-only), enforce (refuse others).
    callback_ip_check: Literal["off", "log", "enforce"] = "log"
    account_reference: str = Field(default="MudaWiFi", max_length=12)
    transaction_desc: str = Field(default="WiFi access", max_length=13)
    # STK query after the push when no callback came (seconds after the push).
    query_after_seconds: Annotated[tuple[float, ...], NoDecode] = (30, 60, 120, 300)
    # A paid/failed payment whose follow-ups (provisioning, events) were claimed this long ago
    # and never finished is taken over by the next delivery (the first worker died).
    followup_grace_seconds: float = Field(default=30, ge=0)
    # Payments and raw callbacks are kept this long (TTL clean-up only).
    retention_days: int = Field(default=400, ge=1)

    @field_validator("query_after_seconds", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(v) for v in value.split(",") if v.strip())
        return value

    @property
    def daraja_secret(self) -> str:
        return self.daraja_secret_name or f"muda/{get_settings().stage}/hotspot/daraja"


def hotspot_settings() -> HotspotSettings:
    return domain_settings(HotspotSettings)


def router_secret_name(router_id: str) -> str:
    """Secrets Manager id of a router's API password (the contract with the provisioner)."""
    return f"muda/{get_settings().stage}/hotspot/routers/{router_id}"
