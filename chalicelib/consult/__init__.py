"""Consultations: metered text and call sessions, appointments without double booking."""

from chalicelib.core.registry import Domain, register

DOMAIN = register(
    Domain(
        "consult",
        tables=("consult",),
        modules=(
            "chalicelib.consult.api",
            "chalicelib.consult.api.purchases",
            "chalicelib.consult.api.payouts",
            "chalicelib.consult.handlers",
        ),
        cli=("chalicelib.consult.cli",),
        local=("infra.local.consult",),
    )
)
