"""Text sessions and calls: open, message, activity, connect, end, and their ledgers."""

from __future__ import annotations

from chalicelib.consult import service
from chalicelib.consult.api import PARTIES, PATIENT, api
from chalicelib.consult.api.shapes import (
    ledger_out,
    message_out,
    session_out,
    viewer,
)
from chalicelib.consult.schemas import (
    CreateTextSession,
    LedgerOut,
    MessageIn,
    MessageList,
    MessageOut,
    MessagePage,
    SessionList,
    SessionOut,
    StartCall,
    ViewerPage,
)
from chalicelib.core.http import Call


@api.route(
    "/text-sessions",
    "POST",
    body=CreateTextSession,
    response=SessionOut,
    status=201,
    roles=PATIENT,
    errors=(400, 402, 404),
)
def create_text_session(call: Call) -> SessionOut:
    """Ask a doctor for a text session (needs a text credit; 402 without)."""
    return session_out(service.create_text_session(call.user, call.body.doctor_id))


@api.route("/text-sessions", query=ViewerPage, response=SessionList, roles=PARTIES)
def list_text_sessions(call: Call) -> SessionList:
    """Your text sessions, newest first."""
    sub, role = viewer(call)
    sessions = service.sessions_of(sub, role, call.args.limit, text=True)
    return SessionList(sessions=[session_out(s) for s in sessions])


@api.route("/text-sessions/{session_id}", response=SessionOut, roles=PARTIES)
def get_text_session(call: Call, session_id: str) -> SessionOut:
    """One text session."""
    return session_out(service.load_session(session_id, call.user, text=True)[0])


@api.route(
    "/text-sessions/{session_id}/messages",
    "POST",
    body=MessageIn,
    response=MessageOut,
    status=201,
    roles=PARTIES,
    errors=(409,),
)
def post_message(call: Call, session_id: str) -> MessageOut:
    """Send a message; the doctor's first one activates the session."""
    m = service.send_message(session_id, call.user, call.body.body)
    return message_out(m)


@api.route("/text-sessions/{session_id}/messages", query=MessagePage, response=MessageList, roles=PARTIES)
def get_messages(call: Call, session_id: str) -> MessageList:
    """The session's messages, oldest first (``?after=<message id>`` for the next page)."""
    args: MessagePage = call.args
    found = service.messages(session_id, call.user, args.limit, args.after)
    return MessageList(messages=[message_out(m) for m in found])


@api.route("/text-sessions/{session_id}/activity", "POST", response=SessionOut, roles=PARTIES, errors=(409,))
def post_activity(call: Call, session_id: str) -> SessionOut:
    """Record that you are active in the session (only while it is active; 409 otherwise)."""
    return session_out(service.record_activity(session_id, call.user))


@api.route("/text-sessions/{session_id}/end", "POST", response=SessionOut, roles=PARTIES, errors=(409,))
def end_text_session(call: Call, session_id: str) -> SessionOut:
    """End the session: bills the interval in progress; ending it again changes nothing."""
    return session_out(service.end_session(session_id, call.user, text=True))


@api.route("/text-sessions/{session_id}/ledger", response=LedgerOut, roles=PARTIES)
def session_ledger(call: Call, session_id: str) -> LedgerOut:
    """The debits and awards of one session, by interval."""
    return ledger_out(service.session_ledger(session_id, call.user))


# --- calls ------------------------------------------------------------------------------------


@api.route(
    "/calls", "POST", body=StartCall, response=SessionOut, status=201, roles=PATIENT, errors=(400, 402, 404)
)
def start_call(call: Call) -> SessionOut:
    """Start a voice or video call (needs a credit of its kind; 402 without)."""
    return session_out(service.start_call(call.user, call.body.doctor_id, call.body.kind))


@api.route("/calls", query=ViewerPage, response=SessionList, roles=PARTIES)
def list_calls(call: Call) -> SessionList:
    """Your calls, newest first."""
    sub, role = viewer(call)
    calls = service.sessions_of(sub, role, call.args.limit, text=False)
    return SessionList(sessions=[session_out(s) for s in calls])


@api.route("/calls/{session_id}", response=SessionOut, roles=PARTIES)
def get_call(call: Call, session_id: str) -> SessionOut:
    """One call."""
    return session_out(service.load_session(session_id, call.user, text=False)[0])


@api.route("/calls/{session_id}/connected", "POST", response=SessionOut, roles=PARTIES, errors=(409,))
def call_connected(call: Call, session_id: str) -> SessionOut:
    """The call connected: metering starts (409 once the connection timeout has run out)."""
    return session_out(service.call_connected(session_id, call.user))


@api.route("/calls/{session_id}/end", "POST", response=SessionOut, roles=PARTIES, errors=(409,))
def end_call(call: Call, session_id: str) -> SessionOut:
    """Hang up: bills the interval in progress if connected; free if it never connected."""
    return session_out(service.end_session(session_id, call.user, text=False))
