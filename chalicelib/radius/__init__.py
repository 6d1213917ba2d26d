"""Hotspot over RADIUS: FreeRADIUS (``infra/radius``) asks Muda through ``rlm_rest`` whether a
user may log in on a RADIUS-mode router, and reports accounting; Muda answers from the hotspot's
subscriptions (docs/radius.md)."""

from chalicelib.core.registry import Domain, register

DOMAIN = register(
    Domain(
        "radius",
        modules=("chalicelib.radius.api",),
        local=("infra.local.radius",),
    )
)
