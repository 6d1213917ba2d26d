"""The checkout key ring through the core secrets cache: a rotation made by another process is
picked up on the first token it signed (one refetch), and unknown kids cannot hammer Secrets
Manager (one refetch per cooldown)."""

from __future__ import annotations

import json

import jwt
import pytest

from chalicelib.core import auth, clock
from chalicelib.core.aws import client
from chalicelib.core.errors import Unauthorized
from chalicelib.waitroom import logic, tokens
from tests.integration.waitroom.test_admission_writes import counted
from tests.support.ids import unique


def signed(private_pem: str, kid: str, audience: str) -> str:
    claims = logic.checkout_claims(
        issuer=tokens.issuer(),
        event_id=audience,
        session=f"{audience}.n1",
        user_id="u1",
        lane="n",
        ticket=1,
        admitted_at=clock.now(),
        checkout_seconds=600,
        jti=tokens.new_jti(),
    )
    return jwt.encode(claims, private_pem, algorithm="RS256", headers={"kid": kid})


def test_a_key_rotated_elsewhere_is_fetched_once_and_unknown_kids_wait_for_the_cooldown(
    ring: tokens.Ring,
) -> None:
    """Given this process's cached ring, and a rotation written by another process
    When a token signed by the new key is verified
    Then the ring is refetched once and the token verifies
    And a token with a kid nobody published is refused without another fetch (cooldown)."""
    tokens.keys.ring()  # cached here
    kid = unique("wr-elsewhere")
    private_pem, jwks = auth.generate_key_pair(kid)
    rotated = [{**k, "retired_at": k.get("retired_at") or clock.now()} for k in ring.keys]
    rotated.append({"kid": kid, "private_key": private_pem, "jwk": jwks["keys"][0], "retired_at": None})
    client("secretsmanager").put_secret_value(
        SecretId=tokens.secret_name(), SecretString=json.dumps({"keys": rotated})
    )
    audience = unique("sale")

    with counted() as calls:
        claims = tokens.verify(signed(private_pem, kid, audience), audience=audience)
    assert claims["aud"] == audience and calls["secretsmanager:GetSecretValue"] == 1

    forged_pem, _ = auth.generate_key_pair("forged")
    with counted() as calls, pytest.raises(Unauthorized):
        tokens.verify(signed(forged_pem, "forged", audience), audience=audience)
    assert calls["secretsmanager:GetSecretValue"] == 0
