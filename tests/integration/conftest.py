"""Integration tier: handlers and services on in-process moto, the stack made from the template.

The stack is deployed once for the whole tier (``aws``, package scope) with one signing key;
tests keep apart by their own ids (``tests.support.ids.unique``), never by resetting the world.
moto's SQS tells time by the app's clock, and ``due`` runs what the frozen clock makes due
through the app's handlers (``tests.support.due.DueWork``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.core import auth, timers
from chalicelib.core import clock as core_clock
from tests.support.due import DueWork
from tests.support.stack import KID, Stack

__all__ = ["KID", "bearer"]


@pytest.fixture(scope="package")
def aws() -> Iterator[Stack]:
    """Given the stage's resources, created from infra/template.yaml on in-process moto (once)."""
    with Stack.up() as stack:
        yield stack


@pytest.fixture(scope="package")
def signing_key(aws: Stack) -> str:
    """Given a token signing key whose public JWKS is where the API reads it (SSM)."""
    return aws.signing_key


@pytest.fixture(scope="package")
def token(signing_key: str) -> Callable[..., str]:
    def make(sub: str = "user-1", *roles: str, ttl: int = 3600) -> str:
        return auth.mint(signing_key, KID, sub, roles or ("patient",), ttl)

    return make


@pytest.fixture(scope="package")
def api(aws: Stack) -> Iterator[Client]:
    from app import app

    with Client(app) as test_client:
        yield test_client


@pytest.fixture
def fresh_stack(aws: Stack) -> Stack:
    """Given an empty world: moto reset and the template deployed again (~0.5 s). Only for tests
    written around fixed ids or whole-table counts; new tests use their own ids instead."""
    aws.fresh()
    return aws


@pytest.fixture
def due(clock: core_clock.FrozenClock) -> DueWork:
    """Given the due-work runner on this test's frozen clock, on the queues whose handlers need
    nothing outside moto (timers, domain events, notifications); build a ``DueWork`` for others."""
    return DueWork(clock, queues=("timers", "events", "notifications"))


@pytest.fixture(autouse=True)
def _own_timers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts with cold in-process caches, as a new Lambda container would (the JWKS
    cache refetches at most every few seconds of wall time), and the timers it leaves pending
    are cancelled after it, so a later test's clock (the stack is shared) never fires them and
    no sweep counts them."""
    auth.keys.clear()
    yield
    if "aws" not in request.fixturenames:
        return
    for item in list(timers.pending()):
        if item.state == timers.PENDING:
            timers.cancel(item.kind, item.key)


def bearer(value: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {value}"}
