"""Classes: scheduled sessions that run themselves."""

from chalicelib.core.registry import Domain, register

DOMAIN = register(
    Domain(
        "classes",
        tables=("classes",),
        modules=("chalicelib.classes.api", "chalicelib.classes.purchases_api", "chalicelib.classes.handlers"),
        cli=("chalicelib.classes.cli",),
        local=("infra.local.classes",),
    )
)
