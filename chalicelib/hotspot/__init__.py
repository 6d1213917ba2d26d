"""Hotspot: packages paid by M-Pesa (through chalicelib/payments) to MikroTik access, and the
captive portal."""

from chalicelib.core.registry import Domain, register

DOMAIN = register(
    Domain(
        "hotspot",
        tables=("hotspot",),
        queues=("provisioning",),
        modules=("chalicelib.hotspot.api", "chalicelib.hotspot.vouchers.api", "chalicelib.hotspot.handlers"),
        cli=("chalicelib.hotspot.cli", "chalicelib.hotspot.routers_cli"),
        local=("infra.local.routers", "infra.local.hotspot"),
    )
)
