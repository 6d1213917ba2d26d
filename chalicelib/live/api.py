"""The operations console: one static page at ``/admin`` (its style and script inlined, nothing
from a CDN). The page is public, like any sign-in page; everything it shows comes from the
admin routes and the live feed, which need an admin token.

It holds an admin's token, so it is sent with a strict Content-Security-Policy: only its own
inline script and style (by hash), requests to this API and the live feed's WebSocket, no
framing, no forms posted elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from chalice import Response

from chalicelib.core.config import get_settings
from chalicelib.core.http import Api, Call
from chalicelib.live.settings import settings

api = Api(__name__, tag="ops")
CONSOLE = Path(__file__).parent / "console"
HTML = "text/html; charset=utf-8"


@cache
def _asset(name: str) -> str:
    return (CONSOLE / name).read_text(encoding="utf-8")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def policy(websocket_url: str | None) -> str:
    """The page's Content-Security-Policy: its inline script and style by hash; fetches to this
    origin and the WebSocket's."""
    parts = urlsplit(websocket_url or "")
    socket = f" {parts.scheme}://{parts.netloc}" if parts.scheme in ("ws", "wss") and parts.netloc else ""
    return (
        "default-src 'none'; "
        f"script-src {_hash(_asset('console.js'))}; "
        f"style-src {_hash(_asset('console.css'))}; "
        "img-src data:; "
        f"connect-src 'self'{socket}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


@api.route("/admin", roles=None, content_type=HTML)
def console(call: Call) -> Response:
    """The operations console: live events, queues and dead letters, retries, timers, runtime
    health, routers and look-ups (sign in with an admin bearer token)."""
    websocket_url = settings().websocket_url
    config = {"websocket_url": websocket_url, "stage": get_settings().stage}
    page = _asset("index.html")
    page = page.replace("/*STYLE*/", _asset("console.css")).replace("/*SCRIPT*/", _asset("console.js"))
    page = page.replace("{{CONFIG}}", html.escape(json.dumps(config), quote=True))
    headers = {
        "Content-Type": HTML,
        "Content-Security-Policy": policy(websocket_url),
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
    return Response(body=page, status_code=200, headers=headers)
