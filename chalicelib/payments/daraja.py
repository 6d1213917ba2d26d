"""The Daraja client and callback path token of the payments domain, from its settings and secret.

Keys, passkey and the callback token live in one JSON secret (``daraja_secret``), read through
the core secrets cache; one client (and its OAuth token cache) per configuration, per process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from chalicelib.core import secrets
from chalicelib.integrations.mpesa import DarajaClient, DarajaConfig
from chalicelib.payments.settings import payments_settings


def _secret() -> dict[str, Any]:
    s = payments_settings()
    return secrets.read(s.daraja_secret, max_age=s.secrets_max_age_seconds)


def client() -> DarajaClient:
    s = payments_settings()
    secret = _secret()
    return _client(
        DarajaConfig(
            base_url=s.daraja_base_url,
            shortcode=s.daraja_shortcode,
            passkey=secret["passkey"],
            consumer_key=secret["consumer_key"],
            consumer_secret=secret["consumer_secret"],
            transaction_type=s.daraja_transaction_type,
            party_b=s.daraja_party_b,
            timeout=s.daraja_timeout_seconds,
            refresh_margin=s.daraja_token_refresh_margin_seconds,
        )
    )


@lru_cache(maxsize=4)
def _client(config: DarajaConfig) -> DarajaClient:
    return DarajaClient(config)


def callback_token() -> str:
    """The secret path segment Safaricom calls back on (``/mpesa/callback/<token>``)."""
    return str(_secret()["callback_token"])


def security_credential() -> str:
    """The B2C initiator's encrypted password (``security_credential`` in the secret)."""
    return str(_secret().get("security_credential") or "")


def reset() -> None:
    """Forget cached secrets and clients (tests that move the endpoint or rotate keys)."""
    secrets.clear()
    _client.cache_clear()
