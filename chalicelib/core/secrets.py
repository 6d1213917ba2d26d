"""The one secrets cache: JSON secrets from Secrets Manager through Powertools Parameters.

Every product reads its credentials here (Daraja keys, LiveKit keys, the waiting room's key
ring, router passwords), cached per process for ``max_age`` seconds; a missing or malformed
secret is ``Unavailable`` (a 503 to a client, a retry for a worker), never a crash.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from botocore.exceptions import ClientError

from chalicelib.core.aws import client
from chalicelib.core.errors import Unavailable

_lock = threading.Lock()
_provider: tuple[Any, SecretsProvider] | None = None  # (the client it wraps, the provider)


def _secrets() -> SecretsProvider:
    """The provider over the current Secrets Manager client (rebuilt when tests move the endpoint)."""
    global _provider
    sm = client("secretsmanager")
    with _lock:
        if _provider is None or _provider[0] is not sm:
            _provider = (sm, SecretsProvider(boto3_client=sm))
        return _provider[1]


def read(name: str, max_age: int = 300, *, refresh: bool = False) -> dict[str, Any]:
    """A JSON object secret, cached ``max_age`` seconds; ``refresh`` fetches it now (a rotated key)."""
    try:
        value = _secrets().get(name, max_age=max_age, transform="json", force_fetch=refresh)
    except Exception as error:  # missing, unreadable or not JSON: the feature is not configured
        raise Unavailable(f"secret {name} unavailable: {type(error).__name__}") from None
    if not isinstance(value, dict):
        raise Unavailable(f"secret {name} is not a JSON object")
    return value


def write(name: str, value: dict[str, Any]) -> None:
    """Create or overwrite a JSON secret (admin registration, local key generation)."""
    sm = client("secretsmanager")
    body = json.dumps(value)
    try:
        sm.create_secret(Name=name, SecretString=body)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceExistsException":
            raise
        sm.put_secret_value(SecretId=name, SecretString=body)
    clear()


def clear() -> None:
    """Forget cached values (tests that move the endpoint; after a write)."""
    global _provider
    with _lock:
        _provider = None
