"""Waiting room: event-driven admission under a cap, with RS256 checkout tokens."""

from chalicelib.core.registry import Domain, register

DOMAIN = register(
    Domain(
        "waitroom",
        tables=("waitroom",),
        modules=(
            "chalicelib.waitroom.api",
            "chalicelib.waitroom.page.routes",
            "chalicelib.waitroom.handlers",
        ),
        cli=("chalicelib.waitroom.cli",),
        local=("infra.local.waitroom",),
    )
)
