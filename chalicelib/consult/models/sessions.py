"""Text sessions and calls before and around metering: reads, creation, messages, activity, the
unmetered exits (cancelled, expired, failed, ended unconnected) and a call's connection.

Each write that reports to users emits its ``Notice`` in the same transaction."""

from __future__ import annotations

from typing import Any

from chalicelib.consult import logic
from chalicelib.consult.logic import Notice
from chalicelib.consult.models import doctors, items
from chalicelib.consult.models.doctor_items import QueueEntry
from chalicelib.consult.models.items import Message, Session
from chalicelib.core import clock, db

SESSION = "session"  # the label of a session's conditional update


def get_session(session_id: str) -> Session | None:
    return db.get_or_none(Session, *items.session_key(session_id), consistent=True)


def sessions_of(sub: str, role: str, limit: int = 50) -> list[Session]:
    return items.party_list(Session, role, sub, items.SESSIONS, limit)


def messages(session_id: str, limit: int = 100, after: str | None = None) -> list[Message]:
    partition, after_key = items.message_key(session_id, after or "")
    condition = Message.sk > after_key if after else Message.sk.startswith(items.MESSAGES)
    return list(Message.query(partition, condition, consistent_read=True, limit=limit))


def create(session: Session, notice: Notice | None, queued: QueueEntry | None = None) -> None:
    """Store a new session, its open marker, its place in the doctor's queue (text requests) and
    the news of it — only while the doctor is active and offers its mode (checked in the same
    transaction). Raises ``db.Refused`` (label ``doctor``)."""
    with db.transact() as tx:
        doctors.check(tx, session.doctor_id, doctors.offers(session.kind))
        tx.put(session, condition=Session.pk.does_not_exist(), label=SESSION)
        tx.put(items.marker("session", session.session_id))
        if queued is not None:
            tx.put(queued)
        if notice is not None:
            tx.emit(*notice.event())


def _leave_queue(tx: db.Tx, session: Session) -> None:
    """A text request that stops waiting leaves the doctor's queue (a no-op for calls)."""
    if session.kind == "text":
        tx.delete(
            QueueEntry(*items.queue_key(session.doctor_id, float(session.created_at), session.session_id))
        )


def put_message(message: Message, session_id: str, expected: str, activity: list[Any]) -> None:
    """Store a message and the sender's activity, only while the session is still ``expected``.
    Raises ``db.Refused``."""
    with db.transact() as tx:
        tx.put(message, condition=Message.sk.does_not_exist())
        tx.update(
            Session(*items.session_key(session_id)),
            activity,
            condition=Session.status == expected,
            label=SESSION,
        )


def activate(message: Message, session: Session, now: float, notice: Notice) -> None:
    """The doctor's first message: store it and activate the session, once; the request leaves
    the doctor's queue. Raises ``db.Refused``."""
    session_id = session.session_id
    with db.transact() as tx:
        _leave_queue(tx, session)
        tx.put(message, condition=Message.sk.does_not_exist())
        tx.update(
            Session(*items.session_key(session_id)),
            [
                Session.status.set(logic.ACTIVE),
                Session.activated_at.set(now),
                Session.metered_from.set(now),
                Session.doctor_active_at.set(now),
                Session.updated_at.set(now),
            ],
            condition=Session.status == logic.PENDING,
            label=SESSION,
        )
        tx.emit(*notice.event())


def touch(session_id: str, role: str, now: float) -> bool:
    """Record ``role``'s activity while the session is metering (each party its own attribute,
    so concurrent updates of both parties lose nothing)."""
    attr = Session.patient_active_at if role == "patient" else Session.doctor_active_at
    return db.update_if(
        Session(*items.session_key(session_id)),
        [attr.set(now), Session.updated_at.set(now)],
        Session.status.is_in(*logic.METERING),
    )


def close_unmetered(
    session: Session, expected: str, status: str, reason_attr: str, reason: str, notice: Notice | None = None
) -> bool:
    """A session that never metered leaves (cancelled, expired, failed, ended before connecting):
    one conditional transition, no money, out of the doctor's queue, and its news if any.
    ``False`` if it was not ``expected``."""
    now = clock.now()
    session_id = session.session_id
    reason_field = Session.ended_reason if reason_attr == "ended_reason" else Session.failure_reason

    def write() -> None:
        with db.transact() as tx:
            tx.update(
                Session(*items.session_key(session_id)),
                [
                    Session.status.set(status),
                    Session.ended_at.set(now),
                    Session.updated_at.set(now),
                    reason_field.set(reason),
                ],
                condition=Session.status == expected,
                label=SESSION,
            )
            tx.delete(items.marker("session", session_id))
            _leave_queue(tx, session)
            if notice:
                tx.emit(*notice.event())

    return db.applied(write, refused_by=SESSION)


def connect(session_id: str, now: float, deadline_started_after: float) -> bool:
    """``connecting → connected`` only if it started after ``deadline_started_after`` (i.e. the
    connection timeout has not run out)."""
    return db.update_if(
        Session(*items.session_key(session_id)),
        [
            Session.status.set(logic.CONNECTED),
            Session.connected_at.set(now),
            Session.metered_from.set(now),
            Session.updated_at.set(now),
        ],
        (Session.status == logic.CONNECTING) & (Session.created_at > deadline_started_after),
    )
