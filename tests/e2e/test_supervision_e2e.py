"""The stack supervises its processes: a killed runtime is restarted and nothing is lost or billed
twice; /health is degraded while the runtime is down; the death of the AWS endpoint stops the
stack non-zero; a second stack on the same ports is refused at once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from infra.local.stack import ROOT, LocalStack, free_port
from tests.e2e.conftest import WAIT, Http
from tests.support.ids import unique
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e
INTERVAL = 2.0  # MUDA_CONSULT_INTERVAL_SECONDS in the scaled settings


def health(stack: LocalStack) -> tuple[int, dict]:
    response = requests.get(f"{stack.api_url}/health", timeout=30)
    return response.status_code, response.json()


def test_runtime_killed_is_restarted_nothing_lost_ticks_billed_once(stack: LocalStack, admin: Http) -> None:
    """Given a consultation with 4 credits billing every 2 s, when the runtime is SIGKILLed after
    the first tick, the stack restarts it; the session still bills intervals 1-4, each once, and
    auto-ends; the patient has 0 left and the doctor earned 4."""
    patient, doctor = Http(stack, unique("pat"), "patient"), Http(stack, unique("doc"), "doctor")
    assert admin("POST", "/admin/consult/doctors", {"doctor_id": doctor.sub, "name": "Dr Who"})[0] == 201
    top_up = {"patient_id": patient.sub, "kind": "text", "credits": 4, "reference": unique("top")}
    assert admin("POST", "/admin/consult/top-ups", top_up)[0] == 201
    status, session = patient("POST", "/text-sessions", {"doctor_id": doctor.sub})
    assert status == 201, session
    assert doctor("POST", f"/text-sessions/{session['id']}/messages", {"body": "Hello"})[0] == 201
    path = f"/text-sessions/{session['id']}"
    eventually(lambda: patient("GET", path)[1]["intervals_billed"] >= 1, WAIT, 0.2, "first tick billed")

    old = stack.kill("runtime")
    stack.wait_restarted("runtime", old)

    ended = eventually(lambda: (s := patient("GET", path)[1])["status"] == "ended" and s, WAIT, 0.3, "ended")
    assert (ended["ended_reason"], ended["intervals_billed"]) == ("credits_exhausted", 4)
    ledger = patient("GET", f"{path}/ledger")[1]
    debits = sorted(int(e["interval"]) for e in ledger["entries"] if e["entry"] == "debit")
    assert debits == [1, 2, 3, 4]
    assert patient("GET", "/me/consult/subscription")[1]["text_sessions_remaining"] == 0
    assert doctor("GET", "/me/consult/wallet")[1]["credits_earned"] == 4


def test_health_is_degraded_while_the_runtime_is_down(stack: LocalStack) -> None:
    """Given the stack healthy, when the runtime dies and stays down, /health answers 503
    degraded naming the runtime's heartbeat stale; once it is back, 200 ok again."""
    eventually(lambda: health(stack)[0] == 200, WAIT, 0.5, "healthy to begin with")
    with stack.hold("runtime"):
        stack.kill("runtime")
        _, body = eventually(lambda: (h := health(stack))[0] == 503 and h, WAIT, 0.5, "degraded")
        assert body["status"] == "degraded" and body["checks"]["heartbeat:runtime"] == "stale"
        beat = body["heartbeats"]["runtime"]
        assert beat["age_seconds"] > beat["stale_after_seconds"]

    _, body = eventually(lambda: (h := health(stack))[0] == 200 and h, WAIT, 0.5, "ok again")
    assert body["status"] == "ok" and body["heartbeats"]["runtime"]["status"] == "alive"
    assert body["heartbeats"]["sweeper"]["status"] == "alive"
    assert {q["source"] for q in body["queues"].values()} == {"emulator"}


# --- a stack as `make run` runs it (`python -m infra.local.stack`), in its own process -------------


@dataclass
class StackProcess:
    proc: subprocess.Popen[str]
    argv: list[str]
    state: Path
    env: dict[str, str]
    output: list[str] = field(default_factory=list)

    def read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def text(self) -> str:
        return "".join(self.output)


def clean_env() -> dict[str, str]:
    """This process's environment without the e2e stack's endpoints and settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("MUDA_", "AWS_", "POWERTOOLS_"))}


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """Given a second stack started as `make run` starts it (no demo data), on its own ports."""
    state = Path(tmp_path_factory.mktemp("make-run"))
    argv = [
        sys.executable,
        "-m",
        "infra.local.stack",
        "--emulator-port",
        str(free_port()),
        "--api-port",
        str(free_port()),
        "--dynamodb-port",
        str(free_port()),
        "--state-dir",
        str(state),
    ]
    env = clean_env()
    proc = subprocess.Popen(
        [*argv, "--no-seed"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    running = StackProcess(proc, argv, state, env)
    threading.Thread(target=running.read, daemon=True).start()
    try:
        up = "Ctrl+C stops everything"
        eventually(lambda: up in running.text() or proc.poll() is not None, 180, 0.5, "stack up")
        assert proc.poll() is None, running.text()
        yield running
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)


def test_a_second_stack_on_the_same_ports_is_refused_at_once(make_run: StackProcess) -> None:
    """Given a running stack, a second one with its ports and state is refused, non-zero, naming
    the ports in use, before starting anything."""
    second = subprocess.run(
        make_run.argv, cwd=ROOT, env=make_run.env, capture_output=True, text=True, timeout=120
    )

    assert second.returncode == 2
    assert "refused" in second.stderr and "ports in use" in second.stderr
    for flag in ("--emulator-port", "--api-port", "--dynamodb-port"):
        assert make_run.argv[make_run.argv.index(flag) + 1] in second.stderr
    assert "stack is up" not in second.stdout


def test_the_endpoints_death_stops_the_stack_non_zero(make_run: StackProcess) -> None:
    """Given a running stack, when moto_server is SIGKILLed, the stack stops every process and
    exits non-zero, saying why."""
    pid = int((make_run.state / "run" / "emulator.pid").read_text())
    os.kill(pid, 9)

    code = make_run.proc.wait(timeout=WAIT)

    assert code != 0
    assert "moto_server" in make_run.text() and "cannot run without it" in make_run.text()
    assert not list((make_run.state / "run").glob("*.pid"))
