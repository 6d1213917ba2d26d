"""The local stack as ``make run`` starts it, and as the e2e tests start it.

1. an AWS-compatible endpoint: ``moto_server`` in its own process (or the running endpoint that
   ``AWS_ENDPOINT_URL`` names, e.g. LocalStack);
2. the template's resources on it (``provision``);
3. the Chalice API (``chalice local``);
4. the event runtime in its own process (``infra.local.runtime``).

Run: ``python -m infra.local.stack`` (Ctrl+C stops every process it started).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Domains with local hooks in infra/local/<domain>.py: provision(), start(stack), seed(stack).
DOMAINS = ("notifications", "consult", "routers", "hotspot", "classes", "waitroom")


def domain_hooks(hook: str) -> list[Any]:
    """The ``hook`` functions the domains define, in DOMAINS order."""
    modules = [importlib.import_module(f"infra.local.{domain}") for domain in DOMAINS]
    return [getattr(m, hook) for m in modules if hasattr(m, hook)]


# Settings of the local stage that differ from AWS's defaults.
LOCAL_ENV = {
    "MUDA_STAGE": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "MUDA_AUTH_ISSUER": "muda-local",
    "MUDA_AUTH_JWKS_PARAMETER": "/muda/local/auth/jwks",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Muda",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _reachable(url: str) -> bool:
    try:
        requests.get(url, timeout=1)
        return True
    except requests.RequestException:
        return False


def wait_until(check: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout}s")


class LocalStack:
    """Owns the processes of the local stack; a context manager."""

    def __init__(
        self,
        emulator_port: int = 4566,
        api_port: int = 8000,
        env: dict[str, str] | None = None,
        log_dir: Path | None = None,
        endpoint: str | None = None,
    ) -> None:
        self.emulator_port = emulator_port
        self.api_port = api_port
        self.log_dir = log_dir or ROOT / ".cache" / "local" / "logs"
        self.external = endpoint is not None
        self.endpoint = endpoint or f"http://127.0.0.1:{emulator_port}"
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.env = {**os.environ, **LOCAL_ENV, **(env or {}), "AWS_ENDPOINT_URL": self.endpoint}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    def port(self, demo_port: int) -> int:
        """A simulator's port: its well-known one for ``make run`` (the API on 8000) when free,
        else any free one (the e2e tier and benches run their own stacks beside it)."""
        return demo_port if self.api_port == 8000 and port_free(demo_port) else free_port()

    # --- processes --------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def start_emulator(self) -> None:
        if self.external:
            wait_until(lambda: _reachable(self.endpoint), f"endpoint {self.endpoint}", 30)
            return
        self._spawn(
            "emulator",
            [sys.executable, "-m", "infra.local.emulator", "-H", "127.0.0.1", "-p", str(self.emulator_port)],
        )
        wait_until(lambda: _reachable(f"{self.endpoint}/moto-api/"), "moto_server", 30)

    def start_api(self) -> None:
        self._spawn(
            "api",
            [
                str(BIN / "chalice"),
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--stage",
                "local",
                "--no-autoreload",
            ],
        )
        wait_until(lambda: _reachable(f"{self.api_url}/health"), "API", 60)

    def start_runtime(self) -> None:
        proc = self._spawn("runtime", [sys.executable, "-m", "infra.local.runtime"])
        log = self.log_dir / "runtime.log"
        wait_until(
            lambda: proc.poll() is None and b"event runtime ready" in log.read_bytes(), "event runtime", 60
        )

    def kill_runtime(self) -> None:
        """SIGKILL the runtime (a crash test): the emulator keeps every message."""
        proc = self.procs.pop("runtime")
        proc.kill()
        proc.wait()

    def provision(self) -> None:
        from infra.local import provision

        provision.provision()

    def apply_env(self) -> None:
        """Point this process's settings and clients at the stack (CLI-style callers, tests)."""
        from chalicelib.core import aws, config, db

        os.environ.update(
            {k: v for k, v in self.env.items() if k in LOCAL_ENV or k.startswith(("MUDA_", "AWS_"))}
        )
        config.reset_settings()
        aws.reset_caches()
        db.rebind()

    def start(self) -> LocalStack:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.start_emulator()
        self.apply_env()
        self.provision()
        for start in domain_hooks("start"):
            start(self)
        self.apply_env()
        self.start_api()
        self.start_runtime()
        return self

    def seed(self) -> list[str]:
        """Demo data of every domain (``make run``); returns the banner lines they print."""
        lines: list[str] = []
        for seed in domain_hooks("seed"):
            lines.extend(seed(self))
        return lines

    def stop(self) -> None:
        # The runtime and the API first, then whatever the domains started, the emulator last.
        order = ["runtime", "api", *(n for n in self.procs if n not in ("runtime", "api", "emulator"))]
        for name in [*order, "emulator"]:
            proc = self.procs.pop(name, None)
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGINT if name == "api" else signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for log in self._logs:
            log.close()

    def __enter__(self) -> LocalStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def banner(stack: LocalStack) -> str:
    from chalicelib.core.auth import dev_token

    admin = dev_token("admin-1", ["admin"])
    return "\n".join(
        [
            "",
            "Muda local stack is up",
            f"  AWS endpoint   {stack.endpoint}{'  (external)' if stack.external else '  (moto_server)'}",
            f"  API            {stack.api_url}",
            f"                 health {stack.api_url}/health, OpenAPI {stack.api_url}/openapi.json",
            "  event runtime  SQS consumers, @app.schedule, EventBridge Scheduler",
            f"  logs           {stack.log_dir}/{{emulator,api,runtime}}.log",
            "",
            "  dev admin token (12 h; more with `.venv/bin/muda token --role R --sub S`):",
            f"  {admin}",
            "",
            f"  try: curl -s {stack.api_url}/health",
            "  Ctrl+C stops everything.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--emulator-port", type=int, default=4566)
    parser.add_argument("--api-port", type=int, default=8000)
    args = parser.parse_args()
    external = os.environ.get("AWS_ENDPOINT_URL")
    stack = LocalStack(
        args.emulator_port, args.api_port, endpoint=external if external and _reachable(external) else None
    )
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    with stack:
        demo = stack.seed()
        print(banner(stack) + "\n".join(demo), flush=True)
        while not stopped.wait(1):
            for name, proc in list(stack.procs.items()):
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; see {stack.log_dir}/{name}.log", flush=True)
                    stopped.set()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
