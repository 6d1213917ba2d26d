"""``muda classes …``: the old ``sessions:update-statuses`` and "should it transition?" check."""

from __future__ import annotations

import sys

import click

from chalicelib.classes import service
from chalicelib.core import clock
from chalicelib.core.errors import NotFound
from chalicelib.core.text import table


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return f"{clock.to_datetime(float(epoch)):%Y-%m-%d %H:%M:%S}Z ({float(epoch) - clock.now():+.0f}s)"


@click.group("classes")
def classes() -> None:
    """Class sessions: reconcile statuses, explain one session."""


@classes.command("update-statuses")
@click.option("--verbose", is_flag=True, help="Print every session looked at, even those left as they are.")
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
def update_statuses(verbose: bool, dry_run: bool) -> None:
    """Apply every due transition from the data (safe beside the workers: conditional writes)."""
    report = service.reconcile(grace=0, dry_run=dry_run)
    changed = [r for r in report if r.steps]
    for r in report if verbose else changed:
        steps = ", ".join(r.steps) or "nothing due"
        after = "" if dry_run or not r.steps else f" => {r.status_after}"
        click.echo(f"{r.class_id}  {r.status_before}: {steps}{after}")
    verb = "would change" if dry_run else "changed"
    click.echo(f"{len(changed)} session(s) {verb}, {len(report)} looked at")


@classes.command("explain")
@click.argument("class_id")
def explain(class_id: str) -> None:
    """A session's moments, timers, status history, attendance, and why it is where it is."""
    try:
        info = service.explain(class_id)
    except NotFound as error:
        click.echo(error.message, err=True)
        sys.exit(1)
    s = info["session"]
    click.echo(f"class {s.class_id}  '{s.title}'  {s.kind}, academy {s.academy_id}")
    click.echo(f"  teacher {s.teacher_id}; students {', '.join(s.student_ids)}")
    click.echo(f"  status  {s.status}  (schedule version {int(s.version)}, room {s.room_name or '-'})")
    click.echo(f"  why     {info['why']}")
    click.echo("\nmoments")
    click.echo(table(["moment", "at"], [(m, _when(t)) for m, t in info["moments"].items()]))
    click.echo("\ntimers (current schedule version)")
    click.echo(
        table(
            ["moment", "due", "state", "key"],
            [(t["moment"], _when(t["due_at"]), t["state"], t["key"]) for t in info["timers"]],
        )
    )
    click.echo("\nhistory")
    rows = [
        (
            h.from_status,
            h.to_status,
            _when(h.at),
            "-" if h.due_at is None else f"{float(h.at) - float(h.due_at):.3f}s",
            h.reason,
        )
        for h in info["history"]
    ]
    click.echo(table(["from", "to", "at", "late", "reason"], rows) if rows else "  (none yet)")
    if info["attendance"]:
        click.echo("\nattendance")
        click.echo(
            table(
                ["user", "role", "first joined", "in room", "minutes"],
                [
                    (
                        a.user_id,
                        a.role,
                        _when(a.first_joined_at),
                        a.in_room_since is not None,
                        f"{float(a.seconds or 0) / 60:.1f}",
                    )
                    for a in info["attendance"]
                ],
            )
        )


commands: list[click.Command] = [classes]
