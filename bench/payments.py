"""Payments: AWS calls per payment by phase, beside the code before payments became a domain, and
payments/s sustained on the local stack.

1. In-process on the emulator, every AWS call counted (Daraja stubbed): a hotspot STK payment
   (initiate, Safaricom's callback, which settles it), a patient's consultation purchase by STK
   a Paybill (C2B) payment to a patient's account (validation, confirmation) and a doctor's B2C
   payout (withdraw, Safaricom's result); the
   same counts of the code before the change in the same run: its ``bench/hotspot.py`` call
   count (initiate, callback, worker), run from ``git archive <baseline>`` in a subprocess
   against its own emulator.
2. Sustained on the local stack (API, event runtime, Daraja simulator that answers the PIN
   prompt and calls back, RouterOS simulator): hotspot STK payments initiated at --rate per
   second for --seconds over HTTP; paid per second from the first push to the last payment seen
   paid. At full size the same run follows on the stack of the code before the change (started
   from its archive in a subprocess); ``--smoke`` skips that second stack.

Run: ``make bench`` (or ``python -m bench.payments --calls 20 --seconds 30 --rate 10``; ``--smoke``:
a few payments, a 3 s run). Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

import requests

from bench.common import CallCounter, bench_run, emulator, figure, parse_args, quiet, ratio, stack_options
from infra.local.stack import LocalStack, free_port

ROOT = Path(__file__).resolve().parents[1]
# The last commit before payments became a domain (issue 14): its hotspot path is the baseline.
BASELINE = "ebc16f6a332eb7f4b5eca6cbf336cd0c46ade252"
ENV = {
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "MUDA_LOCAL_DARAJA_DELAY_SECONDS": "0.2",
    "MUDA_PAYMENTS_CALLBACK_IP_CHECK": "off",
    "MUDA_HOTSPOT_CALLBACK_IP_CHECK": "off",  # the baseline's name
}
SMOKE = {"calls": 2, "seconds": 3.0, "rate": 2.0}


def callback(checkout: str, receipt: str, amount: int) -> bytes:
    return json.dumps(
        {
            "Body": {
                "stkCallback": {
                    "MerchantRequestID": "m",
                    "CheckoutRequestID": checkout,
                    "ResultCode": 0,
                    "ResultDesc": "The service request is processed successfully.",
                    "CallbackMetadata": {
                        "Item": [
                            {"Name": "Amount", "Value": float(amount)},
                            {"Name": "MpesaReceiptNumber", "Value": receipt},
                            {"Name": "Balance"},
                            {"Name": "TransactionDate", "Value": 20261125120000},
                            {"Name": "PhoneNumber", "Value": 254700000000},
                        ]
                    },
                }
            }
        }
    ).encode()


# --- 1. AWS calls per payment ---------------------------------------------------------------------


def aws_calls(count: int) -> dict[str, dict[str, Counter[str]]]:
    """Calls per phase of ``count`` payments of each kind (after one that warms the process)."""
    from app import app  # noqa: F401 - registers the offers and timer kinds
    from chalicelib.consult import payouts, purchases
    from chalicelib.consult.models import credits as consult_credits
    from chalicelib.consult.models import items as consult_items
    from chalicelib.core import clock, ids
    from chalicelib.hotspot import service
    from chalicelib.integrations.mpesa import PushAccepted
    from chalicelib.payments import daraja
    from chalicelib.payments.service import b2c, c2b, stk

    class StubDaraja:
        def push(self, **_: Any) -> PushAccepted:
            return PushAccepted(ids.new_id("m-"), ids.new_id("ws_CO_"), "ok")

        def b2c_pay(self, **request: Any) -> str:
            return f"AG_{request['originator_id']}"

    daraja.client = lambda: StubDaraja()  # type: ignore[assignment]
    daraja.security_credential = lambda: "bench"  # type: ignore[assignment]
    router = service.add_router(
        {"name": "bench", "host": "127.0.0.1", "port": 8728, "username": "u", "login_url": "http://x/login"},
        "pw",
    )
    package = service.add_package(
        {"name": "1 hour", "price": 10, "validity_seconds": 3600, "router_ids": [router.router_id]}
    )
    plan = consult_items.new_plan(ids.new_id("plan_"), "bench", clock.now(), text_sessions=5, price=50_000)
    consult_credits.add_plan(plan)
    token = daraja.callback_token()
    found: dict[str, dict[str, Counter[str]]] = {
        "hotspot STK": {"initiate": Counter(), "callback": Counter()},
        "consult STK": {"initiate": Counter(), "callback": Counter()},
        "consult C2B": {"validation": Counter(), "confirmation": Counter()},
        "B2C payout": {"withdraw": Counter(), "result": Counter()},
    }
    with CallCounter() as counter:
        for n in range(count + 1):  # the first warms the process (clients, secret, queue URLs)
            phases = found["hotspot STK"] if n else {"initiate": Counter(), "callback": Counter()}
            with counter.window() as calls:
                payment = service.initiate(
                    package_id=package.package_id,
                    phone=f"2547{n:08d}",
                    mac="AA:BB:CC:DD:EE:FF",
                    router_id=router.router_id,
                    ip=None,
                )
            phases["initiate"].update(calls)
            with counter.window() as calls:
                stk.accept_callback(token, callback(payment.checkout_request_id, f"H{n:09d}", 10), None)
            phases["callback"].update(calls)
        for n in range(count):
            phases = found["consult STK"]
            with counter.window() as calls:
                bought = purchases.buy(purchases.quote_plan(plan.plan_id, f"pat-{n}"), f"2547{n:08d}")
            phases["initiate"].update(calls)
            with counter.window() as calls:
                stk.accept_callback(token, callback(bought.checkout_request_id, f"C{n:09d}", 500), None)
            phases["callback"].update(calls)
        for n in range(count):  # a Paybill payment to the account number of a patient on file
            phases, patient = found["consult C2B"], f"pat-{n}"
            body = c2b_body(patient, f"P{n:09d}", 100)
            with counter.window() as calls:
                assert c2b.validate(token, body, None).body["ResultCode"] == "0"
            phases["validation"].update(calls)
            with counter.window() as calls:
                c2b.confirm(token, body, None)
            phases["confirmation"].update(calls)
        for n in range(count):  # a doctor withdraws earnings; Safaricom's result settles it
            phases, doctor = found["B2C payout"], f"doc-{n}"
            consult_items.Wallet(*consult_items.wallet_key(doctor), doctor_id=doctor, balance=100_000).save()
            with counter.window() as calls:
                payout = payouts.withdraw(doctor, f"2547{n:08d}", 500, doctor)
            phases["withdraw"].update(calls)
            with counter.window() as calls:
                b2c.accept("result", token, b2c_result(payout.payout_id), None)
            phases["result"].update(calls)
    return found


def b2c_result(payout_id: str) -> bytes:
    """Safaricom's documented B2C success result."""
    return json.dumps(
        {
            "Result": {
                "ResultType": 0,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "OriginatorConversationID": payout_id,
                "ConversationID": f"AG_{payout_id}",
                "TransactionID": "NLJ41HAY6Q",
                "ResultParameters": {"ResultParameter": [{"Key": "TransactionAmount", "Value": 500}]},
            }
        }
    ).encode()


def c2b_body(reference: str, trans_id: str, amount: int) -> bytes:
    """Safaricom's documented C2B body (TransAmount as a string)."""
    return json.dumps(
        {
            "TransactionType": "Pay Bill",
            "TransID": trans_id,
            "TransTime": "20261201063845",
            "TransAmount": f"{amount}.00",
            "BusinessShortCode": "174379",
            "BillRefNumber": reference,
            "MSISDN": 254708374149,
        }
    ).encode()


DRIVER = """
import json, sys
from pathlib import Path
from bench import hotspot
from bench.common import emulator, quiet
quiet()
with emulator(hotspot.ENV, Path(sys.argv[2]), **json.loads(sys.argv[3])):
    # One payment warms the process (clients, secret, queue URLs), as ours is warmed; its phone
    # and receipt are its own, so the measured payments are first purchases like ours.
    from chalicelib.hotspot import service
    initiate, body = service.initiate, hotspot.callback_body
    service.initiate = lambda **kw: initiate(**{**kw, "phone": "254799999999"})
    hotspot.callback_body = lambda p, receipt, amount: body(p, "W" + receipt[1:], amount)
    hotspot.aws_calls(1)
    service.initiate, hotspot.callback_body = initiate, body
    found = hotspot.aws_calls(int(sys.argv[1]))
print("BASELINE " + json.dumps({phase: dict(calls) for phase, calls in found.items()}))
"""


_TREE: list[Path] = []


def _baseline_tree() -> Path | None:
    """The code before the change, extracted once per run (``None`` in a clone without it)."""
    if _TREE:
        return _TREE[0]
    try:
        archive = subprocess.run(
            ["git", "archive", BASELINE], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return None
    tree = Path(tempfile.mkdtemp(prefix="bench-payments-baseline-"))
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    (tree / ".cache").symlink_to(ROOT / ".cache")  # DynamoDB Local, as installed here
    _TREE.append(tree)
    return tree


def _baseline_env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MUDA_", "AWS_"))}
    return {**env, "PYTHONPATH": str(tree)}


def baseline_calls(count: int, options: dict[str, Any], logs: Path) -> dict[str, Counter[str]] | None:
    """The code before the change, counted by its own bench in a subprocess (``None`` if this
    checkout has no such commit, e.g. a shallow clone)."""
    tree = _baseline_tree()
    if tree is None:
        return None
    env = _baseline_env(tree)
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(count), str(logs), json.dumps(options)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BASELINE ")), None)
    if line is None:
        print(f"baseline run failed (exit {done.returncode}): {done.stderr[-800:]}")
        return None
    return {phase: Counter(calls) for phase, calls in json.loads(line[len("BASELINE ") :]).items()}


STACK_DRIVER = """
import json, sys
from pathlib import Path
from bench import hotspot
from infra.local.stack import LocalStack, free_port
options = json.loads(sys.argv[2])
stack = LocalStack(free_port(), free_port(), env=hotspot.ENV, log_dir=Path(sys.argv[1]), **options)
with stack:
    from chalicelib.core.auth import dev_token
    token = dev_token("bench-admin", ["admin"])
    print("READY " + json.dumps({"api": stack.api_url, "env": stack.env, "token": token}), flush=True)
    sys.stdin.readline()
"""


@contextmanager
def _running(process: subprocess.Popen[str]) -> Iterator[tuple[str, dict[str, str], str]]:
    try:
        line = ""
        while process.stdout and not line.startswith("READY "):
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("the baseline stack did not start")
        ready = json.loads(line[len("READY ") :])
        yield ready["api"], ready["env"], ready["token"]
    finally:
        if process.stdin:
            process.stdin.write("stop\n")
            process.stdin.flush()
        process.wait(timeout=120)


def baseline_stack(options: dict[str, Any], logs: Path) -> Any:
    """The local stack of the code before the change, in a subprocess (``None`` without it)."""
    tree = _baseline_tree()
    if tree is None:
        return None
    process = subprocess.Popen(
        [sys.executable, "-c", STACK_DRIVER, str(logs), json.dumps(options)],
        cwd=tree,
        env=_baseline_env(tree),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return _running(process)


def report(
    found: dict[str, dict[str, Counter[str]]], base: dict[str, Counter[str]] | None, count: int
) -> None:
    print(f"AWS calls per payment by phase (mean of {count}; emulation = Lambda's/Scheduler's own):")
    totals: dict[str, float] = {}
    for kind, phases in [*found.items(), *([("hotspot STK, before", base)] if base else [])]:
        per = {p: c for p, c in phases.items() if p != "status"}
        total = (
            sum(sum(v for k, v in c.items() if not k.startswith("emulation")) for c in per.values()) / count
        )
        totals[kind] = total
        print(f"  {kind}: {total:.1f}")
        for phase, calls in per.items():
            detail = ", ".join(f"{op} {n / count:.1f}" for op, n in sorted(calls.items()))
            print(f"    {phase:9s} {sum(calls.values()) / count:4.1f}  ({detail})")
    for kind, total in totals.items():
        figure(f"AWS calls per payment, {kind}", f"{total:.1f}")
    if base:
        ratio(
            "AWS calls per STK payment",
            totals["hotspot STK"],
            totals["hotspot STK, before"],
            ("now", "before"),
        )


# --- 2. sustained ---------------------------------------------------------------------------------


def sustained(
    api: str, env: dict[str, str], token: str, seconds: float, rate: float
) -> tuple[int, int, float]:
    """Hotspot payments offered at ``rate``/s for ``seconds`` over HTTP only (so the same code
    measures the stack before the change); (offered, paid, paid per second from the first push
    to the last payment seen paid by its status poll). ``token``: an admin's, of that stack."""

    admin = {"Authorization": f"Bearer {token}"}
    router = requests.post(
        f"{api}/admin/routers",
        headers=admin,
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
        f"{api}/admin/packages",
        headers=admin,
        timeout=30,
        json={"name": "1 hour", "price": 10, "validity_seconds": 3600, "router_ids": [router["router_id"]]},
    ).json()
    ids: list[str] = []
    errors: Counter[str] = Counter()
    lock = threading.Lock()

    def buy(n: int) -> None:
        response = requests.post(
            f"{api}/payments/initiate",
            timeout=60,
            json={
                "package_id": package["package_id"],
                "phone_number": f"07123{n:05d}",  # the simulator pays these after its delay
                "mac_address": "AA:BB:CC:DD:EE:FF",
                "router_id": router["router_id"],
            },
        )
        with lock:
            if response.status_code == 202:
                ids.append(response.json()["payment_id"])
            else:
                errors[str(response.status_code)] += 1

    started = time.time()
    with ThreadPoolExecutor(max_workers=16) as pool:
        n = 0
        while (now := time.time()) < started + seconds:
            due = started + n / rate
            if now < due:
                time.sleep(due - now)
            pool.submit(buy, n)
            n += 1
    deadline = time.time() + 60 + seconds
    settled: dict[str, float] = {}
    session = requests.Session()
    while time.time() < deadline and len(settled) < len(ids):
        for payment_id in ids:
            if payment_id not in settled:
                status = session.get(f"{api}/payments/{payment_id}", timeout=30).json().get("status")
                if status in ("paid", "provisioned", "provision_failed"):
                    settled[payment_id] = time.time()
        time.sleep(0.2)
    last = max(settled.values(), default=started)
    if errors:
        print(f"initiate errors: {dict(errors)}")
    return n, len(settled), len(settled) / max(1e-9, last - started)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20, help="payments for the AWS call count")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the sustained run")
    parser.add_argument("--rate", type=float, default=10.0, help="payments per second offered")
    args = parse_args(parser, argv, SMOKE)
    quiet()
    logs = Path(tempfile.mkdtemp(prefix="bench-payments-"))
    with bench_run("payments", args):
        base = baseline_calls(args.calls, stack_options(args), logs / "baseline")
        with emulator(ENV, logs / "calls", **stack_options(args)):
            report(aws_calls(args.calls), base, args.calls)
        stack = LocalStack(free_port(), free_port(), env=ENV, log_dir=logs / "stack", **stack_options(args))
        print(f"local stack; logs {logs}")
        with stack:
            from chalicelib.core.auth import dev_token

            token = dev_token("bench-admin", ["admin"])
            offered, paid, rate = sustained(stack.api_url, stack.env, token, args.seconds, args.rate)
        label = f"sustained {args.seconds:.0f} s at {args.rate}/s offered (hotspot STK)"
        figure(
            label, f"{offered} payments, {paid} paid, {rate:.1f} paid/s from the first push to the last paid"
        )
        if not args.smoke:  # the stack before the change, same offer, same machine, same run
            before = baseline_stack(stack_options(args), logs / "baseline-stack")
            if before is not None:
                with before as (api, env, token):
                    offered, paid, old = sustained(api, env, token, args.seconds, args.rate)
                figure(f"{label}, before", f"{offered} payments, {paid} paid, {old:.1f} paid/s")
                ratio("paid/s sustained", rate, old, ("now", "before"))


if __name__ == "__main__":
    main()
