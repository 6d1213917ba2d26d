"""What each product brings to the stage: its tables, queues, blueprints, CLI and local hooks.

The core knows no product. Each product package declares a ``Domain`` in its ``__init__`` and
registers it; ``chalicelib.products`` (the composition root) names the products a deployment
runs. The core and ``ops`` read what is registered: health probes every registered table and
queue, ``muda`` hangs every registered CLI module's ``commands`` off itself, and the local stack
calls every registered local hook module.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Domain:
    name: str
    tables: tuple[str, ...] = ()  # short names, as in infra/template.yaml (``muda-<stage>-<name>``)
    queues: tuple[str, ...] = ()  # work queues; each has a ``<name>-dlq``
    modules: tuple[str, ...] = ()  # modules holding blueprints (``api``, ``handlers``), dotted
    cli: tuple[str, ...] = ()  # modules with a ``commands`` list of click commands
    local: tuple[str, ...] = ()  # modules of local-stack hooks (``provision``, ``start``, ``seed``)


_domains: dict[str, Domain] = {}


def register(domain: Domain) -> Domain:
    _domains[domain.name] = domain
    return domain


def domains() -> list[Domain]:
    """Every registered domain, the core's first (loads the products on first use)."""
    from chalicelib import products

    products.load()
    return list(_domains.values())


def tables() -> list[str]:
    return [t for d in domains() for t in d.tables]


def queues() -> list[str]:
    return [q for d in domains() for q in d.queues]


def modules(kind: str) -> list[ModuleType]:
    """The registered modules of one kind: ``"modules"`` (blueprints), ``"cli"``."""
    return [importlib.import_module(m) for d in domains() for m in getattr(d, kind)]


def blueprints() -> list[Any]:
    """Every registered blueprint: a handlers module's ``blueprint``, a routes module's ``api``'s."""
    return [getattr(m, "blueprint", None) or m.api.blueprint for m in modules("modules")]


def local_hooks(hook: str) -> list[object]:
    """The local stack's ``hook`` functions (``provision``, ``start``, ``seed``), in domain order."""
    found = []
    for d in domains():
        for name in d.local:
            module = importlib.import_module(name)
            if hasattr(module, hook):
                found.append(getattr(module, hook))
    return found


# The spine's own resources: the timers, the operations log, the outbox; the events queue the
# bus feeds (its consumer keeps the event log).
register(
    Domain(
        "core",
        tables=("timers", "ops", "outbox"),
        queues=("timers", "events"),
        modules=("chalicelib.core.api", "chalicelib.core.docs", "chalicelib.core.handlers"),
    )
)
