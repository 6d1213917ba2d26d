"""``muda``: the operator's command line (the old ``artisan queue:*`` powers, on AWS).

Talks to the stage in ``MUDA_STAGE`` (``local`` by default, on the local stack's endpoint).
"""

from __future__ import annotations

import sys
import time

import click

from chalicelib.core import clock, registry, timers
from chalicelib.core.auth import ROLES, dev_token
from chalicelib.core.text import table
from chalicelib.ops import queues
from chalicelib.ops.logic import count_by_kind


@click.group()
def main() -> None:
    """Muda operations."""


@main.command("queues")
def queues_cmd() -> None:
    """Depth, in flight, delayed and dead letters of every queue."""
    rows = [(d.queue, d.visible, d.in_flight, d.delayed, d.dead) for d in queues.depths()]
    click.echo(table(["queue", "visible", "in flight", "delayed", "dlq"], rows))


@main.command("health")
def health_cmd() -> None:
    """Whether the event runtime and the sweeper are alive (from their heartbeats) and how long the
    oldest visible message of each queue has waited; exits 1 when degraded (/health's 503)."""
    from chalicelib.core import health

    report = health.report()

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} s"

    beats = [
        (name, b.status, b.at or "never", seconds(b.age_seconds), seconds(b.stale_after_seconds))
        for name, b in report.heartbeats.items()
    ]
    click.echo(table(["heartbeat", "status", "last beat (UTC)", "age", "stale after"], beats))
    ages = [
        (name, q.status, "-" if q.visible is None else q.visible, seconds(q.oldest_age_seconds), q.source)
        for name, q in report.queues.items()
    ]
    click.echo(table(["queue", "status", "visible", "oldest waiting", "from"], ages))
    click.echo(f"status: {report.status}")
    sys.exit(0 if report.status == "ok" else 1)


@main.group()
def failed() -> None:
    """Dead letters: list them with their error, redrive them."""


@failed.command("list")
@click.option("--queue", help="Only this queue (full name, e.g. muda-local-timers).")
def failed_list(queue: str | None) -> None:
    letters = queues.dead_letters(queue)
    if not letters:
        click.echo("no failed jobs")
        return
    rows = [
        (d.queue, d.message_id, d.receive_count, queues.describe_body(d.body, 50), d.error[:80])
        for d in letters
    ]
    click.echo(table(["queue", "id", "tries", "body", "error"], rows))


@failed.command("retry")
@click.argument("message_id", required=False)
@click.option("--all", "retry_all", is_flag=True, help="Redrive every dead letter.")
@click.option("--queue", help="Only this queue.")
def failed_retry(message_id: str | None, retry_all: bool, queue: str | None) -> None:
    if bool(message_id) == retry_all:
        raise click.UsageError("give a message ID or --all")
    moved = queues.redrive(None if retry_all else message_id, queue)
    click.echo(f"redriven: {moved}")
    if message_id and not moved:
        sys.exit(1)


@main.command("retries")
@click.option("--queue", help="Only this queue (full name, e.g. muda-local-provisioning).")
def retries_cmd(queue: str | None) -> None:
    """Jobs on their second or later try: attempt n of N, the last error, the next try."""
    found = queues.retries(queue)
    if not found:
        click.echo("no job is retrying")
        return
    now = clock.now()
    rows = [
        (
            r.queue,
            r.message_id,
            f"{r.attempt} of {r.max_attempts or '-'}",
            f"in {r.next_try_at - now:.0f}s" if r.next_try_at > now else "now",
            r.summary[:40],
            r.error[:60],
        )
        for r in found
    ]
    click.echo(table(["queue", "id", "failed tries", "next try", "job", "last error"], rows))


@main.command("timers")
@click.option(
    "--overdue", is_flag=True, help="Only timers past due and unclaimed (after the sweeper's grace)."
)
def timers_cmd(overdue: bool) -> None:
    """Pending timers by kind, or the overdue ones."""
    if overdue:
        now = clock.now()
        items = list(timers.overdue())
        rows = [(t.kind, t.key, t.state, f"{now - t.due_at:.1f}s") for t in items]
        click.echo(table(["kind", "key", "state", "late by"], rows) if rows else "no overdue timers")
        return
    rows = count_by_kind(t.kind for t in timers.pending())
    click.echo(table(["kind", "pending"], rows) if rows else "no pending timers")


@main.command("token")
@click.option(
    "--role", "roles", multiple=True, required=True, type=click.Choice(ROLES), help="Role (repeatable)."
)
@click.option("--sub", required=True, help="Subject (user id).")
@click.option("--ttl", default=12 * 3600, show_default=True, help="Lifetime in seconds.")
def token_cmd(roles: tuple[str, ...], sub: str, ttl: int) -> None:
    """A dev token signed with the local stack's key (local stage only)."""
    try:
        click.echo(dev_token(sub, roles, ttl))
    except PermissionError as error:
        raise click.ClickException(str(error)) from None


@main.command("probe")
@click.option("--count", default=10, show_default=True)
@click.option(
    "--in", "within", default=5.0, show_default=True, help="Spread due times over this many seconds."
)
@click.option("--wait/--no-wait", default=True, help="Wait and report lateness.")
def probe_cmd(count: int, within: float, wait: bool) -> None:
    """Self-test: schedule probe timers and report how late each fired."""
    from chalicelib.ops import models
    from chalicelib.ops.handlers import PROBE

    run = f"cli{int(clock.now() * 1000)}"
    start = clock.now() + 1
    for n in range(count):
        timers.schedule(PROBE, models.probe_key(run, n), start + within * n / max(1, count - 1))
    click.echo(f"scheduled {count} probe timers (run {run})")
    if not wait:
        return
    deadline = time.monotonic() + within + 120
    fired: list[models.ProbeItem] = []
    while time.monotonic() < deadline:
        fired = models.probes(run)
        if len(fired) == count:
            break
        time.sleep(0.5)
    late = sorted(p.first_fired_at - p.due_at for p in fired)
    twice = sum(1 for p in fired if p.executions > 1)
    if late:
        click.echo(
            f"fired {len(fired)}/{count}, more than once: {twice}, "
            f"lateness p50 {late[len(late) // 2] * 1000:.0f} ms, max {late[-1] * 1000:.0f} ms"
        )
    if len(fired) != count or twice:
        sys.exit(1)


def _add_domain_commands() -> None:
    """Each product registers its CLI modules (``core.registry``); their commands hang off ``muda``."""
    for module in registry.modules("cli"):
        for command in module.commands:
            main.add_command(command)


_add_domain_commands()

if __name__ == "__main__":
    main()
