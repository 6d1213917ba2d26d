"""Every ``bench/*.py`` at its ``--smoke`` size, so a refactor that breaks a bench fails
``make test`` instead of the next ``make bench``.

Each bench runs as ``make bench`` runs it (``python -m bench.<name>``, its own local stack, a
shell's environment), a few at a time so their waits overlap. The tests check that it completes
and reports what a bench must report (when, under what load, its figures), never a figure's value:
timings are measured in ``bench/``, not asserted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # each bench runs its own local stack

ROOT = Path(__file__).resolve().parents[2]
# Every bench script: a new one is covered the day it lands (``make bench`` globs the same way).
BENCHES = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if p.stem not in ("__init__", "common"))
PARALLEL = 2  # they wait on due timers, but their runtimes poll: more only queues on two cores
# moto's DynamoDB starts in a second where DynamoDB Local's JVM takes 5-15 s of CPU per stack; the
# benches' code path is the same on both. One bench keeps the stack's default engine, so that
# path is smoked too.
DEFAULT_ENGINE = "routers"
# Started first (slowest smoke runs, measured), so the short ones fill in beside them.
SLOWEST = ("payments", "hotspot", "radius", "consult", "classes", "waitroom", "timers")
TIMEOUT = 240  # a wedged bench fails here rather than hanging the suite (pytest-timeout: 300 s)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def tail(self) -> str:
        return f"--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"


def shell_env() -> dict[str, str]:
    """The environment of a shell running ``make bench``: none of the test stage's settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("MUDA_", "AWS_", "POWERTOOLS_"))}


def smoke_argv(name: str) -> list[str]:
    engine = [] if name == DEFAULT_ENGINE else ["--dynamodb", "moto"]
    return [sys.executable, "-m", f"bench.{name}", "--smoke", *engine]


def run_smoke(name: str) -> Run:
    try:
        done = subprocess.run(
            smoke_argv(name),
            cwd=ROOT,
            env=shell_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as timeout:
        out, err = (s.decode() if isinstance(s, bytes) else s or "" for s in (timeout.stdout, timeout.stderr))
        return Run(-1, out, f"{err}\ntimed out after {TIMEOUT} s")
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def smoke_runs(request: pytest.FixtureRequest) -> Iterator[dict[str, Future[Run]]]:
    """Start the selected benches' smoke runs together (``PARALLEL`` at a time); each test waits
    for its own."""
    here = Path(str(request.module.__file__))
    selected = {
        item.callspec.params["name"]
        for item in request.session.items
        if Path(str(item.fspath)) == here and hasattr(item, "callspec") and "name" in item.callspec.params
    }
    with ThreadPoolExecutor(PARALLEL) as pool:
        order = sorted(selected, key=lambda n: (SLOWEST.index(n) if n in SLOWEST else len(SLOWEST), n))
        yield {name: pool.submit(run_smoke, name) for name in order}


def test_every_bench_is_found() -> None:
    # Given the bench directory / Then the smoke tests cover its scripts (an empty glob would pass)
    must = {"timers", "consult", "hotspot", "radius", "waitroom", "waitroom_joins", DEFAULT_ENGINE}
    assert must <= set(BENCHES)


@pytest.mark.parametrize("name", BENCHES)
def test_bench_completes_at_smoke_size_and_reports(name: str, smoke_runs: dict[str, Future[Run]]) -> None:
    # Given the bench at its smoke size / When it runs as `make bench` runs it
    run = smoke_runs[name].result()

    # Then it exits cleanly
    assert run.returncode == 0, run.tail()
    lines = run.stdout.splitlines()
    # And it says when and under what load it ran, before and after
    assert any(
        re.fullmatch(rf"bench {name}: .+ UTC, \d+ cores, load [\d. ]+ \(1/5/15 min\), smoke size.*", line)
        for line in lines
    ), run.tail()
    assert any(
        re.fullmatch(rf"bench {name} done in \d+ s: load at end [\d. ]+ .*", line) for line in lines
    ), run.tail()
    # And it prints its figures (their values are the bench's business, not the test's)
    figures = [line for line in lines if re.fullmatch(r"figure .+?: .+", line)]
    assert figures, run.tail()
    assert not [f for f in figures if "no samples" in f], run.tail()
