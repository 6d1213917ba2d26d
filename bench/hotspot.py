"""Hotspot payments: AWS calls per payment, callback ack latency, callback → user on the router,
and sustained payments/s, on the local stack (AWS endpoint, chalice local, the event runtime with
the router provisioner, the Daraja and RouterOS simulators).

1. In-process on the emulator, every AWS call counted by phase: initiate (Daraja stubbed),
   callback (it settles the payment: grant, follow-ups, event), one status read.
2. The local stack: N payments on the Daraja simulator's silent phones (it sends no callback),
   then their success callbacks posted by this script (3 copies each: Safaricom duplicates),
   paced; each copy's ack latency, and the time from the first copy to the user appearing on the
   simulated router (read through librouteros every 50 ms).
3. Sustained: for --seconds, payments initiated and called back at --rate per second; users
   that reached the router per second.

Run: ``make bench`` (or ``python -m bench.hotspot --payments 60 --seconds 60 --rate 20``;
``--smoke``: a few payments, a 3 s sustained run). Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import librouteros
import requests

from bench.common import CallCounter, bench_run, emulator, figure, latency, parse_args, quiet, stack_options
from infra.local.stack import LocalStack, free_port

ENV = {
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "MUDA_LOCAL_DARAJA_DELAY_SECONDS": "0.2",
    "MUDA_HOTSPOT_CALLBACK_IP_CHECK": "off",
}
PHASES = ("initiate", "callback", "status")
SMOKE = {"calls": 2, "payments": 3, "pace": 5.0, "copies": 2, "seconds": 3.0, "rate": 2.0}


def silent_phone(n: int) -> str:
    """The Daraja simulator's phones that get no callback: 0700 00x xx9."""
    return f"070000{n % 1000:03d}9"


def username(phone: str) -> str:
    return "m" + ("254" + phone[1:])[-9:]


def callback_body(payment: dict[str, Any], receipt: str, amount: int) -> dict[str, Any]:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": payment["merchant_request_id"],
                "CheckoutRequestID": payment["checkout_request_id"],
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": float(amount)},
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20261125120000},
                        {"Name": "PhoneNumber", "Value": int(payment["phone"])},
                    ]
                },
            }
        }
    }


# --- 1. AWS calls per payment ---------------------------------------------------------------------


def aws_calls(count: int) -> dict[str, Counter[str]]:
    from app import app  # noqa: F401 - registers the timer kinds
    from chalicelib.integrations.mpesa import PushAccepted
    from chalicelib.payments import daraja

    class StubDaraja:
        def push(self, **_: Any) -> PushAccepted:
            from chalicelib.core.ids import new_id

            return PushAccepted(new_id("m-"), new_id("ws_CO_"), "ok")

    daraja.client = lambda: StubDaraja()  # type: ignore[assignment]
    with CallCounter() as counter:  # every AWS call of this process; windows pick the phases
        return phases(count, counter)


def phases(count: int, counter: CallCounter) -> dict[str, Counter[str]]:
    """One payment at a time through initiate, callback (settled there) and a status read."""
    from chalicelib.hotspot import service
    from chalicelib.payments import daraja
    from chalicelib.payments.service import stk

    router = service.add_router(
        {
            "name": "bench",
            "host": "127.0.0.1",
            "port": 8728,
            "username": "u",
            "login_url": "http://127.0.0.1/login",
        },
        "pw",
    )
    package = service.add_package(
        {
            "name": "1 hour",
            "price": 10,
            "validity_seconds": 3600,
            "rate_limit": "2M/2M",
            "router_ids": [router.router_id],
        }
    )
    token = daraja.callback_token()
    per_phase: dict[str, Counter[str]] = {p: Counter() for p in PHASES}
    for n in range(count):
        with counter.window() as calls:
            payment = service.initiate(
                package_id=package.package_id,
                phone=f"2547{n:08d}",
                mac="AA:BB:CC:DD:EE:FF",
                router_id=router.router_id,
                ip=None,
            )
        per_phase["initiate"].update(calls)
        body = json.dumps(
            callback_body(
                {
                    "merchant_request_id": "m",
                    "checkout_request_id": payment.checkout_request_id,
                    "phone": payment.phone,
                },
                f"B{n:09d}",
                10,
            )
        ).encode()
        with counter.window() as calls:
            assert stk.accept_callback(token, body, None).status == 200
        per_phase["callback"].update(calls)
        with counter.window() as calls:
            service.status(payment.payment_id)
        per_phase["status"].update(calls)
    return per_phase


# --- 2 and 3. the local stack ---------------------------------------------------------------------


class RouterWatch:
    """Polls the simulated router's user list through librouteros; first time each user is seen."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        api = librouteros.connect(
            self.env["MUDA_LOCAL_ROUTER_HOST"],
            username=self.env["MUDA_LOCAL_ROUTER_USERNAME"],
            password=self.env["MUDA_LOCAL_ROUTER_PASSWORD"],
            port=int(self.env["MUDA_LOCAL_ROUTER_PORT"]),
            timeout=10,
        )
        try:
            while not self.stop.wait(0.05):
                now = time.time()
                for row in api.path("ip", "hotspot", "user"):
                    self.seen.setdefault(row["name"], now)
        finally:
            api.close()


def setup_shop(stack: LocalStack) -> tuple[str, str, dict[str, str]]:
    from chalicelib.core.auth import dev_token

    headers = {"Authorization": f"Bearer {dev_token('admin-1', ['admin'])}"}
    env = stack.env
    router = requests.post(
        f"{stack.api_url}/admin/routers",
        headers=headers,
        timeout=30,
        json={
            "name": "bench",
            "host": env["MUDA_LOCAL_ROUTER_HOST"],
            "port": int(env["MUDA_LOCAL_ROUTER_PORT"]),
            "username": env["MUDA_LOCAL_ROUTER_USERNAME"],
            "password": env["MUDA_LOCAL_ROUTER_PASSWORD"],
            "login_url": "http://127.0.0.1/login",
        },
    ).json()
    package = requests.post(
        f"{stack.api_url}/admin/packages",
        headers=headers,
        timeout=30,
        json={
            "name": "1 hour",
            "price": 10,
            "validity_seconds": 3600,
            "rate_limit": "2M/2M",
            "router_ids": [router["router_id"]],
        },
    ).json()
    return router["router_id"], package["package_id"], headers


def initiate(session: requests.Session, stack: LocalStack, rid: str, pid: str, phone: str) -> dict[str, Any]:
    from chalicelib.payments.models import payments

    response = session.post(
        f"{stack.api_url}/payments/initiate",
        timeout=30,
        json={"package_id": pid, "phone_number": phone, "mac_address": "AA:BB:CC:DD:EE:FF", "router_id": rid},
    )
    response.raise_for_status()
    payment = payments.by_id(response.json()["payment_id"])
    assert payment is not None
    return {
        "merchant_request_id": payment.merchant_request_id,
        "checkout_request_id": payment.checkout_request_id,
        "phone": payment.phone,
    }


def post_copies(session: requests.Session, url: str, body: dict[str, Any], copies: int) -> list[float]:
    acks = []
    for _ in range(copies):
        started = time.perf_counter()
        response = session.post(url, json=body, timeout=30)
        acks.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return acks


def latency_run(stack: LocalStack, count: int, pace: float, copies: int) -> tuple[Any, ...]:
    from infra.local.payments import daraja_config

    rid, pid, _ = setup_shop(stack)
    url = f"{stack.api_url}/mpesa/callback/{daraja_config()['callback_token']}"
    session = requests.Session()
    payments = [initiate(session, stack, rid, pid, silent_phone(n)) for n in range(count)]
    watch = RouterWatch(stack.env)
    sent: dict[str, float] = {}
    acks: list[float] = []
    lock = threading.Lock()

    def send(item: tuple[int, dict[str, Any]]) -> None:
        n, payment = item
        local = requests.Session()
        with lock:
            sent[username(silent_phone(n))] = time.time()
        durations = post_copies(local, url, callback_body(payment, f"L{n:09d}", 10), copies)
        with lock:
            acks.extend(durations)

    with ThreadPoolExecutor(max_workers=8) as pool:
        for item in enumerate(payments):
            pool.submit(send, item)
            time.sleep(1 / pace)
    deadline = time.time() + 120
    while time.time() < deadline and any(u not in watch.seen for u in sent):
        time.sleep(0.1)
    watch.stop.set()
    to_router = [watch.seen[u] - t for u, t in sent.items() if u in watch.seen]
    from chalicelib.payments.models import payments as stored

    settled = [stored.get(p["checkout_request_id"]) for p in payments]
    to_paid = [
        float(p.settled_at) - sent[username(silent_phone(n))]
        for n, p in enumerate(settled)
        if p and p.settled_at
    ]
    paid_to_router = [
        watch.seen[username(silent_phone(n))] - float(p.settled_at)
        for n, p in enumerate(settled)
        if p and p.settled_at and username(silent_phone(n)) in watch.seen
    ]
    return acks, to_router, len(sent) - len(to_router), to_paid, paid_to_router


def sustained(stack: LocalStack, seconds: float, rate: float) -> tuple[int, int, float, int]:
    from infra.local.payments import daraja_config

    rid, pid, _ = setup_shop(stack)
    url = f"{stack.api_url}/mpesa/callback/{daraja_config()['callback_token']}"
    watch = RouterWatch(stack.env)
    offered: dict[str, float] = {}
    errors = Counter[str]()
    lock = threading.Lock()

    def buy(n: int) -> None:
        session = requests.Session()
        phone = f"0711{n:06d}"  # phones past the simulator's special ones: it calls back itself too
        try:
            payment = initiate(session, stack, rid, pid, phone)
            with lock:
                offered[username(phone)] = time.time()
            post_copies(session, url, callback_body(payment, f"S{n:09d}", 10), 2)
        except Exception as error:
            with lock:
                errors[type(error).__name__] += 1

    started = time.time()
    pool = ThreadPoolExecutor(max_workers=32)
    n = 0
    while time.time() - started < seconds:
        pool.submit(buy, n)
        n += 1
        time.sleep(max(0.0, started + n / rate - time.time()))
    pool.shutdown(wait=True, cancel_futures=True)  # what the API could not take in the window is dropped
    window_end = started + seconds
    in_window = sum(1 for u, t in watch.seen.items() if u in offered and t <= window_end)
    drain_deadline = time.time() + 60
    while time.time() < drain_deadline and any(u not in watch.seen for u in offered):
        time.sleep(0.2)
    watch.stop.set()
    done = sum(1 for u in offered if u in watch.seen)
    last = max((watch.seen[u] for u in offered if u in watch.seen), default=started)
    return len(offered), in_window, done / max(1e-9, last - started), sum(errors.values())


def report_calls(per_phase: dict[str, Counter[str]], count: int) -> None:
    print(f"AWS calls per payment (payments side, mean of {count}):")
    total = 0.0
    for phase in PHASES:
        calls = per_phase[phase]
        mean = sum(calls.values()) / count
        total += mean if phase != "status" else 0
        detail = ", ".join(f"{op} {n / count:.1f}" for op, n in sorted(calls.items()))
        print(f"  {phase:9s} {mean:4.1f}  ({detail})")
    figure(
        "AWS calls per payment",
        f"{total:.1f} (initiate + callback; each status poll adds "
        f"{sum(per_phase['status'].values()) / count:.1f})",
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20, help="payments for the AWS call count")
    parser.add_argument("--payments", type=int, default=60, help="payments for the latency run")
    parser.add_argument("--pace", type=float, default=5.0, help="callbacks per second in the latency run")
    parser.add_argument("--copies", type=int, default=3, help="copies of each callback (duplicates)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the sustained run")
    parser.add_argument(
        "--rate", type=float, default=20.0, help="payments per second offered in the sustained run"
    )
    args = parse_args(parser, argv, SMOKE)
    quiet()
    logs = Path(tempfile.mkdtemp(prefix="bench-hotspot-"))

    with bench_run("hotspot", args):
        with emulator(ENV, logs / "calls", **stack_options(args)):
            report_calls(aws_calls(args.calls), args.calls)

        stack = LocalStack(free_port(), free_port(), env=ENV, log_dir=logs / "stack", **stack_options(args))
        print(f"local stack; logs {logs}")
        with stack:
            acks, to_router, missing, to_paid, paid_to_router = latency_run(
                stack, args.payments, args.pace, args.copies
            )
            latency(f"callback ack ({args.copies} copies each, {args.pace}/s)", acks)
            latency(f"callback -> user on router ({missing} missing)", to_router)
            latency("callback -> paid (payments side)", to_paid)
            latency("paid -> on router (provisioner)", paid_to_router)
            offered, in_window, rate, errors = sustained(stack, args.seconds, args.rate)
            figure(
                f"sustained {args.seconds:.0f} s at {args.rate}/s offered",
                f"{offered} payments, {in_window} on the router within the window "
                f"({in_window / args.seconds:.1f}/s), all done at {rate:.1f}/s overall, {errors} errors",
            )


if __name__ == "__main__":
    main()
