"""Hotspot over RADIUS: Authorize round trips through FreeRADIUS → rlm_rest → Muda on the local
stack, and AWS calls per Authorize and per accounting Interim.

1. The local stack (FreeRADIUS started by ``infra/local/radius.py``, the API, DynamoDB): N paid
   subscriptions on a RADIUS-mode router; ``--workers`` NAS threads send PAP Access-Requests
   (pyrad, as a router would) for ``--seconds``; round trips per second, p50 and p99.
2. In this process, every AWS call of ``chalicelib.radius.service`` counted: the first Authorize
   of a user (cold: no subscription id cached), every later one (goal: 1 read), a Start and an
   Interim (goal: 1 conditional write).
3. ``--expiring`` subscriptions expire together, each with a session on the RADIUS-mode router
   simulator: how long after its expiry the Disconnect-Request dropped it (by the router's clock).

Run: ``make bench`` (or ``python -m bench.radius --users 50 --seconds 20 --workers 8``;
``--smoke``: a few users, 2 s). Prints figures, asserts nothing. Needs FreeRADIUS installed
(``make test`` installs it).
"""

from __future__ import annotations

import argparse
import io
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import requests
from pyrad import packet
from pyrad.client import Client, Timeout
from pyrad.dictionary import Dictionary

from bench.common import CallCounter, bench_run, figure, latency, parse_args, quiet, stack_options
from infra.local.stack import LocalStack, free_port

ENV = {
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "MUDA_RADIUS_REJECT_DELAY": "0",
}
SMOKE = {"users": 3, "seconds": 2.0, "workers": 2, "calls": 3, "expiring": 3}
NAS = "bench-radius"
DICTIONARY = """
ATTRIBUTE User-Name 1 string
ATTRIBUTE User-Password 2 string encrypt=1
ATTRIBUTE Reply-Message 18 string
ATTRIBUTE Class 25 octets
ATTRIBUTE Session-Timeout 27 integer
ATTRIBUTE Idle-Timeout 28 integer
ATTRIBUTE NAS-Identifier 32 string
ATTRIBUTE Acct-Interim-Interval 85 integer
ATTRIBUTE Message-Authenticator 80 octets
VENDOR Mikrotik 14988
BEGIN-VENDOR Mikrotik
ATTRIBUTE Mikrotik-Rate-Limit 8 string
ATTRIBUTE Mikrotik-Total-Limit 17 integer
ATTRIBUTE Mikrotik-Total-Limit-Gigawords 18 integer
END-VENDOR Mikrotik
"""


EXPIRES: dict[str, float] = {}  # username -> its subscription's expiry
SUBS: dict[str, str] = {}  # username -> subscription id


def subscribers(
    router_id: str, count: int, prefix: str = "071200", expires_in: float = 3600
) -> list[tuple[str, str]]:
    """``count`` paid subscriptions on the router, written as a settled payment leaves them (user,
    current-subscription pointer, active subscription): ``(username, password)`` each."""
    from chalicelib.core import clock
    from chalicelib.hotspot.models.items import (
        ACTIVE_SUBS,
        CurrentItem,
        SubscriptionItem,
        UserItem,
        current_key,
        expiry_index,
        subscription_key,
        user_key,
    )

    now, found = clock.now(), []
    for n in range(count):
        phone = f"254{prefix[1:]}{n:04d}"[:12]
        username, password, sub_id = "m" + phone[-9:], f"pw{n:06d}", f"sub_bench{router_id[-6:]}{n:05d}"
        UserItem(*user_key(phone), phone=phone, username=username, password=password, created_at=now).save()
        SubscriptionItem(
            *subscription_key(sub_id),
            subscription_id=sub_id,
            phone=phone,
            package_id="pkg_bench",
            router_id=router_id,
            username=username,
            password=password,
            rate_limit="2M/2M",
            starts_at=now,
            expires_at_ts=now + expires_in,
            limit_bytes_total=10 * 2**30,
            status="active",
            created_at=now,
            gsi2pk=ACTIVE_SUBS,
            gsi2sk=expiry_index(now + expires_in, sub_id),
        ).save()
        EXPIRES[username], SUBS[username] = now + expires_in, sub_id
        CurrentItem(*current_key(phone, router_id), subscription_id=sub_id).save()
        found.append((username, password))
    return found


# --- 1. round trips through FreeRADIUS -----------------------------------------------------------------


def round_trips(stack: LocalStack, users: list[tuple[str, str]], seconds: float, workers: int) -> None:
    host, port = stack.env["MUDA_LOCAL_RADIUS_SERVER"].split(":")
    secret = stack.env["MUDA_LOCAL_RADIUS_NAS_SECRET"].encode()
    dictionary = Dictionary(io.StringIO(DICTIONARY))
    took: list[float] = []
    answers: Counter[str] = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def nas(worker: int) -> None:
        client = Client(server=host, authport=int(port), secret=secret, dict=dictionary)
        client.timeout, client.retries = 5, 1
        n = worker
        while time.monotonic() < stop:
            username, password = users[n % len(users)]
            n += workers
            request = client.CreateAuthPacket(
                code=packet.AccessRequest, User_Name=username, NAS_Identifier=NAS
            )
            request["User-Password"] = request.PwCrypt(password)
            started = time.monotonic()
            try:
                reply = client.SendPacket(request)
                code = {packet.AccessAccept: "accept", packet.AccessReject: "reject"}.get(reply.code, "other")
            except Timeout:
                code = "timeout"
            with lock:
                took.append(time.monotonic() - started)
                answers[code] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=nas, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    figure(
        f"Authorize round trips through FreeRADIUS -> Muda ({workers} NAS threads, {len(users)} users)",
        f"{len(took) / elapsed:.1f}/s over {elapsed:.1f} s; answers {dict(answers)}",
    )
    latency("Authorize round trip (Access-Request -> Access-Accept)", took)


# --- 3. expiry -> Disconnect-Request at the router ---------------------------------------------------------


def expiry_lag(stack: LocalStack, router_id: str, count: int) -> None:
    """``count`` subscriptions expiring 3 s from now, each online on the RADIUS-mode simulator;
    the expiry timers run in the stack's runtime; the router's clock says when each session went."""
    import librouteros

    from chalicelib.core import timers
    from chalicelib.hotspot import handlers
    from chalicelib.hotspot.service import EXPIRE

    assert handlers  # registers the timer kinds this process schedules

    env = stack.env
    users = subscribers(router_id, count, prefix="071300", expires_in=3.0)
    api = librouteros.connect(
        "127.0.0.1",
        username="muda-api",
        password=env["MUDA_LOCAL_RADIUS_ROUTER_PASSWORD"],
        port=int(env["MUDA_LOCAL_RADIUS_ROUTER_PORT"]),
    )
    try:
        for n, (username, password) in enumerate(users):
            api.path("ip", "hotspot", "user").add(name=username, password=password)
            list(
                api(
                    "/ip/hotspot/active/login",
                    user=username,
                    password=password,
                    ip=f"10.6.{n // 250}.{n % 250}",
                )
            )
    finally:
        api.close()
    due = {username: expires for username, expires in EXPIRES.items() if username in dict(users)}
    for username in due:
        timers.schedule(EXPIRE, SUBS[username], due[username])
    control = env["MUDA_LOCAL_RADIUS_ROUTER_CONTROL_URL"]
    deadline = time.monotonic() + 60
    dropped: dict[str, float] = {}
    while time.monotonic() < deadline and len(dropped) < len(due):
        for d in requests.get(f"{control}/state", timeout=10).json()["radius"]["disconnects"]:
            if d["user"] in due and d["removed"]:
                dropped.setdefault(d["user"], d["at"])
        time.sleep(0.1)
    latency(
        f"expiry -> Disconnect-Request drops the session at the router ({len(dropped)}/{len(due)} dropped)",
        [dropped[u] - due[u] for u in dropped],
    )


# --- 2. AWS calls per Authorize and per Interim -----------------------------------------------------------


def calls(router_id: str, users: list[tuple[str, str]], rounds: int) -> None:
    from chalicelib.radius import service

    service.clear_caches()
    service.authorize({"User-Name": users[0][0], "NAS-Identifier": NAS})  # the NAS map, read once a minute

    def per(label: str, each: Sequence[dict[str, int]]) -> None:
        total: Counter[str] = Counter()
        for c in each:
            total.update(c)
        mean = sum(total.values()) / max(1, len(each))
        detail = ", ".join(f"{k} {v / len(each):.1f}" for k, v in sorted(total.items()))
        figure(f"AWS calls per {label}", f"{mean:.1f} ({detail}) over {len(each)}")

    cold, warm, start, interim = [], [], [], []
    for n, (username, _) in enumerate(users[1 : rounds + 1], 1):
        attrs = {"User-Name": username, "NAS-Identifier": NAS}
        for bucket in (cold, warm):
            with CallCounter() as counter:
                answer = service.authorize(attrs)
            bucket.append(dict(counter.calls))
        assert answer.accept, answer
        acct = {
            **attrs,
            "Class": answer.reply["Class"],
            "Acct-Session-Id": f"b{n}",
            "Acct-Unique-Session-Id": f"u{n}",
        }
        for bucket, kind, octets in ((start, "Start", 0), (interim, "Interim-Update", 1000)):
            with CallCounter() as counter:
                done = service.account({**acct, "Acct-Status-Type": kind, "Acct-Input-Octets": str(octets)})
            assert done.outcome == "recorded", done
            bucket.append(dict(counter.calls))
    per("Authorize, first of a user in this process (id not cached)", cold)
    per("Authorize, every later one (goal: 1 read)", warm)
    per("accounting Start", start)
    per("accounting Interim (goal: 1 conditional write)", interim)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=8, help="NAS threads sending Access-Requests")
    parser.add_argument("--calls", type=int, default=20, help="users whose AWS calls are counted")
    parser.add_argument("--expiring", type=int, default=20, help="subscriptions expiring at once, online")
    args = parse_args(parser, argv, SMOKE)
    quiet()
    with tempfile.TemporaryDirectory(prefix="bench-radius-") as tmp, bench_run("radius", args):
        env = dict(ENV)
        with LocalStack(free_port(), free_port(), env=env, log_dir=Path(tmp), **stack_options(args)) as stack:
            if not stack.env.get("MUDA_LOCAL_RADIUS_SERVER"):
                raise SystemExit("FreeRADIUS is not installed: apt-get install freeradius freeradius-rest")
            stack.apply_env()
            router_id = register_router(stack)
            users = subscribers(router_id, max(args.users, args.calls + 1))
            round_trips(stack, users[: args.users], args.seconds, args.workers)
            calls(router_id, users, args.calls)
            expiry_lag(stack, router_id, args.expiring)


def register_router(stack: LocalStack) -> str:
    from chalicelib.core.auth import dev_token

    env = stack.env
    response = requests.post(
        f"{stack.api_url}/admin/routers",
        headers={"Authorization": f"Bearer {dev_token('admin-1', ['admin'])}"},
        json={
            "name": "bench RADIUS",
            "host": "127.0.0.1",
            "port": int(env["MUDA_LOCAL_RADIUS_ROUTER_PORT"]),
            "username": "muda-api",
            "password": env["MUDA_LOCAL_RADIUS_ROUTER_PASSWORD"],
            "login_url": "http://127.0.0.1/login",
            "mode": "radius",
            "nas_identifier": NAS,
            "coa_port": int(env["MUDA_LOCAL_RADIUS_COA_PORT"]),
            "radius_secret": env["MUDA_LOCAL_RADIUS_NAS_SECRET"],
        },
        timeout=60,
    )
    response.raise_for_status()
    return str(response.json()["router_id"])


if __name__ == "__main__":
    main()
