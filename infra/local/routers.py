"""Local stack hooks of the router side of the hotspot (RouterOS simulator) (all optional; see infra.local.stack.DOMAINS).

- ``provision()``: after the template is deployed (secrets, generated keys);
- ``start(stack)``: before the API starts (simulator processes, env for the API/runtime);
- ``seed(stack) -> list[str]``: demo data once everything runs; returns banner lines.
"""

from __future__ import annotations
