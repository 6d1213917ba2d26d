"""Admin CRUD of routers and packages, and what the portal sells on a router."""

from __future__ import annotations

from typing import Any

from chalicelib.core import ids, secrets
from chalicelib.hotspot.models import catalog
from chalicelib.hotspot.models.items import PackageItem, RouterItem
from chalicelib.hotspot.settings import router_secret_name


def add_router(fields: dict[str, Any], password: str, radius_secret: str | None = None) -> RouterItem:
    """The password (and a RADIUS-mode router's RADIUS secret) go to Secrets Manager first; the
    item only names the secrets."""
    router_id = ids.new_id("rtr_")
    secret = router_secret_name(router_id)
    secrets.write(secret, {"password": password})
    if radius_secret is not None:
        fields = {**fields, "radius_secret": f"{secret}/radius"}
        secrets.write(fields["radius_secret"], {"secret": radius_secret})
    return catalog.add_router(router_id, secret, fields)


def router(router_id: str) -> RouterItem | None:
    return catalog.get_router(router_id)


def routers() -> list[RouterItem]:
    return catalog.routers()


def update_router(
    router_id: str, fields: dict[str, Any], password: str | None, radius_secret: str | None = None
) -> RouterItem | None:
    """Change a router's fields; a new password (RADIUS secret) replaces its secret's value.
    ``None``: no router."""
    found = catalog.get_router(router_id)
    if found is None:
        return None
    if password is not None:
        secrets.write(found.password_secret, {"password": password})
    if radius_secret is not None:
        fields = {**fields, "radius_secret": f"{found.password_secret}/radius"}
        secrets.write(fields["radius_secret"], {"secret": radius_secret})
    return found if catalog.update_router(found, fields) else None


def unknown_routers(router_ids: list[str]) -> list[str]:
    return [r for r in router_ids if catalog.get_router(r) is None]


def add_package(fields: dict[str, Any]) -> PackageItem:
    return catalog.add_package(ids.new_id("pkg_"), fields)


def package(package_id: str) -> PackageItem | None:
    return catalog.get_package(package_id)


def packages(router_id: str | None = None, active_only: bool = False) -> list[PackageItem]:
    """Packages (sold on ``router_id``; only active ones), cheapest first."""
    found = catalog.packages()
    if router_id:
        found = [p for p in found if router_id in (p.router_ids or [])]
    if active_only:
        found = [p for p in found if p.active]
    return sorted(found, key=lambda p: (int(p.price), p.name))


def update_package(package_id: str, fields: dict[str, Any]) -> PackageItem | None:
    """Change a package (``None`` removes an optional field); ``None``: no such package."""
    found = catalog.get_package(package_id)
    if found is None:
        return None
    return found if catalog.update_package(found, fields) else None
