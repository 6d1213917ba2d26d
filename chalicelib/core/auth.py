"""JWT auth: RS256 only, keys from a JWKS, ``iss``/``aud``/``exp`` checked; 401 vs 403.

The JWKS comes from a URL (Cognito in dev/prod) or an SSM parameter (the local stage, whose dev
key pair is generated on first run). Algorithms are pinned here, never taken from the token.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.core import clock
from chalicelib.core.aws import client
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Forbidden, Unauthorized

ALGORITHMS = ["RS256"]
ROLES = ("admin", "doctor", "patient", "teacher", "student")
_JWKS_TTL_SECONDS = 300


@dataclass(frozen=True)
class Principal:
    sub: str
    roles: frozenset[str]
    claims: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


class _KeyCache:
    """The JWKS, refetched after a TTL or once when a token names an unknown ``kid``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._fetched = 0.0

    def _fetch(self) -> None:
        settings = get_settings()
        if settings.auth_jwks_url:
            jwks = jwt.PyJWKClient(settings.auth_jwks_url).get_jwk_set()
        elif settings.auth_jwks_parameter:
            value = client("ssm").get_parameter(Name=settings.auth_jwks_parameter)["Parameter"]["Value"]
            jwks = jwt.PyJWKSet.from_dict(json.loads(value))
        else:
            raise Unauthorized("token verification is not configured")
        self._keys = {key.key_id: key.key for key in jwks.keys if key.key_id}
        self._fetched = time.monotonic()

    def get(self, kid: str) -> Any:
        with self._lock:
            stale = time.monotonic() - self._fetched > _JWKS_TTL_SECONDS
            if stale or kid not in self._keys:
                self._fetch()
            try:
                return self._keys[kid]
            except KeyError:
                raise Unauthorized("token signed by an unknown key") from None

    def clear(self) -> None:
        with self._lock:
            self._keys, self._fetched = {}, 0.0


keys = _KeyCache()


def verify(token: str) -> Principal:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
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
    roles = claims.get("roles", claims.get("cognito:groups", []))
    if isinstance(roles, str):
        roles = roles.split()
    return Principal(sub=str(claims["sub"]), roles=frozenset(roles), claims=claims)


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
