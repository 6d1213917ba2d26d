"""e2e tier: the local stack as ``make run`` starts it (own ports, tables in memory on DynamoDB
Local, supervised processes), with windows scaled down; tests talk to it over HTTP.

The tier keeps one smoke walk per product, the crash and supervision tests, and the two bursts
only a real HTTP server can show (20 racing bookings, 50 identical callbacks). Races with more
clients live in the contract tier. No test asserts lateness (bench/ measures it), except the
one bound the README states: a lost timer message fires within the sweeper's grace + interval.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from chalicelib.core.auth import dev_token
from infra.local.stack import LocalStack, free_port
from tests.conftest import use_env

# Scaled down. Timers: Scheduler beyond 3 s (aimed 2 s early); the sweeper runs every 2 s (the
# local runtime's "minute") in two rounds 1 s apart, re-sending timers unclaimed 2 s after due.
SCALED = {
    "MUDA_TIMER_SQS_MAX_DELAY": "3",
    "MUDA_TIMER_SCHEDULER_LEAD_SECONDS": "2",
    "MUDA_TIMER_SWEEP_GRACE_SECONDS": "2",
    "MUDA_TIMER_SWEEP_INTERVAL_SECONDS": "1",
    "MUDA_LOCAL_SCHEDULE_SECONDS": "2",
    "MUDA_TIMER_LEASE_SECONDS": "15",  # longer than any handler run here, even in a restart burst
    "MUDA_HEALTH_BEAT_SECONDS": "1",
    "MUDA_HEALTH_RUNTIME_STALE_SECONDS": "5",
    "MUDA_HEALTH_SWEEPER_STALE_SECONDS": "30",
    "MUDA_HEALTH_QUEUE_STALE_SECONDS": "60",
    "MUDA_CONSULT_INTERVAL_SECONDS": "2",  # consultation billing intervals (AWS: 600)
    "MUDA_ROUTERS_BACKOFF_SECONDS": "1,1,1,1,1",  # provisioning retries (AWS: 5,15,30,60,120)
    "MUDA_ROUTERS_TIMEOUT_SECONDS": "2",
    "MUDA_WAITROOM_GAP_GRACE_SECONDS": "1",  # a burned ticket holds the line this long (AWS: 5)
    "MUDA_WAITROOM_MIN_POLL_SECONDS": "0.5",  # the waiting page's next in line poll this often (AWS: 2)
    "MUDA_LOCAL_DARAJA_DELAY_SECONDS": "0.3",  # the simulated PIN entry (make run: 3 s)
    # STK query of pushes with no result (AWS: 30,60,120,300); after the burst test sends its own
    # callbacks even on a loaded machine
    "MUDA_PAYMENTS_QUERY_AFTER_SECONDS": "10,12,14,16",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "MUDA_RADIUS_REJECT_DELAY": "0",  # FreeRADIUS holds an Access-Reject this long (AWS: 1)
    "MUDA_ROUTERS_RADIUS_TIMEOUT_SECONDS": "1",  # per Disconnect-Request send (AWS: 2)
    # Every e2e test reaches the API from 127.0.0.1: the portal's per-address limit (AWS: 60 per
    # 10 min) would couple them; the per-device limit (5) stays, and a test proves it.
    "MUDA_HOTSPOT_ATTEMPTS_PER_IP": "10000",
}
# Waits are generous: a 2-core machine shared with other suites can be slow; they only bound a
# failure's detection, never a figure.
WAIT = 90.0


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Given the local stack (DynamoDB Local, moto_server, provisioned template, simulators, API,
    event runtime, supervisor) on free ports."""
    state = Path(tmp_path_factory.mktemp("stack"))
    local = LocalStack(free_port(), free_port(), env=SCALED, state_dir=state)
    # This process talks to the stack too (schedules timers, reads tables): point it there, and
    # give the other tiers their environment back afterwards.
    with (
        use_env({k: v for k, v in local.env.items() if k.startswith(("MUDA_", "AWS_", "POWERTOOLS_"))}),
        local,
    ):
        yield local


class Http:
    """A client of the stack's API as one user (``sub`` with ``roles``), or anonymous."""

    def __init__(self, stack: LocalStack, sub: str | None = None, *roles: str, pool: int = 20) -> None:
        self.url, self.sub = stack.api_url, sub
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=pool))
        if sub:
            self.session.headers["Authorization"] = f"Bearer {dev_token(sub, list(roles))}"

    def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        response = self.session.request(method, f"{self.url}{path}", json=body, timeout=60)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text


@pytest.fixture(scope="package")
def admin(stack: LocalStack) -> Http:
    return Http(stack, "admin-1", "admin")


# --- one headless Chromium for every browser test (the portal, the console, the waiting page) ------

CHROMIUM = os.environ.get("MUDA_CHROMIUM", "/usr/bin/chromium")
# No background networking: this machine's closed network refuses Chromium's own connections.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-renderer-backgrounding",  # 20 pages poll side by side: none may be throttled
    "--disable-background-timer-throttling",
    "--renderer-process-limit=4",  # 20 contexts share a few renderers: faster to open on 2 cores
]
ARTIFACTS = Path(__file__).resolve().parents[2] / ".cache" / "test-artifacts"


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Given Debian's Chromium driven by Playwright (launched once for the tier)."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield chromium
        chromium.close()
