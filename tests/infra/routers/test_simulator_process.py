"""The local stack's RouterOS simulator hook, as ``make run`` and the e2e tier start it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import librouteros
import pytest

from infra.local import routers
from infra.local.stack import ROOT, free_port


class _Stack:
    """Just what the hook uses of ``LocalStack``: ports, processes, env and the liveness check."""

    def __init__(self, logs: Path) -> None:
        self.env: dict[str, str] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = logs

    def port(self, demo_port: int) -> int:
        return free_port()

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - the process holds it
        self.procs[name] = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        return self.procs[name]

    def check_alive(self, name: str) -> None:
        code = self.procs[name].poll()
        assert code is None, (self.logs / f"{name}.log").read_text()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[_Stack]:
    stack = _Stack(tmp_path)
    yield stack
    for proc in stack.procs.values():
        proc.terminate()
        proc.wait(10)


def test_a_generated_password_that_begins_with_a_dash_still_starts_the_simulator(stack, monkeypatch):
    # Given a generated router password that argparse would take for an option (1 in 64 clones)
    monkeypatch.setattr(routers, "router_password", lambda: "-Xy_z")
    # When the stack's hook starts the simulator
    routers.start(stack)
    # Then it runs, and the API logs in with that password
    api = librouteros.connect(
        host="127.0.0.1",
        port=int(stack.env["MUDA_LOCAL_ROUTER_PORT"]),
        username=stack.env["MUDA_LOCAL_ROUTER_USERNAME"],
        password="-Xy_z",
    )
    assert list(api.path("/system/identity"))
    api.close()
