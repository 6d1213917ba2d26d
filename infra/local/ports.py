"""Ports for the local servers (emulators, simulators, gateways), handed out so two never collide.

A port found by binding to 0 and closing comes from the kernel's ephemeral range, the range every
outgoing connection takes its local port from. Under a busy test run (thousands of HTTP and boto3
connections) a client socket can take it in the moment before the server binds it; CI saw a
simulator die on ``Address already in use`` that way. So ports come from just below the ephemeral
range, which the kernel never hands to a client, and every process on the machine takes them
under one file lock with a register of recent grants, so stacks started side by side (the e2e and
bench tiers, a ``make run``) never get the same one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import random
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
REGISTER = Path(tempfile.gettempdir()) / "muda-local-ports.json"
HELD_SECONDS = 900.0  # a granted port is not granted again for this long: time enough to bind it
SPAN = 12_000


def port_free(port: int) -> bool:
    """Nothing listens on ``port``, TCP or UDP (connections lingering in TIME_WAIT don't count:
    every server here binds with SO_REUSEADDR)."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port() -> int:
    """A port free for TCP and UDP, outside the ephemeral range, granted to no other caller on
    this machine in the last ``HELD_SECONDS``."""
    window = _window()
    with _register() as granted:
        now = time.time()
        for port, at in list(granted.items()):
            if now - at > HELD_SECONDS:
                del granted[port]
        for _ in range(500):
            port = random.choice(window)
            if str(port) not in granted and port_free(port):
                granted[str(port)] = now
                return port
    raise RuntimeError(f"no free port in {window.start}-{window.stop - 1}")


def _window() -> range:
    """The ``SPAN`` ports below the ephemeral range (32768 on Linux unless tuned)."""
    try:
        low = int(EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    start = max(1024, low - SPAN)
    return range(start, low) if low - start >= 1000 else range(max(low, 61000), 65536)


@contextlib.contextmanager
def _register() -> Iterator[dict[str, float]]:
    """The register of grants (port → when), read and written under an exclusive lock."""
    with open(REGISTER.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            granted = json.loads(REGISTER.read_text())
        except (OSError, ValueError):
            granted = {}
        granted = granted if isinstance(granted, dict) else {}
        yield granted
        tmp = REGISTER.with_suffix(".tmp")
        tmp.write_text(json.dumps(granted))
        tmp.replace(REGISTER)
