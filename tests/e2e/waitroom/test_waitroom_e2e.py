"""The waiting room on the local stack over HTTP: a burst of concurrent joins never passes the cap,
completions admit the next in order, tokens verify with the published JWKS (checkout expiry by
timer is the integration tier's, on a frozen clock)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
import requests

from chalicelib.core.auth import dev_token
from chalicelib.core.ids import new_id
from infra.local.stack import LocalStack
from tests.e2e.conftest import WAIT
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e


class Client:
    def __init__(self, stack: LocalStack) -> None:
        self.url = stack.api_url
        self.http = requests.Session()
        self.http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=20))  # a burst of 20
        self.admin = dev_token("admin-1", ["admin"])

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.request(method, self.url + path, headers=headers, timeout=WAIT, **kw)

    def event(self, **fields: Any) -> str:
        event_id = f"e2e-{new_id()}"
        body = {"id": event_id, "name": "E2E sale", "status": "active", **fields}
        response = self.call("POST", "/waitroom/events", self.admin, json=body)
        assert response.status_code == 201, response.text
        return event_id

    def status(self, session: dict, token: str) -> dict:
        return self.call("GET", f"/waitroom/sessions/{session['id']}", token).json()

    def stats(self, event_id: str) -> dict:
        return self.call("GET", f"/waitroom/events/{event_id}/stats", self.admin).json()


@pytest.fixture
def api(stack: LocalStack) -> Client:
    return Client(stack)


def test_burst_of_joins_never_passes_the_cap_and_completions_admit_in_order(api: Client) -> None:
    """Given an event with a cap of 5, when 20 users join at once (each join an admission attempt),
    exactly 5 are processing; as the admitted complete with their tokens (verified offline with the
    JWKS), the next are admitted in ticket order until all 20 completed."""
    event_id = api.event(max_concurrent=5, batch_size=5)
    tokens = {f"fan-{n}": dev_token(f"fan-{n}", ["patient"]) for n in range(20)}
    with ThreadPoolExecutor(max_workers=20) as pool:
        joined = list(
            pool.map(lambda u: api.call("POST", f"/waitroom/events/{event_id}/join", tokens[u]), tokens)
        )
    assert all(r.status_code == 200 for r in joined), [r.text for r in joined if r.status_code != 200]
    sessions = {r.json()["user_id"]: r.json() for r in joined}
    stats = eventually(lambda: (s := api.stats(event_id))["processing"] == 5 and s, WAIT, 0.2, "5 processing")
    assert stats["queued"] == 15 and stats["admitted"] == 5

    keys = jwt.PyJWKSet.from_dict(api.call("GET", "/waitroom/.well-known/jwks.json").json())
    completed: list[dict] = []
    while len(completed) < 20:
        views = [
            api.status(s, tokens[u])
            for u, s in sessions.items()
            if s["id"] not in {c["id"] for c in completed}
        ]
        admitted = [v for v in views if v["status"] == "admitted"]
        assert 0 < len(admitted) <= 5 and api.stats(event_id)["processing"] <= 5
        for view in admitted:
            kid = jwt.get_unverified_header(view["checkout_token"])["kid"]
            key = next(k.key for k in keys.keys if k.key_id == kid)
            claims = jwt.decode(view["checkout_token"], key, algorithms=["RS256"], audience=event_id)
            assert claims["sub"] == view["id"] and claims["uid"] == view["user_id"]
            done = api.call(
                "POST", f"/waitroom/sessions/{view['id']}/complete", json={"token": view["checkout_token"]}
            )
            assert done.status_code == 200, done.text
            completed.append(view)
    order = sorted(completed, key=lambda v: v["admission_no"])
    assert [v["ticket"] for v in order] == sorted(v["ticket"] for v in completed)
    final = api.stats(event_id)
    assert (final["completed"], final["processing"], final["queued"]) == (20, 0, 0)
