"""Payments: one M-Pesa capability for every product (STK push, the callback and its archive,
settlement with the product's grant, the query of pushes with no result, receipts used once)."""

from chalicelib.core.registry import Domain, register

DOMAIN = register(
    Domain(
        "payments",
        tables=("payments",),
        queues=("payments",),
        modules=("chalicelib.payments.api", "chalicelib.payments.handlers"),
        cli=("chalicelib.payments.cli",),
        local=("infra.local.payments",),
    )
)
