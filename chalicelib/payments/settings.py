"""The payments domain's knobs (env prefix ``MUDA_PAYMENTS_``).

The Daraja and callback settings were the hotspot's before payments became a domain of their
own; their ``MUDA_HOTSPOT_…`` names are still read (a deployed stage keeps working), the
``MUDA_PAYMENTS_…`` name wins when both are set. The Daraja secret keeps its deployed name.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chalicelib.core.config import domain_settings, get_settings


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"MUDA_PAYMENTS_{name}", f"MUDA_HOTSPOT_{name}")


class PaymentsSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MUDA_PAYMENTS_", extra="ignore", frozen=True, populate_by_name=True
    )

    # Daraja: where it is and whose shortcode. Keys, passkey and the callback path token live in
    # Secrets Manager (``daraja_secret``, JSON), never in the environment.
    daraja_base_url: str = Field(
        default="https://sandbox.safaricom.co.ke", validation_alias=_env("DARAJA_BASE_URL")
    )
    daraja_shortcode: str = Field(default="174379", validation_alias=_env("DARAJA_SHORTCODE"))
    daraja_transaction_type: Literal["CustomerPayBillOnline", "CustomerBuyGoodsOnline"] = Field(
        default="CustomerPayBillOnline", validation_alias=_env("DARAJA_TRANSACTION_TYPE")
    )
    daraja_party_b: str | None = Field(default=None, validation_alias=_env("DARAJA_PARTY_B"))
    daraja_secret_name: str | None = Field(default=None, validation_alias=_env("DARAJA_SECRET_NAME"))
    daraja_timeout_seconds: float = Field(default=10.0, gt=0, validation_alias=_env("DARAJA_TIMEOUT_SECONDS"))
    daraja_token_refresh_margin_seconds: float = Field(
        default=60.0, ge=0, validation_alias=_env("DARAJA_TOKEN_REFRESH_MARGIN_SECONDS")
    )
    secrets_max_age_seconds: int = Field(default=300, ge=0, validation_alias=_env("SECRETS_MAX_AGE_SECONDS"))
    # The API's public base URL, which Safaricom calls back (API Gateway stage URL in AWS).
    callback_base_url: str = Field(
        default="http://127.0.0.1:8000", validation_alias=_env("CALLBACK_BASE_URL")
    )
    # Safaricom's published callback IPs: off, log (log-only), enforce (refuse others).
    callback_ip_check: Literal["off", "log", "enforce"] = Field(
        default="log", validation_alias=_env("CALLBACK_IP_CHECK")
    )
    # STK query of a push with no callback yet, this long after the push (one periodic query of
    # the pending payments, no timer per payment); after the last one it is given up (no_result).
    query_after_seconds: Annotated[tuple[float, ...], NoDecode] = Field(
        default=(30, 60, 120, 300), validation_alias=_env("QUERY_AFTER_SECONDS")
    )
    # Partitions of the pending-payments index the periodic query reads (one Query each per round).
    query_shards: int = Field(default=1, ge=1, le=16)
    # A paid payment whose follow-ups were claimed this long ago and never finished is taken over
    # by the next delivery (the first worker died).
    followup_grace_seconds: float = Field(default=30, ge=0, validation_alias=_env("FOLLOWUP_GRACE_SECONDS"))
    # B2C payouts: the initiator (its security credential is in the Daraja secret) and how long a
    # payout may go without a result before the Transaction Status API is asked (then again).
    b2c_initiator: str = "muda-payouts"
    b2c_status_after_seconds: float = Field(default=120, gt=0)
    # Payments and raw callbacks are kept this long (TTL clean-up only).
    retention_days: int = Field(default=400, ge=1, validation_alias=_env("RETENTION_DAYS"))

    @field_validator("query_after_seconds", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(v) for v in value.split(",") if v.strip())
        return value

    @property
    def daraja_secret(self) -> str:
        return self.daraja_secret_name or f"muda/{get_settings().stage}/hotspot/daraja"

    @property
    def callback_url(self) -> str:
        """Where Safaricom posts STK results, without the secret path token."""
        return f"{self.callback_base_url.rstrip('/')}/mpesa/callback"


def payments_settings() -> PaymentsSettings:
    return domain_settings(PaymentsSettings)
