"""Local servers' ports: never from the kernel's ephemeral range (where a client connection can
take a port between its choice and its bind), and never granted twice, across processes."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from infra.local import ports
from infra.local.stack import ROOT


def test_ports_come_from_below_the_ephemeral_range() -> None:
    """Given the kernel's ephemeral range, when ports are granted, then none is in it."""
    low = int(ports.EPHEMERAL.read_text().split()[0])
    granted = [ports.free_port() for _ in range(50)]
    assert all(port < low for port in granted), granted


def test_no_port_is_granted_twice_across_processes_and_threads() -> None:
    """Given four processes and four threads asking at once, when each takes 40 ports, then all
    320 are distinct (the register is shared through its file lock)."""
    take = "from infra.local.ports import free_port; print(*[free_port() for _ in range(40)])"
    procs = [
        subprocess.Popen([sys.executable, "-c", take], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    with ThreadPoolExecutor(4) as pool:
        here = [
            p for batch in pool.map(lambda _: [ports.free_port() for _ in range(40)], range(4)) for p in batch
        ]
    there = [int(p) for proc in procs for p in proc.communicate(timeout=60)[0].split()]
    assert len(there) == 160 and len(set(here + there)) == 320
