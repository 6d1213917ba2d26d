"""e2e tier: the local stack as ``make run`` starts it (own ports), with windows scaled down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.stack import LocalStack, free_port
from tests.conftest import use_env

# Scaled down: Scheduler beyond 3 s (aimed 2 s early), sweeper every 2 s with 2 s grace.
SCALED = {
    "MUDA_TIMER_SQS_MAX_DELAY": "3",
    "MUDA_TIMER_SCHEDULER_LEAD_SECONDS": "2",
    "MUDA_TIMER_SWEEP_GRACE_SECONDS": "2",
    "MUDA_TIMER_LEASE_SECONDS": "15",  # longer than any handler run here, even in a restart burst
    "MUDA_LOCAL_SCHEDULE_SECONDS": "2",
    "MUDA_CONSULT_INTERVAL_SECONDS": "2",  # consultation billing intervals (AWS: 600)
    "MUDA_ROUTERS_BACKOFF_SECONDS": "1,1,1,1,1",  # provisioning retries (AWS: 5,15,30,60,120)
    "MUDA_ROUTERS_TIMEOUT_SECONDS": "2",
    "MUDA_WAITROOM_GAP_GRACE_SECONDS": "1",  # a burned ticket holds the line this long (AWS: 5)
    "MUDA_LOCAL_DARAJA_DELAY_SECONDS": "0.3",  # the simulated PIN entry (make run: 3 s)
    "MUDA_HOTSPOT_QUERY_AFTER_SECONDS": "2,3,4,6",  # STK query fallback (AWS: 30,60,120,300)
    "POWERTOOLS_METRICS_DISABLED": "true",
}


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Given the local stack (emulator, provisioned template, API, event runtime) on free ports."""
    logs = Path(tmp_path_factory.mktemp("stack-logs"))
    local = LocalStack(free_port(), free_port(), env=SCALED, log_dir=logs)
    # This process talks to the stack too (schedules timers, reads tables): point it there, and
    # give the other tiers their environment back afterwards.
    with (
        use_env({k: v for k, v in local.env.items() if k.startswith(("MUDA_", "AWS_", "POWERTOOLS_"))}),
        local,
    ):
        yield local
