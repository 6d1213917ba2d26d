"""When a failed try's record still means "retrying"."""

from __future__ import annotations

import pytest

from chalicelib.ops.logic import retrying


@pytest.mark.parametrize(
    ("attempts", "most", "next_try_at", "now", "expected"),
    [
        (1, 5, 110.0, 100.0, True),  # waiting for its second try
        (2, 5, 90.0, 100.0, True),  # its next try is due: running now
        (2, 5, 90.0, 2000.0, False),  # due long ago and never replaced: it ended
        (5, 5, None, 100.0, False),  # the last try failed: a dead letter
        (1, 6, None, 100.0, False),  # sent straight to the DLQ (invalid)
        (3, None, 110.0, 100.0, True),  # a queue without a DLQ retries forever
    ],
)
def test_retrying(attempts, most, next_try_at, now, expected) -> None:
    """Given a failed try's record, it is a job still retrying only while another try is due
    (not the last try) and that try is not long overdue."""
    assert retrying(attempts, most, next_try_at, now, grace=900) is expected
