"""Integration tier: handlers and services on in-process moto, the stack made from the template."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.core import auth
from chalicelib.core.aws import client
from chalicelib.core.config import get_settings
from tests.conftest import reload_settings

KID = "test-key-1"


@pytest.fixture
def aws() -> Iterator[None]:
    """Given the stage's resources, created from infra/template.yaml on in-process moto."""
    with mock_aws():
        reload_settings()
        from infra.local import provision

        provision.deploy_stack()
        yield
    reload_settings()


@pytest.fixture
def signing_key(aws: None) -> str:
    """Given a token signing key whose public JWKS is where the API reads it (SSM)."""
    private_pem, jwks = auth.generate_key_pair(KID)
    client("ssm").put_parameter(
        Name=get_settings().auth_jwks_parameter, Value=json.dumps(jwks), Type="String", Overwrite=True
    )
    auth.keys.clear()
    return private_pem


@pytest.fixture
def token(signing_key: str) -> Callable[..., str]:
    def make(sub: str = "user-1", *roles: str, ttl: int = 3600) -> str:
        return auth.mint(signing_key, KID, sub, roles or ("patient",), ttl)

    return make


@pytest.fixture
def api(aws: None) -> Iterator[Client]:
    from app import app

    with Client(app) as test_client:
        yield test_client


def bearer(value: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {value}"}
