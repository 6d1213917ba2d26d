"""Local stack hooks of the waitroom domain (registered in its Domain, chalicelib.core.registry).

- ``provision()``: the checkout-token key ring in Secrets Manager (a first key generated);
- ``seed(stack)``: an active demo event, tokens to try it with, the pour command, and the waiting
  page of a branded demo sale (``/wait/demo-page``) to open in a browser.
"""

from __future__ import annotations

import contextlib

from chalicelib.core.auth import dev_token
from chalicelib.core.errors import Conflict

DEMO_EVENT = "demo-sale"
PAGE_EVENT = "demo-page"


def provision() -> None:
    from chalicelib.waitroom import tokens

    tokens.ensure_key()


def seed(stack: object) -> list[str]:
    from chalicelib.waitroom import service
    from chalicelib.waitroom.schemas import CreateEvent

    with contextlib.suppress(Conflict):  # seeded on an earlier run
        service.create_event(
            CreateEvent(
                id=DEMO_EVENT,
                name="Demo sale (waiting room)",
                max_concurrent=5,
                batch_size=5,
                checkout_minutes=2,
                session_ttl_minutes=120,
                status="active",
            )
        )
    with contextlib.suppress(Conflict):
        service.create_event(
            CreateEvent.model_validate(
                {
                    "id": PAGE_EVENT,
                    "name": "Tamasha Festival tickets",
                    "max_concurrent": 2,
                    "batch_size": 2,
                    "checkout_minutes": 1,
                    "session_ttl_minutes": 120,
                    "status": "active",
                    "checkout_url": f"{getattr(stack, 'api_url', 'http://127.0.0.1:8000')}/waitroom/.well-known/jwks.json",
                    "page": {
                        "organiser": "Tamasha Festival",
                        "primary_color": "#7a1f5c",
                        "refresh_seconds": 5,
                    },
                }
            )
        )
    fan = dev_token("fan-1", ["patient"])
    return [
        "",
        f"Waiting room (docs/waitroom.md): event '{DEMO_EVENT}' is active (cap 5, checkout 2 min)",
        f"  export FAN={fan}",
        f'  curl -s -X POST -H "Authorization: Bearer $FAN" $API/waitroom/events/{DEMO_EVENT}/join',
        f'  curl -s -H "Authorization: Bearer $ADMIN" $API/waitroom/events/{DEMO_EVENT}/stats',
        f"  .venv/bin/muda waitroom pour {DEMO_EVENT} 50   # 50 simulated users, watch them admitted",
        f"  waiting page (cap 2; open it in a few browsers): $API/wait/{PAGE_EVENT}   (?lang=sw: Kiswahili)",
    ]
