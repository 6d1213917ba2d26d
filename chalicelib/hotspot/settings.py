"""The hotspot domain's own knobs (env prefix ``MUDA_HOTSPOT_``).

Daraja, the callback and the STK query cadence are the payments domain's
(``chalicelib/payments/settings.py``, which still reads their ``MUDA_HOTSPOT_…`` names).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from chalicelib.core.config import domain_settings, get_settings


class HotspotSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MUDA_HOTSPOT_", extra="ignore", frozen=True)

    # What the buyer's M-Pesa statement says (Daraja AccountReference ≤ 12, TransactionDesc ≤ 13).
    account_reference: str = Field(default="MudaWiFi", max_length=12)
    transaction_desc: str = Field(default="WiFi access", max_length=13)
    # A deprovision claimed this long ago and never sent is taken over by the next run (the
    # first worker died).
    followup_grace_seconds: float = Field(default=30, ge=0)
    # The portal's guessable steps (a voucher code, a receipt + phone, a Paybill claim by phone),
    # limited per device MAC and per source address in fixed windows; past them a 429 with
    # Retry-After. Per address is generous: a hotspot's buyers reach Muda from one public IP.
    attempts_per_mac: int = Field(default=5, ge=1)
    attempts_per_ip: int = Field(default=60, ge=1)
    attempts_window_seconds: float = Field(default=600, gt=0)
    # Paying from the M-Pesa menu at the portal: ``paybill`` (the portal shows the business
    # number and each package's account number), ``till`` (Buy Goods: the till number only; the
    # amount picks the package when the buyer claims the payment), ``off`` (no such step). The
    # number defaults to the Daraja shortcode (``MUDA_PAYMENTS_DARAJA_SHORTCODE``, where C2B
    # validation and confirmation arrive); a till's number differs from its store's shortcode.
    paybill_kind: Literal["paybill", "till", "off"] = "paybill"
    paybill_number: str | None = Field(default=None, max_length=12)
    # How old a Paybill/Till payment "I paid" still finds by phone.
    claim_window_seconds: float = Field(default=86400, gt=0)
    # A voucher redemption, Paybill claim or reconnect whose provisioning command the provisioner
    # has not seen (the process died between its commit and the send) is sent again this long
    # after the write, by the ``hotspot.provision_check`` timer written in the same transaction.
    provision_check_seconds: float = Field(default=60, gt=0)


def hotspot_settings() -> HotspotSettings:
    return domain_settings(HotspotSettings)


def router_secret_name(router_id: str) -> str:
    """Secrets Manager id of a router's API password (the contract with the provisioner)."""
    return f"muda/{get_settings().stage}/hotspot/routers/{router_id}"
