"""The operations console: one static page at ``/admin`` (its style and script inlined, nothing
from a CDN). The page is public, like any sign-in page; everything it shows comes from the
admin routes and the live feed, which need an admin token."""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path

from chalicelib.core.config import get_settings
from chalicelib.core.http import Api, Call
from chalicelib.live.settings import settings

api = Api(__name__, tag="ops")
CONSOLE = Path(__file__).parent / "console"


@cache
def _asset(name: str) -> str:
    return (CONSOLE / name).read_text(encoding="utf-8")


@api.route("/admin", roles=None, content_type="text/html; charset=utf-8")
def console(call: Call) -> str:
    """The operations console: live events, queues and dead letters, retries, timers, runtime
    health, routers and look-ups (sign in with an admin bearer token)."""
    config = {"websocket_url": settings().websocket_url, "stage": get_settings().stage}
    page = _asset("index.html")
    page = page.replace("/*STYLE*/", _asset("console.css")).replace("/*SCRIPT*/", _asset("console.js"))
    return page.replace("{{CONFIG}}", html.escape(json.dumps(config), quote=True))
