"""The waiting page's routes (public): the page itself, and the two calls its script makes.
The page, the script and a browser without JavaScript use the same visitor (cookie or the
``X-Muda-Visitor`` header from local storage) and the same service calls."""

from __future__ import annotations

from typing import Literal

from chalice import Response
from pydantic import Field

from chalicelib.core.config import get_settings
from chalicelib.core.errors import MudaError, TooManyRequests
from chalicelib.core.http import Api, Call, error_response, json_response
from chalicelib.core.schemas import Query
from chalicelib.waitroom import logic
from chalicelib.waitroom.page import render, strings
from chalicelib.waitroom.service import visitors

api = Api(__name__, tag="waitroom page")
HTML = "text/html; charset=utf-8"
COOKIE = "muda_visitor"
COOKIE_DAYS = 7


class PageQuery(Query):
    join: bool = Field(default=False, description="Join now (browsers without JavaScript come here).")
    lang: Literal["en", "sw"] | None = Field(default=None, description="Language (default: Accept-Language).")


def _visitor(call: Call) -> str | None:
    """The visitor id: the page script's header (from local storage) first, else the cookie."""
    header = visitors.valid(call.headers.get("x-muda-visitor"))
    if header:
        return header
    for part in call.headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return visitors.valid(value)
    return None


def _cookie(visitor: str) -> str:
    secure = "" if get_settings().is_local else "; Secure"
    return f"{COOKIE}={visitor}; Path=/wait; Max-Age={COOKIE_DAYS * 86400}; HttpOnly; SameSite=Lax{secure}"


def _no_store(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"Cache-Control": "no-store", **(headers or {})}


def _refused(error: MudaError) -> Response:
    response = error_response(error)
    response.headers.update(_no_store())
    return response


@api.route("/wait/{event_id}", query=PageQuery, roles=None, content_type=HTML)
def waiting_page(call: Call, event_id: str) -> Response:
    """The waiting page the crowd sees: place in line, people ahead, ETA; on to checkout in turn."""
    args: PageQuery = call.args
    lang = strings.choose(call.headers.get("accept-language"), args.lang)
    chosen = bool(args.lang or call.headers.get("accept-language"))
    visitor = _visitor(call)
    try:
        visit = visitors.find(event_id, visitor)
    except MudaError:
        return Response(render.not_found(lang), status_code=404, headers=_no_store({"Content-Type": HTML}))
    headers = _no_store({"Content-Type": HTML})
    here = f"/wait/{event_id}" + (f"?lang={args.lang}" if args.lang else "")
    join_url = None
    if visit.session is None and visit.event.status == logic.ACTIVE:
        if args.join:  # a browser without JavaScript joins here, then reloads the plain page
            try:
                joined = visitors.join(event_id, visitor, call.source_ip)
            except TooManyRequests as error:  # this page again, after Retry-After
                busy = strings.STRINGS[lang]["busy"].format(s=error.retry_after)
                page = render.page(
                    visitors.state(visit),
                    visit.event.page,
                    lang,
                    visitor=None,
                    join_url=None,
                    refresh_after=error.retry_after,
                    notice=busy,
                )
                headers["Retry-After"] = str(error.retry_after)
                return Response(page, status_code=429, headers=headers)
            except MudaError:  # paused or closed in between: show the plain page
                joined = None
            if joined is not None:
                return Response(
                    "",
                    status_code=303,
                    headers={
                        **headers,
                        "Location": here,
                        "Set-Cookie": _cookie(joined.visitor),
                    },
                )
        join_url = here + ("&" if args.lang else "?") + "join=1"
    state = visitors.state(visit)
    page = render.page(
        state,
        visit.event.page,
        lang,
        visitor=visit.visitor if visit.session else None,
        join_url=join_url,
        refresh_after=state.get("poll_after_seconds"),
        lang_chosen=chosen,
    )
    return Response(page, status_code=200, headers=headers)


@api.route("/wait/{event_id}/join", "POST", roles=None, errors=(409, 429))
def page_join(call: Call, event_id: str) -> Response:
    """Join from the page (again: the same place). Limited per IP and device: 429 + Retry-After."""
    try:
        visit = visitors.join(event_id, _visitor(call), call.source_ip)
    except MudaError as error:
        return _refused(error)
    body = {"visitor": visit.visitor, "state": visitors.state(visit)}
    return json_response(body, headers=_no_store({"Set-Cookie": _cookie(visit.visitor or "")}))


@api.route("/wait/{event_id}/status", roles=None)
def page_status(call: Call, event_id: str) -> Response:
    """The visitor's place, polled by the page (the heartbeat); ``not_joined`` without one."""
    try:
        visit = visitors.find(event_id, _visitor(call))
    except MudaError as error:
        return _refused(error)
    return json_response(visitors.state(visit), headers=_no_store())
