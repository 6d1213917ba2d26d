"""Every test starts in the ``test`` stage with no endpoint: in-process moto or nothing.

Tiers that need a live endpoint (contract: DynamoDB Local; e2e: the local stack) point the
settings at it with ``use_env`` and restore them afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

BASE_ENV = {
    "MUDA_STAGE": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "MUDA_AUTH_ISSUER": "muda-test",
    "MUDA_AUTH_JWKS_PARAMETER": "/muda/test/auth/jwks",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LOCALSTACK_HOST"):
    os.environ.pop(name, None)
os.environ.update(BASE_ENV)


def reload_settings() -> None:
    from chalicelib.core import auth, aws, config, db

    config.reset_settings()
    aws.reset_caches()
    db.rebind()
    auth.keys.clear()


@contextmanager
def use_env(env: dict[str, str]) -> Iterator[None]:
    """Point settings, clients and models at another environment for the duration."""
    saved = dict(os.environ)
    os.environ.update(env)
    reload_settings()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reload_settings()


@pytest.fixture
def clock():
    """A frozen clock the test moves by hand."""
    from chalicelib.core import clock as core_clock

    frozen = core_clock.FrozenClock()
    core_clock.set_clock(frozen)
    yield frozen
    core_clock.set_clock(None)
