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

    @classmethod
    def from_attributes(cls, queue: str, attrs: dict[str, str], dlq_attrs: dict[str, str]) -> QueueDepth:
        return cls(
            queue,
            int(attrs.get("ApproximateNumberOfMessages", 0)),
            int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
            int(dlq_attrs.get("ApproximateNumberOfMessages", 0)),
        )


def count_by_kind(kinds: Iterable[str]) -> list[tuple[str, int]]:
    return sorted(Counter(kinds).items())
