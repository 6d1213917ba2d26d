"""``muda waitroom …`` on in-process moto."""

from __future__ import annotations

from click.testing import CliRunner

from chalicelib.ops.cli import main
from chalicelib.waitroom import models


def test_pour_admits_everyone_as_checkouts_complete_and_stats_show_it(make_event) -> None:
    """Given an event with a cap of 2, when 6 simulated users are poured in, all are admitted in turn
    and complete; stats then show 6 admitted, 6 completed, none processing."""
    event = make_event(max_concurrent=2, batch_size=2)
    runner = CliRunner()
    poured = runner.invoke(
        # One worker: in-process moto is not thread-safe (the command uses 8 against a real endpoint).
        main,
        [
            "waitroom",
            "pour",
            event.event_id,
            "6",
            "--checkout-seconds",
            "0",
            "--interval",
            "0",
            "--workers",
            "1",
        ],
    )
    assert poured.exit_code == 0, poured.output
    assert "6 users joined" in poured.output and "processing    0/2" in poured.output.splitlines()[-1]
    after = models.events.get_event(event.event_id)
    assert (after.admitted, after.completed, after.processing) == (6, 6, 0)
    stats = runner.invoke(main, ["waitroom", "stats", event.event_id])
    assert stats.exit_code == 0 and "completed" in stats.output
    assert runner.invoke(main, ["waitroom", "stats", "nope"]).exit_code == 1


def test_rotate_key_and_admit_commands(make_event) -> None:
    """Given the CLI, rotate-key publishes a second key and admit reports an attempt."""
    runner = CliRunner()
    rotated = runner.invoke(main, ["waitroom", "rotate-key"])
    assert rotated.exit_code == 0 and rotated.output.count("wr-") == 3  # active + both published
    event = make_event()
    assert "admitted 0" in runner.invoke(main, ["waitroom", "admit", event.event_id]).output
    assert event.event_id in runner.invoke(main, ["waitroom", "events"]).output
