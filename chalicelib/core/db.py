"""PynamoDB wiring and the one write toolkit every product uses.

Models subclass ``MudaModel`` and name their table by its short name (``table = "timers"``);
``rebind()`` re-reads the settings (tests that move the endpoint or stage).

The toolkit: ``transact()`` (labelled actions, a ``Refused`` that names the refusing label,
events through the outbox), ``retry_on_conflict``, ``applied`` (a refusal acknowledged as
``False``), ``claim_lease``, ``get_or_none``,
``put_if_absent`` / ``put_if`` / ``update_if`` / ``delete_if``. (Sort keys of instants:
``clock.time_key``.)
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.core import clock
from chalicelib.core.aws import endpoint_url
from chalicelib.core.config import get_settings

_models: list[type[MudaModel]] = []


class MudaModel(Model):
    """Base of every Muda table model."""

    table: ClassVar[str] = ""

    class Meta:
        table_name = "unbound"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.table:
            cls.Meta = type("Meta", (), {})  # own Meta: never share a table name with the base
            _models.append(cls)
            _bind(cls)


def _bind(model: type[MudaModel]) -> None:
    settings = get_settings()
    meta = model.Meta
    meta.table_name = settings.name(model.table)
    meta.region = settings.region
    meta.host = endpoint_url("dynamodb")
    meta.max_retry_attempts = 5
    meta.connect_timeout_seconds = 10
    meta.read_timeout_seconds = 30
    meta.max_pool_connections = 50
    meta.extra_headers = None
    meta.aws_access_key_id = meta.aws_secret_access_key = meta.aws_session_token = None
    if meta.host:
        meta.aws_access_key_id = "test"
        meta.aws_secret_access_key = "test"
    model._connection = None


def warm_up() -> None:
    """Build every model's client now. Lazily, a burst of threads on a cold process each builds
    its own (PynamoDB's client property is not guarded), seconds of CPU under the GIL."""
    for model in _models:
        model._get_connection().connection.client  # noqa: B018 - property builds the client


def rebind() -> None:
    global _connection
    for model in _models:
        _bind(model)
    _connection = None


_connection: Connection | None = None
_connection_lock = threading.Lock()


def connection() -> Connection:
    """One cached connection for transactions: building a botocore client costs ~0.1 s of CPU, far
    more than the transaction itself, so it is built once per process (under a lock, since
    PynamoDB's lazy client property is not guarded)."""
    global _connection
    with _connection_lock:
        if _connection is None:
            host = endpoint_url("dynamodb")
            built = Connection(
                region=get_settings().region,
                host=host,
                max_retry_attempts=5,
                max_pool_connections=50,
                # An emulator endpoint takes any key; the models are bound the same way.
                aws_access_key_id="test" if host else None,
                aws_secret_access_key="test" if host else None,
            )
            built.client  # noqa: B018 - the property builds the client
            _connection = built
        return _connection


# --- the write toolkit: every product's conditional writes go through these ------------------

CONDITION_FAILED = "ConditionalCheckFailedException"
REFUSED = "ConditionalCheckFailed"  # a transaction action's cancellation code
CONFLICT = "TransactionConflict"  # another transaction held an item at that instant

M = TypeVar("M", bound=MudaModel)
T = TypeVar("T")


def condition_failed(error: Exception) -> bool:
    """A PynamoDB write refused by its condition: the expected outcome of a duplicate or a lost
    race (a no-op to acknowledge), as opposed to any other failure (to raise)."""
    return getattr(error, "cause_response_code", None) == CONDITION_FAILED


def get_or_none(
    model: type[M], hash_key: Any, range_key: Any = None, *, consistent: bool = False
) -> M | None:
    try:
        return model.get(hash_key, range_key, consistent_read=consistent)
    except model.DoesNotExist:
        return None


def put_if_absent(item: MudaModel) -> bool:
    """Write ``item`` unless one with its key exists; ``False`` if it does (a duplicate)."""
    hash_attr = getattr(type(item), item._hash_keyname)  # type: ignore[attr-defined]
    return put_if(item, hash_attr.does_not_exist())


def put_if(item: MudaModel, condition: Any) -> bool:
    """Put ``item`` only while ``condition`` holds; ``False`` when it is refused."""
    try:
        item.save(condition=condition)
    except PutError as error:
        if condition_failed(error):
            return False
        raise
    return True


def update_if(item: MudaModel, actions: list[Any], condition: Any) -> bool:
    """Apply ``actions`` only while ``condition`` holds; ``False`` when it is refused (a duplicate
    or a lost race). On success ``item`` holds the new values."""
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as error:
        if condition_failed(error):
            return False
        raise
    return True


def delete_if(item: MudaModel, condition: Any) -> bool:
    try:
        item.delete(condition=condition)
    except DeleteError as error:
        if condition_failed(error):
            return False
        raise
    return True


def updates(model: type[MudaModel], fields: dict[str, Any]) -> list[Any]:
    """The update actions that give an item ``fields`` (``None`` removes an attribute)."""
    return [getattr(model, k).remove() if v is None else getattr(model, k).set(v) for k, v in fields.items()]


def apply(item: MudaModel, fields: dict[str, Any]) -> None:
    """What ``updates(fields)`` wrote, on the item in hand (after a transaction commits)."""
    for name, value in fields.items():
        setattr(item, name, value)


def claim_lease(item: MudaModel, claimed_at: Any, seconds: float, *, unless_done: Any = None) -> bool:
    """Claim the work ``item`` stands for, once: set ``claimed_at`` to now unless a live claim
    holds it (a claim older than ``seconds`` belongs to a worker that died, and is taken over) or
    the work is done (``unless_done`` is set). A duplicate delivery loses the claim."""
    now = clock.now()
    condition = claimed_at.does_not_exist() | (claimed_at < now - seconds)
    if unless_done is not None:
        condition = unless_done.does_not_exist() & condition
    return update_if(item, [claimed_at.set(now)], condition)


class Refused(Exception):
    """A transaction was cancelled: ``reasons`` maps each labelled action to DynamoDB's code
    (``"ConditionalCheckFailed"``, ``"TransactionConflict"`` or ``None`` for the actions that
    would have passed). Read by label (``refused.by("session")``), never by position."""

    def __init__(self, reasons: dict[str, str | None], conflict: bool = False) -> None:
        super().__init__(reasons)
        self.reasons = reasons
        self._conflict = conflict

    def by(self, label: str) -> bool:
        """Whether the action labelled ``label`` failed its condition."""
        return self.reasons.get(label) == REFUSED

    @property
    def refused(self) -> set[str]:
        return {label for label, code in self.reasons.items() if code == REFUSED}

    @property
    def conflict(self) -> bool:
        """Refused for contention only (no condition failed): worth a retry."""
        return self._conflict or (CONFLICT in self.reasons.values() and not self.refused)


class Tx:
    """One ``TransactWriteItems`` whose actions carry labels, and whose events ride the outbox.

    PynamoDB sends a transaction's actions grouped by type (condition checks, deletes, puts,
    updates) and DynamoDB's cancellation reasons follow the *sent* order, so the labels are kept
    in that same grouping. ``emit`` adds an outbox entry in the same transaction: the event exists
    if and only if the state change does.
    """

    _GROUPS = ("check", "delete", "put", "update")

    def __init__(self) -> None:
        self.write = TransactWrite(connection=connection())
        self._labels: dict[str, list[str]] = {group: [] for group in self._GROUPS}
        self.events: list[Any] = []  # outbox entries, drained after the commit

    def put(self, item: MudaModel, condition: Any = None, label: str = "") -> None:
        self.write.save(item, condition=condition)
        self._labels["put"].append(label)

    def update(self, item: MudaModel, actions: list[Any], condition: Any = None, label: str = "") -> None:
        self.write.update(item, actions=actions, condition=condition)
        self._labels["update"].append(label)

    def delete(self, item: MudaModel, condition: Any = None, label: str = "") -> None:
        self.write.delete(item, condition=condition)
        self._labels["delete"].append(label)

    def check(
        self, model: type[MudaModel], hash_key: Any, range_key: Any, condition: Any, label: str
    ) -> None:
        self.write.condition_check(model, hash_key, range_key, condition=condition)
        self._labels["check"].append(label)

    def emit(
        self,
        aggregate: str,
        domain: str,
        name: str,
        detail: dict[str, Any] | None = None,
        *,
        sequence: int | None = None,
    ) -> str:
        """Publish ``name`` if and only if this transaction commits; returns its id. An aggregate
        whose events carry a ``sequence`` (its version) is ordered by it rather than by the
        writer's clock, which two workers' clocks could disagree on."""
        from chalicelib.core import outbox

        entry = outbox.entry(aggregate, domain, name, detail or {}, sequence)
        self.put(entry, label="outbox")
        self.events.append(entry)
        return entry.event_id

    @property
    def labels(self) -> list[str]:
        return [label for group in self._GROUPS for label in self._labels[group]]

    def refusal(self, error: TransactWriteError) -> Refused:
        if error.cause_response_code == "TransactionConflictException":
            return Refused({}, conflict=True)
        codes = [r.code if r else None for r in (error.cancellation_reasons or [])]
        reasons: dict[str, str | None] = {}
        for label, code in zip(self.labels, codes, strict=False):
            if reasons.get(label) != REFUSED:  # one refusal under a label is the answer
                reasons[label] = code
        return Refused(reasons, conflict=not any(codes))


@contextmanager
def transact() -> Iterator[Tx]:
    """``with transact() as tx:`` — every labelled condition holds and everything is written, or
    nothing is and ``Refused`` says which labels refused. Events emitted in it are published right
    after the commit (and by the sweeper, should this process die first)."""
    tx = Tx()
    yield tx
    try:
        tx.write._commit()
    except TransactWriteError as error:
        if error.cause_response_code in ("TransactionCanceledException", "TransactionConflictException"):
            raise tx.refusal(error) from None
        raise
    if tx.events:
        from chalicelib.core import outbox

        outbox.drain_after_commit(tx.events)


def retry_on_conflict(write: Callable[[], T], attempts: int = 8) -> T:
    """Run ``write`` again, after a jittered exponential pause, while DynamoDB refuses it for
    contention alone (it refuses concurrent transactions on one item rather than queueing them).
    A refused *condition* is an answer, not contention, and is raised at once."""
    for attempt in range(attempts):
        try:
            return write()
        except Refused as refused:
            if not refused.conflict or attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0, 0.02 * (2**attempt)))
    raise AssertionError("unreachable")  # pragma: no cover


def applied(write: Callable[[], object], refused_by: str | None = None) -> bool:
    """Run ``write`` (a ``transact`` block), retrying contention; ``False`` when the condition
    labelled ``refused_by`` (any condition, if ``None``) refused it — the duplicate or the lost
    race a caller acknowledges — while any other refusal is raised."""
    try:
        retry_on_conflict(write)
    except Refused as refused:
        if refused.by(refused_by) if refused_by else refused.refused:
            return False
        raise
    return True
