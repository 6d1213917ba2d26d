"""The simulator's control channel (HTTP on loopback) and its client."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:
    from infra.local.routeros.server import RouterSimulator


def control_handler(router: RouterSimulator) -> type[BaseHTTPRequestHandler]:
    class Control(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path in ("/state", "/"):
                self._reply(200, router.describe())
            else:
                self._reply(404, {"error": "GET /state"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/faults":
                    faults = router.set_faults(**body)
                    self._reply(200, dataclasses.asdict(faults))
                elif self.path == "/reset":
                    router.reset()
                    self._reply(200, router.describe())
                else:
                    self._reply(404, {"error": "POST /faults or /reset"})
            except (ValueError, TypeError) as error:
                self._reply(400, {"error": str(error)})

        def log_message(self, *args: Any) -> None:
            pass

    return Control


class SimulatorControl:
    """Client of a running simulator's control channel (e2e tests, bench)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def state(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/state", timeout=5).json()

    def faults(self, **changes: Any) -> dict[str, Any]:
        response = requests.post(f"{self.url}/faults", json=changes, timeout=5)
        response.raise_for_status()
        return response.json()

    def reset(self) -> dict[str, Any]:
        return requests.post(f"{self.url}/reset", timeout=5).json()

    @contextlib.contextmanager
    def fault(self, **changes: Any) -> Iterator[None]:
        """Faults for the duration of a block."""
        before = self.state()["faults"]
        self.faults(**changes)
        try:
            yield
        finally:
            self.faults(**{k: before[k] for k in changes})
