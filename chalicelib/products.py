"""The composition root: the products this deployment runs, in the order they register.

Each is a package under ``chalicelib/`` whose ``__init__`` registers its ``Domain``
(``chalicelib.core.registry``); ``app.py``, ``muda`` and the local stack read the registry.
"""

from __future__ import annotations

import importlib

PRODUCTS = ("ops", "notifications", "payments", "consult", "hotspot", "classes", "waitroom", "live", "radius")


def load() -> None:
    for product in PRODUCTS:
        importlib.import_module(f"chalicelib.{product}")
