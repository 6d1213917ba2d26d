"""Operations rules without AWS: how queue figures and timers are summarised for people."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    visible: int
    in_flight: int
    delayed: int
    dead: int
    oldest_age_seconds: float | None = None  # the oldest visible message's wait (None: no data)
    max_attempts: int | None = None  # tries before the DLQ (the redrive policy's maxReceiveCount)

    @classmethod
    def from_attributes(
        cls,
        queue: str,
        attrs: dict[str, str],
        dlq_attrs: dict[str, str],
        oldest_age_seconds: float | None = None,
        max_attempts: int | None = None,
    ) -> QueueDepth:
        return cls(
            queue,
            int(attrs.get("ApproximateNumberOfMessages", 0)),
            int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
            int(dlq_attrs.get("ApproximateNumberOfMessages", 0)),
            oldest_age_seconds,
            max_attempts,
        )


def retrying(
    attempts: int, max_attempts: int | None, next_try_at: float | None, now: float, grace: float
) -> bool:
    """A failed try's record is a job still retrying while another try is due (not the last,
    ``next_try_at`` set) and that try is not long past: a record whose next try should have run
    ``grace`` ago was cleared by nothing, so its job ended (a crash between try and clean-up)."""
    if next_try_at is None or (max_attempts is not None and attempts >= max_attempts):
        return False
    return now <= next_try_at + grace


def count_by_kind(kinds: Iterable[str]) -> list[tuple[str, int]]:
    return sorted(Counter(kinds).items())
