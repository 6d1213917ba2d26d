"""``muda waitroom …``: stats, a reconcile-style admission attempt, key rotation, and ``pour``
(N simulated users poured into an event, shown being admitted as checkouts complete)."""

from __future__ import annotations

import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import click

from chalicelib.core import clock
from chalicelib.core.auth import Principal
from chalicelib.core.errors import MudaError
from chalicelib.core.text import table
from chalicelib.waitroom import logic, models, service, tokens


@click.group("waitroom")
def waitroom() -> None:
    """Waiting room: events, stats, admission, checkout keys, simulated crowds."""


@waitroom.command("events")
def events_cmd() -> None:
    """Every event with its status, line and slots."""
    rows = [
        (
            e.event_id,
            e.status,
            models.events.line(e).queued,
            f"{int(e.processing)}/{int(e.max_concurrent)}",
            int(e.admitted),
        )
        for e in service.list_events()
    ]
    click.echo(table(["event", "status", "queued", "processing", "admitted"], rows) if rows else "no events")


@waitroom.command("stats")
@click.argument("event_id")
def stats_cmd(event_id: str) -> None:
    """Queued, processing, admitted, completed, expired, abandoned, errors, last admission, rates."""
    try:
        stats = service.stats(event_id)
    except MudaError as error:
        raise click.ClickException(error.message) from None
    click.echo(table(["figure", "value"], stats.model_dump().items()))


@waitroom.command("admit")
@click.argument("event_id")
def admit_cmd(event_id: str) -> None:
    """Run an admission attempt now (safe at any time, concurrently with the workers)."""
    result = service.admit(event_id)
    click.echo(f"admitted {len(result.admitted)}, skipped {result.skipped}, rounds {result.rounds}")


@waitroom.command("rotate-key")
def rotate_key_cmd() -> None:
    """New checkout signing key; the old one stays published until its tokens have expired."""
    ring = tokens.rotate()
    click.echo(f"active kid: {ring.active['kid']}; published: {', '.join(k['kid'] for k in ring.keys)}")


@waitroom.command("pour")
@click.argument("event_id")
@click.argument("count", type=click.IntRange(1, 100_000))
@click.option(
    "--checkout-seconds", default=3.0, show_default=True, help="How long a simulated checkout takes."
)
@click.option("--abandon", default=0.0, show_default=True, help="Share of users who stop polling (0-1).")
@click.option("--expire", default=0.0, show_default=True, help="Share of admitted users who never complete.")
@click.option("--timeout", default=600.0, show_default=True, help="Give up after this many seconds.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polling rounds.")
@click.option("--workers", default=8, show_default=True)
def pour_cmd(
    event_id: str,
    count: int,
    checkout_seconds: float,
    abandon: float,
    expire: float,
    timeout: float,
    interval: float,
    workers: int,
) -> None:
    """Pour COUNT simulated users into EVENT_ID and show them being admitted.

    Each user joins, polls (the heartbeat) until admitted, then completes its checkout with its
    token after --checkout-seconds, unless it is one of the --abandon/--expire share."""
    run = f"sim{int(clock.now()) % 100_000}"
    rng = random.Random(run)
    users = [f"{run}-{n}" for n in range(count)]
    silent = {u for u in users if rng.random() < abandon}
    lazy = {u for u in users if rng.random() < expire}
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(workers) as pool:
            joined = list(pool.map(lambda u: service.join(event_id, u)[0], users))
            click.echo(f"{count} users joined {event_id} in {time.monotonic() - started:.1f} s")
            live = {s.session_id: s.user_id for s in joined}
            admitted_at: dict[str, float] = {}
            while live and time.monotonic() - started < timeout:
                views = list(
                    pool.map(lambda sid: service.poll(sid, Principal(live[sid], frozenset())), list(live))
                )
                now = time.monotonic()
                for view in views:
                    if view.status == logic.ADMITTED:
                        admitted_at.setdefault(view.id, now)
                        done = now - admitted_at[view.id] >= checkout_seconds and view.user_id not in lazy
                        if done and view.checkout_token:
                            service.complete(view.id, view.checkout_token)
                    if view.status not in (logic.QUEUED, logic.ADMITTED) or (
                        view.status == logic.QUEUED and view.user_id in silent
                    ):
                        live.pop(view.id, None)
                stats = service.stats(event_id)
                click.echo(
                    f"t={now - started:6.1f}s queued {stats.queued:6} processing {stats.processing:4}/"
                    f"{stats.max_concurrent} admitted {stats.admitted:6} completed {stats.completed:6} "
                    f"expired {stats.expired:5} abandoned {stats.abandoned:5} "
                    f"rate {stats.admission_rate_per_minute:7.1f}/min"
                )
                time.sleep(interval)
    except MudaError as error:
        raise click.ClickException(error.message) from None
    if live:
        click.echo(f"{len(live)} simulated users still waiting after {timeout:.0f} s")
        sys.exit(1)


commands: list[click.Command] = [waitroom]
