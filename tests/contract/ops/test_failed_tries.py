"""A failed try's record on DynamoDB Local: the provisioner's boto3 write and the core's PynamoDB
one are the same conditional put, so a late write of an earlier try never hides a later one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.core.queues import FailedAttempt, failed_key
from functions.router_provisioner import store as store_module
from functions.router_provisioner.config import Settings
from functions.router_provisioner.store import Store
from tests.support.ids import unique

pytestmark = pytest.mark.contract


@pytest.fixture
def store(tables: list[str], dynamodb_local: str) -> Iterator[Store]:
    store_module.reset_clients()
    yield Store(Settings(stage="test"))
    store_module.reset_clients()


def test_a_late_earlier_try_never_overwrites_a_later_one(store: Store) -> None:
    """Given try 3 of a provisioning command recorded
    When try 2's record arrives late, then try 4 fails, then the command succeeds
    Then the record says try 3 after the late write, try 4 with its next try after the next, and
    is gone after the success; the core reads it as PynamoDB's FailedAttempt."""
    message_id = unique("msg")
    store.record_failure(message_id, "try 3: refused", 3, next_try_in=30, summary="provision u1 on r1")
    store.record_failure(message_id, "try 2: refused", 2, next_try_in=15, summary="provision u1 on r1")

    item = FailedAttempt.get(failed_key("muda-test-provisioning"), message_id, consistent_read=True)
    assert (int(item.attempts), item.error, int(item.max_attempts)) == (3, "try 3: refused", 6)

    store.record_failure(message_id, "try 4: timed out", 4, next_try_in=60, summary="provision u1 on r1")
    item.refresh(consistent_read=True)
    assert (int(item.attempts), item.summary) == (4, "provision u1 on r1")
    assert float(item.next_try_at) > float(item.failed_at)

    store.record_success(message_id)
    with pytest.raises(FailedAttempt.DoesNotExist):
        item.refresh(consistent_read=True)
