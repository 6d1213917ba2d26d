"""JWT auth: RS256 only, keys from a JWKS, ``iss``/``aud``/``exp`` checked, ``exp``/``nbf``/``iat``
numbers; 401 vs 403.

The JWKS comes from a URL (Cognito in dev/prod; PyJWKClient caches it) or an SSM parameter (the
local stage, whose dev key pair is generated on first run; Powertools Parameters caches it).
Algorithms are pinned here, never taken from the token.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jwt
from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.core import clock
from chalicelib.core.aws import client
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Forbidden, Unauthorized, Unavailable

ALGORITHMS = ["RS256"]
ROLES = ("admin", "doctor", "patient", "teacher", "student")
_JWKS_TTL_SECONDS = 300
_REFRESH_COOLDOWN_SECONDS = 30


@dataclass(frozen=True)
class Principal:
    sub: str
    roles: frozenset[str]
    claims: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class _KeyCache:
    """Signing keys by ``kid``: the JWKS is cached for a while, and refetched at once when a
    token names a ``kid`` it does not know (key rotation)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ssm: SSMProvider | None = None
        self._jwk_client: jwt.PyJWKClient | None = None
        self._refreshed = 0.0

    def _jwks(self, refresh: bool) -> jwt.PyJWKSet:
        settings = get_settings()
        if settings.auth_jwks_url:
            if self._jwk_client is None:
                self._jwk_client = jwt.PyJWKClient(settings.auth_jwks_url, lifespan=_JWKS_TTL_SECONDS)
            return self._jwk_client.get_jwk_set(refresh=refresh)
        if settings.auth_jwks_parameter:
            if self._ssm is None:
                self._ssm = SSMProvider(boto3_client=client("ssm"))
            value = self._ssm.get(
                settings.auth_jwks_parameter, max_age=_JWKS_TTL_SECONDS, transform="json", force_fetch=refresh
            )
            return jwt.PyJWKSet.from_dict(value)
        raise Unavailable("token verification is not configured")

    def get(self, kid: str) -> Any:
        with self._lock:
            try:
                keys = {key.key_id: key.key for key in self._jwks(refresh=False).keys}
                # An unknown kid refetches (rotation), at most once per cooldown: forged kids
                # must not turn every request into a JWKS fetch.
                if kid not in keys and time.monotonic() - self._refreshed > _REFRESH_COOLDOWN_SECONDS:
                    self._refreshed = time.monotonic()
                    keys = {key.key_id: key.key for key in self._jwks(refresh=True).keys}
                if kid in keys:
                    return keys[kid]
            except (jwt.PyJWKClientError, ClientError, GetParameterError) as error:
                raise Unavailable(f"token keys unavailable: {type(error).__name__}") from None
            raise Unauthorized("token signed by an unknown key")

    def clear(self) -> None:
        with self._lock:
            self._ssm = None
            self._jwk_client = None
            self._refreshed = 0.0


keys = _KeyCache()


def verify(token: str) -> Principal:
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.PyJWTError, RecursionError):  # a header nested thousands deep is not a header
        raise Unauthorized("malformed token") from None
    if header.get("alg") not in ALGORITHMS:
        raise Unauthorized("token algorithm not accepted")
    key = keys.get(str(header.get("kid")))
    settings = get_settings()
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=settings.auth_audience,
            issuer=settings.auth_issuer,
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired", code="token_expired") from None
    except jwt.PyJWTError as error:
        raise Unauthorized(f"invalid token: {error}") from None
    except (ValueError, TypeError, OverflowError, RecursionError):  # e.g. "exp": Infinity
        raise Unauthorized("invalid token: its claims are not what a token holds") from None
    _numeric_times(claims)
    roles = claims.get("roles", claims.get("cognito:groups", []))
    if isinstance(roles, str):
        roles = roles.split()
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Unauthorized("invalid token: roles must be a list of names")
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise Unauthorized("invalid token: sub must be a non-empty string")
    return Principal(sub=claims["sub"], roles=frozenset(roles), claims=claims)


def _numeric_times(claims: dict[str, Any]) -> None:
    """``exp``/``nbf``/``iat`` are NumericDates (RFC 7519): numbers. PyJWT turns ``"exp": "9999999999"``
    into an int and accepts it; a token that says its times in text was not made by our issuer."""
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise Unauthorized(f"invalid token: {name} must be a number")


def authenticate(authorization: str | None, roles: Iterable[str] | None = None) -> Principal:
    """The caller behind an ``Authorization: Bearer`` header, holding one of ``roles`` if given."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token")
    principal = verify(token.strip())
    allowed = set(roles or ())
    if allowed and not principal.roles & allowed:
        raise Forbidden(f"requires role: {' or '.join(sorted(allowed))}")
    return principal


# --- dev keys and tokens (local stage, tests) -------------------------------------------------


def generate_key_pair(kid: str) -> tuple[str, dict[str, Any]]:
    """A fresh RSA 2048 key: (private PEM, public JWKS)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return pem, {"keys": [jwk]}


def mint(private_pem: str, kid: str, sub: str, roles: Iterable[str], ttl_seconds: int = 12 * 3600) -> str:
    settings = get_settings()
    now = int(clock.now())
    claims = {
        "sub": sub,
        "roles": sorted(roles),
        "iss": settings.auth_issuer,
        "aud": settings.auth_audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, private_pem, algorithm="RS256", headers={"kid": kid})


def dev_token(sub: str, roles: Iterable[str], ttl_seconds: int = 12 * 3600) -> str:
    """A token signed with the local stage's dev key (from Secrets Manager); refused elsewhere."""
    settings = get_settings()
    if settings.stage != "local":
        raise PermissionError(f"dev tokens exist only in the local stage (stage: {settings.stage})")
    secret = json.loads(
        client("secretsmanager").get_secret_value(SecretId=settings.signing_key_secret)["SecretString"]
    )
    return mint(secret["private_key"], secret["kid"], sub, roles, ttl_seconds)
