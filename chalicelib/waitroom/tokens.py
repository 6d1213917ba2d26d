"""Checkout tokens: RS256 JWTs with ``kid``, signed by a key ring kept in Secrets Manager.

The secret (``muda/<stage>/waitroom/signing-keys``) holds every key still needed: the active one
signs; retired ones stay published in the JWKS until the last token they signed has expired
(``max_checkout_minutes`` after retirement), so a rotation never breaks a checkout in progress.
Read through the core secrets cache (``key_cache_seconds``; an unknown ``kid`` forces one
refetch, at most once per cooldown). Key generation and JWK export are the core's (``chalicelib.core.auth``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from secrets import token_hex, token_urlsafe
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from chalicelib.core import auth, clock, secrets
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Unauthorized, Unavailable
from chalicelib.waitroom import logic
from chalicelib.waitroom.settings import settings

ALGORITHMS = ["RS256"]
REQUIRED_CLAIMS = ["iss", "aud", "sub", "uid", "iat", "nbf", "exp", "jti"]
_REFRESH_COOLDOWN_SECONDS = 10


def secret_name() -> str:
    return f"muda/{get_settings().stage}/waitroom/signing-keys"


def issuer() -> str:
    return settings().issuer or get_settings().name("waitroom")


@dataclass(frozen=True)
class Ring:
    keys: tuple[dict[str, Any], ...]

    @property
    def active(self) -> dict[str, Any]:
        live = [k for k in self.keys if k.get("retired_at") is None]
        if not live:
            raise Unavailable("no active checkout signing key: run `muda waitroom rotate-key`")
        return live[-1]

    def public(self, kid: str) -> Any | None:
        for key in self.keys:
            if key["kid"] == kid:
                return _loaded(("public", kid), lambda k=key: jwt.PyJWK.from_dict(k["jwk"]).key)
        return None

    def signing_key(self) -> tuple[str, Any]:
        """The active key as a loaded object: parsing a PEM costs far more than a signature."""
        active = self.active
        pem = active["private_key"]
        return active["kid"], _loaded(
            ("private", active["kid"]), lambda: load_pem_private_key(pem.encode(), None)
        )

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k["jwk"] for k in self.keys]}


_parsed: dict[tuple[str, str], Any] = {}  # (private|public, kid) -> key object; kids are unique


def _loaded(name: tuple[str, str], load: Any) -> Any:
    if name not in _parsed:
        _parsed[name] = load()
    return _parsed[name]


class _Keys:
    """The ring, through the core secrets cache (``key_cache_seconds``); an unknown ``kid`` (a
    rotation elsewhere) refetches it, at most once per cooldown, so forged kids cannot hammer
    Secrets Manager."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refreshed = 0.0

    def ring(self, refresh: bool = False) -> Ring:
        value = secrets.read(secret_name(), settings().key_cache_seconds, refresh=refresh)
        return Ring(tuple(value.get("keys", [])))

    def public(self, kid: str) -> Any:
        key = self.ring().public(kid)
        if key is None:
            with self._lock:
                due = time.monotonic() - self._refreshed > _REFRESH_COOLDOWN_SECONDS
                if due:
                    self._refreshed = time.monotonic()
            if due:  # rotated elsewhere: refetch, at most once per cooldown
                key = self.ring(refresh=True).public(kid)
        if key is None:
            raise Unauthorized("checkout token signed by an unknown key", code="invalid_token")
        return key

    def clear(self) -> None:
        with self._lock:
            self._refreshed = 0.0
        secrets.clear()


keys = _Keys()


def sign(claims: dict[str, Any]) -> str:
    kid, key = keys.ring().signing_key()
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def new_jti() -> str:
    return token_urlsafe(16)


def verify(token: str, *, audience: str) -> dict[str, Any]:
    """The claims of a checkout token for ``audience`` (the event), or 401: algorithm pinned,
    signature by a published key, issuer, audience, and time checked on Muda's clock."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthorized("malformed checkout token", code="invalid_token") from None
    if header.get("alg") not in ALGORITHMS:
        raise Unauthorized("checkout token algorithm not accepted", code="invalid_token")
    key = keys.public(str(header.get("kid")))
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=audience,
            issuer=issuer(),
            # Time is checked below on the injectable clock, the same one that set exp.
            options={
                "require": REQUIRED_CLAIMS,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidAudienceError:
        raise Unauthorized("checkout token is for another event", code="invalid_token") from None
    except jwt.PyJWTError as error:
        raise Unauthorized(f"invalid checkout token: {error}", code="invalid_token") from None
    now = clock.now()
    if now >= float(claims["exp"]):
        raise Unauthorized("checkout token expired", code="token_expired")
    if now < float(claims["nbf"]):
        raise Unauthorized("checkout token not valid yet", code="invalid_token")
    return claims


# --- the ring in Secrets Manager (operators, provision hooks, tests) ---------------------------


def _stored() -> list[dict[str, Any]]:
    """The ring as stored now (not the cache): rotation rewrites it."""
    return list(secrets.read(secret_name(), 0, refresh=True).get("keys", []))


def rotate() -> Ring:
    """A new active key; the old one retires but stays published until its tokens have expired.
    Run by one operator at a time (Secrets Manager has no compare-and-set). An unreadable ring
    refuses (``Unavailable``): rotating over it would drop keys live tokens need."""
    return _rotate(_stored())


def _rotate(stored: list[dict[str, Any]]) -> Ring:
    now = clock.now()
    kid = f"wr-{time.strftime('%Y%m%d%H%M%S', time.gmtime(now))}-{token_hex(2)}"
    private_pem, jwks = auth.generate_key_pair(kid)
    old = [{**k, "retired_at": k.get("retired_at") or now} for k in stored]
    kept = logic.retired_keys_to_keep(old, now, settings().max_checkout_minutes * 60)
    new = {
        "kid": kid,
        "private_key": private_pem,
        "jwk": jwks["keys"][0],
        "created_at": now,
        "retired_at": None,
    }
    secrets.write(secret_name(), {"keys": [*kept, new]})
    keys.clear()
    return Ring(tuple([*kept, new]))


def ensure_key() -> Ring:
    """The ring, with a first key generated if there is none (local stack, tests)."""
    try:
        stored = _stored()
    except Unavailable:  # the secret has no value yet (the local stack creates it empty)
        stored = []
    if any(k.get("retired_at") is None for k in stored):
        return Ring(tuple(stored))
    return _rotate(stored)
