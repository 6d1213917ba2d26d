"""The waiting page over HTTP without a browser (chalice test client on in-process moto): the
server-rendered page a phone without JavaScript sees and follows, the script's two JSON calls,
languages, branding, redirects, and the join rate limits."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from chalice.test import Client

from chalicelib.core import config
from chalicelib.waitroom import models, service
from chalicelib.waitroom.page import strings, theme
from tests.integration.conftest import bearer
from tests.support.ids import unique

pytestmark = pytest.mark.usefixtures("ring")
SHOP = "https://shop.example.com/checkout"


class Browser:
    """A browser without JavaScript: one cookie jar, follows 303s and ``<meta refresh>`` by hand."""

    def __init__(self, api: Client, language: str = "en") -> None:
        self.api, self.cookie, self.language = api, "", language

    def get(self, path: str) -> Any:
        headers = {"Accept-Language": self.language}
        if self.cookie:
            headers["Cookie"] = self.cookie
        response = self.api.http.get(path, headers=headers)
        if "Set-Cookie" in response.headers:
            self.cookie = response.headers["Set-Cookie"].split(";")[0]
        return response

    def open(self, path: str) -> tuple[Any, str]:
        """Load ``path`` and follow redirects and zero-second refreshes within this site."""
        response = self.get(path)
        for _ in range(5):
            target = response.headers.get("Location") or refresh_url(response.body.decode())
            if not target or not target.startswith("/"):
                break
            response = self.get(target)
        return response, response.body.decode()


def refresh_url(page: str) -> str | None:
    match = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', page)
    return html.unescape(match.group(1)) if match else None


def text_of(page: str, element: str) -> str:
    match = re.search(rf'id="{element}"[^>]*>([^<]*)<', page)
    return html.unescape(match.group(1)) if match else ""


@pytest.fixture
def admin(token) -> str:
    return token("admin-1", "admin")


def make_event(api: Client, admin: str, **fields: Any) -> dict:
    body = {
        "id": unique("page"),
        "name": "Tamasha tickets",
        "status": "active",
        "max_concurrent": 1,
        "shards": 4,
        "checkout_url": SHOP,
        "page": {"organiser": "Tamasha Ltd", "primary_color": "#7a1f5c"},
        **fields,
    }
    response = api.http.post("/waitroom/events", headers=bearer(admin), body=json.dumps(body))
    assert response.status_code == 201, response.body
    return json.loads(response.body)


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Given join limits of 3 per IP and 2 per device in a 60-second window."""
    monkeypatch.setenv("MUDA_WAITROOM_JOIN_LIMIT_PER_IP", "3")
    monkeypatch.setenv("MUDA_WAITROOM_JOIN_LIMIT_PER_DEVICE", "2")
    monkeypatch.setenv("MUDA_WAITROOM_JOIN_LIMIT_WINDOW_SECONDS", "60")
    config.reset_settings()
    yield
    monkeypatch.undo()
    config.reset_settings()


def test_the_page_without_javascript_joins_shows_the_place_and_advances_to_checkout(
    api: Client, admin: str
) -> None:
    """Given a sale with one checkout slot, taken by a first visitor
    When a second visitor opens the page without JavaScript (following its refreshes)
    Then they get a cookie and a server-rendered place (1st, nobody ahead), with a live region and
    a refresh at the interval the API suggests; when the first completes, the next refresh sends
    them to the organiser's URL with a checkout token that verifies with the JWKS."""
    sale = make_event(api, admin)
    first = Browser(api)
    _, page = first.open(f"/wait/{sale['id']}")
    first_target = refresh_url(page)
    assert first_target and first_target.startswith(SHOP + "?token=")

    second = Browser(api)
    response, page = second.open(f"/wait/{sale['id']}")
    assert response.status_code == 200 and second.cookie.startswith("muda_visitor=")
    assert text_of(page, "position") == "1" and text_of(page, "ahead") == "You are next"
    assert 'aria-live="polite"' in page and "Tamasha Ltd" in page
    assert re.search(r'<noscript><meta http-equiv="refresh" content="\d+"></noscript>', page)

    token = first_target.split("token=")[1]
    session_id = jwt.decode(token, options={"verify_signature": False})["sub"]
    done = api.http.post(f"/waitroom/sessions/{session_id}/complete", body=json.dumps({"token": token}))
    assert done.status_code == 200

    _, page = second.open(f"/wait/{sale['id']}")  # the refresh
    target = refresh_url(page)
    assert target and target.startswith(SHOP + "?token=")
    keys = jwt.PyJWKSet.from_dict(json.loads(api.http.get("/waitroom/.well-known/jwks.json").body))
    issued = target.split("token=")[1]
    kid = jwt.get_unverified_header(issued)["kid"]
    key = next(k.key for k in keys.keys if k.key_id == kid)
    claims = jwt.decode(issued, key, algorithms=["RS256"], audience=sale["id"])
    assert claims["uid"].startswith("visitor:") and claims["sub"] != session_id


def test_reloading_keeps_the_place_and_the_script_resumes_from_its_stored_visitor(
    api: Client, admin: str
) -> None:
    """Given a visitor queued behind a full slot
    When they reload (cookie), or their script joins again with the visitor id from local storage
    Then it is the same place every time (one place per visitor and event)."""
    sale = make_event(api, admin)
    Browser(api).open(f"/wait/{sale['id']}")  # takes the slot
    joined = api.http.post(f"/wait/{sale['id']}/join")
    state = json.loads(joined.body)
    visitor, place = state["visitor"], state["state"]["session_id"]
    assert state["state"]["status"] == "queued" and state["state"]["position"] == 1

    again = json.loads(api.http.post(f"/wait/{sale['id']}/join", headers={"X-Muda-Visitor": visitor}).body)
    polled = json.loads(
        api.http.get(f"/wait/{sale['id']}/status", headers={"Cookie": f"muda_visitor={visitor}"}).body
    )
    assert again["state"]["session_id"] == polled["session_id"] == place
    assert polled["position"] == 1 and polled["poll_after_seconds"] > 0
    stranger = json.loads(api.http.get(f"/wait/{sale['id']}/status").body)
    assert stranger["status"] == "not_joined" and stranger["session_id"] is None


def test_paused_closed_and_unknown_events_say_so(api: Client, admin: str) -> None:
    """Given a queued visitor, when the organiser pauses the line the page says so and keeps the
    place; a newcomer is told joining reopens; closed says closed; an unknown sale is a 404 page."""
    sale = make_event(api, admin)
    Browser(api).open(f"/wait/{sale['id']}")
    waiting = Browser(api)
    waiting.open(f"/wait/{sale['id']}")
    api.http.post(f"/waitroom/events/{sale['id']}/pause", headers=bearer(admin))

    _, page = waiting.open(f"/wait/{sale['id']}")
    assert "paused by the organiser" in text_of(page, "detail") and text_of(page, "position") == "1"
    _, newcomer = Browser(api).open(f"/wait/{sale['id']}")
    assert "when it opens again" in text_of(newcomer, "detail")
    refused = api.http.post(f"/wait/{sale['id']}/join")
    assert refused.status_code == 409 and json.loads(refused.body)["error"]["code"] == "event_not_active"

    api.http.post(f"/waitroom/events/{sale['id']}/close", headers=bearer(admin))
    _, page = waiting.open(f"/wait/{sale['id']}")
    assert "closed" in text_of(page, "detail") and "refresh" not in page.split("<body")[0]
    missing = Browser(api).get("/wait/no-such-sale")
    assert missing.status_code == 404 and "There is no such sale" in missing.body.decode()


def test_swahili_from_the_browser_language_and_a_post_form_redirect(api: Client, admin: str) -> None:
    """Given an event that hands the token over as a POST field named ``qt``
    When a Swahili-speaking browser (Accept-Language sw-KE) is admitted
    Then the page is in Swahili, with a form posting ``qt`` to the target URL."""
    sale = make_event(api, admin, page={"redirect": "post", "token_param": "qt"})
    _, page = Browser(api, "sw-KE,sw;q=0.9,en;q=0.5").open(f"/wait/{sale['id']}")
    assert '<html lang="sw">' in page and strings.STRINGS["sw"]["admitted"] in html.unescape(page)
    assert f'method="post" action="{SHOP}"' in page
    assert re.search(r'<input type="hidden" name="qt" value="ey[^"]+">', page)
    assert strings.choose("en-GB,en;q=0.9,sw;q=0.8") == "en" and strings.choose("fr") == "en"


def test_organiser_colours_must_keep_the_progress_bar_visible(api: Client, admin: str) -> None:
    """Given a primary colour too close to the background, the event is refused (422, nothing
    written); text is always black or white, whichever contrasts more (>= 4.5:1)."""
    body = {"id": unique("pale"), "name": "Pale", "page": {"primary_color": "#fefefe"}}
    refused = api.http.post("/waitroom/events", headers=bearer(admin), body=json.dumps(body))
    assert refused.status_code == 422 and models.events.get_event(body["id"]) is None
    for colour in ("#ffffff", "#777777", "#0b6e4f", "#ffcc00", "#000000"):
        assert theme.contrast(colour, theme.text_on(colour)) >= 4.5


@pytest.mark.usefixtures("limits")
def test_a_burst_from_one_address_is_refused_with_429_and_retry_after(api: Client, admin: str, clock) -> None:
    """Given join limits of 3 per IP and 2 per device
    When one address sends a burst of 8 joins (new devices), and one device joins 3 times
    Then at most 3 get a place, the rest get 429 with Retry-After and the JSON error, and refused
    joins leave no place behind; the device's third join is refused too. (The clock is frozen:
    a burst must not straddle two windows.)"""
    sale = make_event(api, admin, max_concurrent=100)
    answers = [api.http.post(f"/wait/{sale['id']}/join") for _ in range(8)]
    ok = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429]
    assert len(ok) <= 3 and len(ok) + len(refused) == 8
    error = json.loads(refused[0].body)["error"]
    assert error["code"] == "too_many_requests" and 1 <= int(refused[0].headers["Retry-After"]) <= 60
    assert len(models.sessions.queue_sessions(sale["id"])) == len(ok)

    visitor = "d" * 22
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUDA_WAITROOM_JOIN_LIMIT_PER_IP", "1000")
        config.reset_settings()
        device = [
            api.http.post(f"/wait/{sale['id']}/join", headers={"X-Muda-Visitor": visitor}).status_code
            for _ in range(3)
        ]
    config.reset_settings()
    assert device == [200, 200, 429]
    busy, page = Browser(api).open(f"/wait/{sale['id']}?join=1")  # without JavaScript: a page that retries
    assert busy.status_code == 429 and "Many people are joining" in text_of(page, "notice")
    assert re.search(r'<noscript><meta http-equiv="refresh" content="\d+"></noscript>', page)


def test_the_sharded_line_gives_distinct_places_in_join_order(make_event) -> None:
    """Given an event with 8 counter shards, when 12 users join one after another, their tickets
    are consecutive in join order and each sees exactly the people ahead of them."""
    event = make_event(id=unique("shards"), max_concurrent=1, shards=8)
    joined = [service.join(event.event_id, f"u{n}")[0] for n in range(12)]
    assert [int(s.ticket) for s in joined] == list(range(1, 13))
    views = [service.view(s, models.events.get_event(event.event_id)) for s in joined[1:]]
    assert [v.people_ahead for v in views] == list(range(11))
