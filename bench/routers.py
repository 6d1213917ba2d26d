"""Router provisioning: latency per command and librouteros round trips, against the simulator.

1. The provisioner's handler end to end (one SQS record per invocation, then batches of 5) on
   the local stack's AWS endpoint and the RouterOS simulator: latency per command p50/p99,
   router round trips and AWS calls per command.
2. The router part alone (librouteros against the simulator): one provision, one deprovision.

Run: ``make bench`` (or ``python -m bench.routers --count 200``; ``--smoke``: 4 commands).
Prints figures, asserts nothing.
The simulator answers in microseconds: a real router over a VPN adds its RTT per round trip.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import CallCounter, bench_run, emulator, figure, parse_args, stack_options, summary
from chalicelib.core.aws import client
from chalicelib.core.config import get_settings
from functions.router_provisioner import handler, store
from functions.router_provisioner.logic import parse_command
from functions.router_provisioner.router import Router, Session
from infra.local.routeros import RouterSimulator

ENV = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
PASSWORD = "bench-" + uuid.uuid4().hex[:8]
SMOKE = {"count": 4}


def command(i: int, router_id: str, action: str = "provision") -> dict[str, Any]:
    base = {
        "action": action,
        "subscription_id": f"sub_b{i:06d}",
        "router_id": router_id,
        "version": 1,
        "username": f"m7{i:08d}",
        "mac": f"AA:BB:CC:00:{i // 256 % 256:02X}:{i % 256:02X}",
    }
    if action == "deprovision":
        return base
    return base | {
        "password": "pw123456",
        "profile": {
            "name": "muda-pkg_bench",
            "rate_limit": "2M/2M",
            "shared_users": 1,
            "session_timeout": "1h",
        },
        "limit_uptime": "1h",
        "limit_bytes_total": None,
        "comment": f"muda sub_b{i:06d}",
        "ip": f"10.5.{i // 250 % 250}.{i % 250 + 2}",
    }


def record(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "bench",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
    }


def register(router: RouterSimulator) -> str:
    import boto3

    router_id = "rtr_bench"
    secret = f"muda/{get_settings().stage}/hotspot/routers/{router_id}"
    client("secretsmanager").create_secret(Name=secret, SecretString=json.dumps({"password": PASSWORD}))
    boto3.resource("dynamodb", region_name=get_settings().region).Table(
        get_settings().name("hotspot")
    ).put_item(
        Item={
            "pk": f"ROUTER#{router_id}",
            "sk": "ROUTER",
            "gsi1pk": "ROUTERS",
            "gsi1sk": router_id,
            "router_id": router_id,
            "name": "bench",
            "host": router.host,
            "port": router.port,
            "username": "muda",
            "password_secret": secret,
            "login_url": "http://10.5.50.1/login",
            "status": "unknown",
            "created_at": int(time.time()),
        }
    )
    return router_id


def subscriptions(first: int, count: int) -> None:
    import boto3

    table = boto3.resource("dynamodb", region_name=get_settings().region).Table(
        get_settings().name("hotspot")
    )
    with table.batch_writer() as batch:
        for i in range(first, first + count):
            batch.put_item(
                Item={
                    "pk": f"SUB#sub_b{i:06d}",
                    "sk": "SUB",
                    "provision_status": "pending",
                    "provision_version": 1,
                }
            )


def run_batches(
    router: RouterSimulator, counter: CallCounter, bodies: list[dict], batch: int
) -> dict[str, Any]:
    latencies, calls = [], Counter()
    commands_before, logins_before = router.state.commands, router.connections_total
    for start in range(0, len(bodies), batch):
        chunk = bodies[start : start + batch]
        with counter.window() as window:
            began = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):  # the handler's EMF metric lines
                result = handler.handle({"Records": [record(b) for b in chunk]})
            latencies.append((time.perf_counter() - began) / len(chunk) * 1000)
        assert not result["batchItemFailures"], result
        calls.update(window)
    trips = (router.state.commands - commands_before) + (router.connections_total - logins_before)
    return {
        "ms": summary(latencies),
        "round_trips": trips / len(bodies),
        "aws_calls": sum(calls.values()) / len(bodies),
        "by_op": {k: v / len(bodies) for k, v in calls.items()},
    }


def router_only(router: RouterSimulator, router_id: str, count: int) -> dict[str, Any]:
    record_ = Router(router_id, "bench", router.host, router.port, "muda", "-")
    provision_ms, deprovision_ms, trips = [], [], Counter()
    for i in range(100_000, 100_000 + count):
        began = time.perf_counter()
        session = Session.open(record_, PASSWORD, 5)
        session.provision(parse_command(json.dumps(command(i, router_id))))
        session.close()
        provision_ms.append((time.perf_counter() - began) * 1000)
        trips["provision"] += session.round_trips
        began = time.perf_counter()
        session = Session.open(record_, PASSWORD, 5)
        session.deprovision(f"m7{i:08d}")
        session.close()
        deprovision_ms.append((time.perf_counter() - began) * 1000)
        trips["deprovision"] += session.round_trips
    return {
        "provision_ms": summary(provision_ms),
        "deprovision_ms": summary(deprovision_ms),
        "round_trips": {k: v / count for k, v in trips.items()},
    }


def show(title: str, figures: dict[str, Any]) -> None:
    ms = figures["ms"]
    figure(
        title,
        f"median {ms['p50']:.1f} ms, p99 {ms['p99']:.1f} ms, "
        f"round trips {figures['round_trips']:.1f}, AWS calls {figures['aws_calls']:.1f}",
    )
    print("    " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(figures["by_op"].items())))


def main(argv: Sequence[str] | None = None) -> None:
    logging.getLogger("muda.router_provisioner").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    args = parse_args(parser, argv, SMOKE)
    count = args.count
    with (
        bench_run("routers", args),
        tempfile.TemporaryDirectory() as logs,
        emulator(ENV, Path(logs), **stack_options(args)),
        RouterSimulator(username="muda", password=PASSWORD) as router,
        CallCounter() as counter,
    ):
        store.reset_clients()
        router_id = register(router)
        subscriptions(0, count)
        bodies = [command(i, router_id) for i in range(count)]
        print(f"router provisioner, {count} commands each, local stack + RouterOS simulator on loopback")
        show("provision, 1 record per invocation", run_batches(router, counter, bodies[: count // 2], 1))
        show(
            "provision, batches of 5 (one login per batch)",
            run_batches(router, counter, bodies[count // 2 :], 5),
        )
        show(
            "duplicate provision (already provisioned)", run_batches(router, counter, bodies[: count // 2], 1)
        )
        deprovisions = [command(i, router_id, "deprovision") for i in range(count)]
        show(
            "deprovision, 1 record per invocation",
            run_batches(router, counter, deprovisions[: count // 2], 1),
        )
        alone = router_only(router, router_id, count)
        for action in ("provision", "deprovision"):
            ms = alone[f"{action}_ms"]
            figure(
                f"librouteros only: {action} (login..logout)",
                f"median {ms['p50']:.1f} ms, p99 {ms['p99']:.1f} ms, "
                f"round trips {alone['round_trips'][action]:.1f}",
            )


if __name__ == "__main__":
    main()
