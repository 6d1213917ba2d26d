"""The simulated router's server: asyncio on its own thread, API or API-SSL, fault switches."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import shutil
import ssl
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from infra.local.routeros.commands import Session
from infra.local.routeros.control import control_handler
from infra.local.routeros.radius import IncomingRadius
from infra.local.routeros.state import IDENTITY, Faults, RouterState
from infra.local.routeros.wire import ProtocolViolation, encode_sentence, read_sentence


def self_signed(host: str) -> tuple[bytes, bytes]:
    """A self-signed certificate (PEM) and its key for ``host``, as a router's API-SSL would use."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{IDENTITY} {host}")])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class RouterSimulator:
    """The simulated router: an asyncio server on its own thread, plus the control channel.

    In-process: ``with RouterSimulator(password="x") as router: router.port ...``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "admin",
        password: str = "",
        control_port: int | None = None,
        identity: str = IDENTITY,
        tls: bool = False,
        radius_port: int | None = None,
        radius_secret: str = "",
    ) -> None:
        self.host, self.port = host, port
        # Incoming RADIUS (``/radius incoming accept=yes``): Disconnect-Requests on UDP, when set.
        self.radius_port, self.radius_secret = radius_port, radius_secret
        self.radius: IncomingRadius | None = None
        # API-SSL (RouterOS's 8729): a self-signed certificate for ``host``; clients trust ``ca_file``.
        self.ca_file: str | None = None
        self._tls: ssl.SSLContext | None = self._tls_context() if tls else None
        self.username, self.password = username, password
        self.control_port = control_port
        self.state = RouterState(identity)
        self.faults = Faults()
        self.connections = 0  # open now
        self.connections_total = 0  # accepted since start
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="routeros", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._control: ThreadingHTTPServer | None = None

    # --- lifecycle ---

    def start(self) -> RouterSimulator:
        self._thread.start()
        self._call(self._listen())
        if self.control_port is not None:
            self._control = ThreadingHTTPServer((self.host, self.control_port), control_handler(self))
            self.control_port = self._control.server_address[1]
            threading.Thread(target=self._control.serve_forever, name="routeros-control", daemon=True).start()
        if self.radius_port is not None:
            self.radius = IncomingRadius(self, self.host, self.radius_port, self.radius_secret).start()
            self.radius_port = self.radius.port
        return self

    def stop(self) -> None:
        if self.radius:
            self.radius.stop()
        if self._control:
            self._control.shutdown()
            self._control.server_close()
        if self._thread.is_alive():
            self._call(self._shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()
        if self.ca_file:
            shutil.rmtree(Path(self.ca_file).parent, ignore_errors=True)

    def __enter__(self) -> RouterSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def control_url(self) -> str | None:
        return f"http://{self.host}:{self.control_port}" if self._control else None

    # --- faults ---

    def set_faults(self, **changes: Any) -> Faults:
        """Flip fault switches; ``down`` closes the listener (connections refused) and drops
        open sessions, as a router that lost power or its VPN would."""
        was_down = self.faults.down
        self.faults.update(changes)
        if self.faults.down and not was_down:
            self._call(self._close())
        elif was_down and not self.faults.down:
            self._call(self._listen())
        return self.faults

    def reset(self) -> None:
        self.set_faults(**dataclasses.asdict(Faults()))
        self.state.reset()

    def describe(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "faults": dataclasses.asdict(self.faults),
            "connections": self.connections,
            "commands": self.state.commands,
            "menus": self.state.snapshot(),
            **(
                {"radius": {"port": self.radius_port, "disconnects": self.radius.disconnects}}
                if self.radius
                else {}
            ),
        }

    # --- asyncio side ---

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def _tls_context(self) -> ssl.SSLContext:
        cert, key = self_signed(self.host)
        folder = Path(tempfile.mkdtemp(prefix="routeros-sim-"))
        (folder / "cert.pem").write_bytes(cert)
        (folder / "key.pem").write_bytes(key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
        (folder / "key.pem").unlink()  # loaded; only the certificate stays, for clients to trust
        self.ca_file = str(folder / "cert.pem")
        return context

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, reuse_address=True, ssl=self._tls
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()

    async def _shutdown(self) -> None:
        """Close the listener and every session, and let their tasks finish before the loop stops."""
        await self._close()  # closed transports end their sessions' reads
        sessions = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if sessions:
            _, stuck = await asyncio.wait(sessions, timeout=2)
            for task in stuck:
                task.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self.connections += 1
        self.connections_total += 1
        session = Session(self)
        try:
            while True:
                try:
                    words = await read_sentence(reader)
                except ProtocolViolation as violation:
                    writer.write(encode_sentence(["!fatal", str(violation)]))
                    await writer.drain()
                    return
                if not words:
                    continue  # an empty sentence is a keep-alive
                replies, end = session.handle(words)
                if self.faults.slow:
                    await asyncio.sleep(self.faults.slow)
                writer.write(b"".join(encode_sentence(r) for r in replies))
                await writer.drain()
                if end:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            return
        finally:
            self.connections -= 1
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()
