"""The waiting page as HTML, rendered on the server from the same state the script polls, so a
phone without JavaScript sees its place (and advances by ``<meta http-equiv=refresh>``)."""

from __future__ import annotations

import html
import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.waitroom.page import strings, theme

ASSETS = Path(__file__).parent
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")
DEFAULT_PAGE = {"primary_color": "#0b6e4f", "background_color": "#ffffff"}


@cache
def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def message(state: dict[str, Any], lang: str) -> tuple[str, str]:
    """The headline and the line under it for a state (the script has the same rules)."""
    w = strings.STRINGS[lang]
    status, event_status = state["status"], state["event"]["status"]
    if status == "queued":
        if event_status == "paused":
            return w["position"], w["paused"]
        if event_status == "closed":
            return w["position"], w["closed"]
        return w["position"], eta_text(state, lang)
    if status == "admitted":
        return w["admitted"], ""
    if status in ("completed", "expired", "abandoned", "revoked"):
        return w["done"] if status == "completed" else w[status], ""
    # not joined (yet)
    if event_status in ("paused", "draft"):
        return w["title"], w["paused_join" if event_status == "paused" else "draft"]
    if event_status == "closed":
        return w["closed"], ""
    return w["joining"], ""


def eta_text(state: dict[str, Any], lang: str) -> str:
    w = strings.STRINGS[lang]
    if state.get("people_ahead") == 0:
        return w["eta_soon"]
    span = state.get("eta_range")
    if not span:
        return w["eta_unknown"]
    low, high = span
    return w["eta"].format(low=strings.duration(low, lang), high=strings.duration(high, lang))


def ahead_text(ahead: int | None, lang: str) -> str:
    w = strings.STRINGS[lang]
    if ahead is None:
        return ""
    if ahead == 0:
        return w["ahead_none"]
    return w["ahead_one"] if ahead == 1 else w["ahead_many"].format(n=f"{ahead:,}")


def page(
    state: dict[str, Any],
    settings: dict[str, Any] | None,
    lang: str,
    *,
    visitor: str | None,
    join_url: str | None,
    refresh_after: float | None,
    notice: str | None = None,
    lang_chosen: bool = True,
) -> str:
    """The whole page. ``join_url``: where a browser without JavaScript goes to join;
    ``refresh_after``: when it reloads (both inside ``<noscript>``: the script polls instead)."""
    w = strings.STRINGS[lang]
    conf = {**DEFAULT_PAGE, **(settings or {})}
    colours = theme.palette(conf["primary_color"], conf["background_color"])
    style = ":root{" + ";".join(f"{k}:{v}" for k, v in colours.items()) + "}" + _asset("wait.css")
    esc = html.escape
    title, detail = message(state, lang)
    organiser = conf.get("organiser") or state["event"]["name"]
    refresh = ""
    redirect = state.get("redirect")
    if redirect and redirect["method"] == "GET":
        refresh = f'<meta http-equiv="refresh" content="0;url={esc(redirect["url"])}">'
    elif join_url:
        refresh = f'<meta http-equiv="refresh" content="0;url={esc(join_url)}">'
    elif refresh_after:
        refresh = f'<meta http-equiv="refresh" content="{math.ceil(refresh_after)}">'
    position = state.get("position")
    progress = state.get("progress")
    pct = round((progress or 0) * 100)
    logo = (
        f'<img class="logo" src="{esc(conf["logo_url"])}" alt="{esc(organiser)}" width="160" height="48">'
        if conf.get("logo_url")
        else ""
    )
    action = ""
    if redirect:
        if redirect["method"] == "POST":
            action = (
                f'<form id="checkout" method="post" action="{esc(redirect["url"])}">'
                f'<input type="hidden" name="{esc(redirect["field"])}" value="{esc(redirect["token"])}">'
                f'<button type="submit">{esc(w["continue"])}</button></form>'
            )
        else:
            action = f'<a id="checkout" class="button" href="{esc(redirect["url"])}">{esc(w["continue"])}</a>'
    other = "sw" if lang == "en" else "en"
    config = {
        "event": state["event"]["id"],
        "lang": lang,
        "langChosen": lang_chosen,  # ?lang= or Accept-Language; else navigator.language may choose
        "strings": strings.STRINGS,
        "state": state,
        "visitor": visitor,
    }
    body = _asset("index.html")
    values = {
        "LANG": lang,
        "TITLE": esc(f"{organiser} · {w['title']}"),
        "REFRESH": f"<noscript>{refresh}</noscript>" if refresh else "",
        "STYLE": style,
        "LOGO": logo,
        "ORGANISER": esc(organiser),
        "EVENT": esc(state["event"]["name"]),
        "HEADLINE": esc(title),
        "POSITION": f"{position:,}" if position else "",
        "POSITION_HIDDEN": "" if position else "hidden",
        "AHEAD": esc(ahead_text(state.get("people_ahead"), lang)),
        "DETAIL": esc(detail),
        "PROGRESS": str(pct),
        "PROGRESS_HIDDEN": "" if progress is not None else "hidden",
        "ACTION": action,
        "KEEP_OPEN": esc(w["keep_open"].format(minutes=max(1, round(state["abandon_after_seconds"] / 60)))),
        "OTHER_LANG": other,
        "OTHER_LANG_NAME": esc(w["language"]),
        "REFRESH_LABEL": esc(w["refresh"]),
        "NOTICE": esc(notice or ""),
        "NOTICE_HIDDEN": "" if notice else "hidden",
        "CONFIG": esc(json.dumps(config), quote=True),
        "SCRIPT": _asset("wait.js"),
    }
    # One pass: a value (an organiser's name, say) is never read as another placeholder.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], body)


def not_found(lang: str) -> str:
    w = strings.STRINGS[lang]
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(w['not_found'])}</title></head>"
        f"<body><main><h1>{html.escape(w['not_found'])}</h1></main></body></html>"
    )
