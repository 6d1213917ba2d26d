"""``python -m infra.local.routeros``: the simulator as its own process (see the package doc)."""

from __future__ import annotations

import argparse
import signal
import threading

from infra.local.routeros import __doc__ as DOC
from infra.local.routeros.server import RouterSimulator
from infra.local.routeros.state import IDENTITY


def main() -> None:
    parser = argparse.ArgumentParser(description=DOC, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8728)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--control-port", type=int, default=None, help="HTTP control channel (0: any free)")
    parser.add_argument("--identity", default=IDENTITY)
    parser.add_argument("--tls", action="store_true", help="API-SSL with a self-signed certificate")
    parser.add_argument("--radius-port", type=int, default=None, help="incoming RADIUS (Disconnect) on UDP")
    parser.add_argument("--radius-secret", default="", help="its RADIUS secret")
    args = parser.parse_args()
    router = RouterSimulator(
        args.host,
        args.port,
        args.username,
        args.password,
        args.control_port,
        args.identity,
        args.tls,
        radius_port=args.radius_port,
        radius_secret=args.radius_secret,
    ).start()
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    tls = f", TLS, CA {router.ca_file}" if router.ca_file else ""
    tls += f", incoming RADIUS on udp {router.radius_port}" if router.radius else ""
    print(
        f"routeros simulator ready on {router.host}:{router.port} (control {router.control_url}{tls})",
        flush=True,
    )
    stopped.wait()
    router.stop()


if __name__ == "__main__":
    main()
