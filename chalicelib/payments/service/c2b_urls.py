"""The shortcode's C2B URLs, registered with Daraja (by ``muda payments register-c2b`` at deploy,
and by the local stack when it starts)."""

from __future__ import annotations

from chalicelib.payments import daraja
from chalicelib.payments.settings import payments_settings


def urls() -> tuple[str, str]:
    """(validation, confirmation), each behind the callback path secret."""
    base = payments_settings().callback_base_url.rstrip("/")
    token = daraja.callback_token()
    return f"{base}/mpesa/c2b/validation/{token}", f"{base}/mpesa/c2b/confirmation/{token}"


def register(response_type: str = "Cancelled") -> str:
    validation, confirmation = urls()
    return daraja.client().register_c2b(
        confirmation_url=confirmation, validation_url=validation, response_type=response_type
    )
