"""The local API gateway: Chalice's own local server (``chalice local``) with a listen backlog
that takes a burst.

``chalice local`` binds an ``http.server`` socket with the standard library's backlog of 5: of 50
phones (or M-Pesa callbacks) connecting at once, the kernel resets the ones past the backlog
before Chalice reads a byte (23 of 50 got no answer). API Gateway drops none. This runs the same
``LocalDevServer``, ``ChaliceRequestHandler`` and ``LocalGateway`` (so handlers see Chalice's
event shape exactly), on a threaded server whose backlog is 128.

Run: ``python -m infra.local.gateway --port 8000 [--stage local]``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path

from chalice import local
from chalice.cli.factory import CLIFactory
from chalice.deploy.validate import validate_routes

ROOT = Path(__file__).resolve().parents[2]
BACKLOG = 128


class BurstServer(local.ThreadedHTTPServer):
    """Chalice's threaded dev server with a listen backlog for bursts (``listen(128)``)."""

    request_queue_size = BACKLOG


def create_server(host: str, port: int, stage: str = "local") -> local.LocalDevServer:
    """What ``chalice local`` builds (``chalice.cli.create_local_server``), on ``BurstServer``."""
    factory = CLIFactory(project_dir=str(ROOT))
    config = factory.create_config_obj(chalice_stage_name=stage)
    app = config.chalice_app
    validate_routes(app.routes)
    local.CustomLocalChalice.__bases__ = (local.LocalChalice, app.__class__)
    app.__class__ = local.CustomLocalChalice
    return local.LocalDevServer(app, config, host, port, server_cls=BurstServer)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--stage", default="local")
    args = parser.parse_args()
    # As `chalice local`: handlers' logging to stdout (the stack's api.log).
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    server = create_server(args.host, args.port, args.stage)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
