"""The waiting room's use cases, sequenced: write first (conditional), then tokens and timers.
``api.py``, ``handlers.py``, ``cli.py`` and the local seed call these and nothing below them.

- ``events``: admins' events (create, change, open/pause/close, list, stats);
- ``line``: joining, looking a session up, the status call;
- ``checkout``: completion, revocation, expiry, the per-minute backstop;
- ``admission``: the admission attempts every one of those triggers.
"""

from chalicelib.waitroom.service import admission, checkout, events, line
from chalicelib.waitroom.service.admission import ADMIT_TIMER, CHECKOUT_TIMER, AdmitResult, admit
from chalicelib.waitroom.service.checkout import backstop, complete, expire_checkout, revoke
from chalicelib.waitroom.service.events import (
    create_event,
    get_event,
    list_events,
    set_status,
    stats,
    update_event,
)
from chalicelib.waitroom.service.line import find_session, join, poll, view
from chalicelib.waitroom.settings import settings

__all__ = [
    "ADMIT_TIMER",
    "CHECKOUT_TIMER",
    "AdmitResult",
    "admission",
    "admit",
    "backstop",
    "checkout",
    "complete",
    "create_event",
    "events",
    "expire_checkout",
    "find_session",
    "get_event",
    "join",
    "line",
    "list_events",
    "poll",
    "revoke",
    "set_status",
    "settings",
    "stats",
    "update_event",
    "view",
]

# The timer kinds above are handled in handlers.py; import it so they are registered wherever the
# service runs (API, runtime, CLI, tests), not only where app.py is loaded.
from chalicelib.waitroom import handlers as _handlers  # noqa: F401
