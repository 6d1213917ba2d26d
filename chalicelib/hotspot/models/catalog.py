"""Routers and packages: what the operator sells, where (admin CRUD's reads and writes)."""

from __future__ import annotations

from typing import Any

from chalicelib.core import clock, db
from chalicelib.hotspot.models.items import (
    PACKAGES,
    ROUTERS,
    PackageItem,
    RouterItem,
    package_key,
    router_key,
)


def add_router(router_id: str, password_secret: str, fields: dict[str, Any]) -> RouterItem:
    item = RouterItem(
        *router_key(router_id),
        router_id=router_id,
        password_secret=password_secret,
        status="unknown",
        created_at=int(clock.now()),
        gsi1pk=ROUTERS,
        gsi1sk=router_id,
        **fields,
    )
    if not db.put_if_absent(item):
        raise RuntimeError(f"router id {router_id} already taken")
    return item


def get_router(router_id: str) -> RouterItem | None:
    return db.get_or_none(RouterItem, *router_key(router_id))


def routers() -> list[RouterItem]:
    return list(RouterItem.gsi1.query(ROUTERS))


def update_router(router: RouterItem, fields: dict[str, Any]) -> bool:
    """Set ``fields`` on a router that still exists; ``False`` if it does not."""
    actions = db.updates(RouterItem, {**fields, "updated_at": int(clock.now())})
    return db.update_if(router, actions, RouterItem.pk.exists())


def add_package(package_id: str, fields: dict[str, Any]) -> PackageItem:
    item = PackageItem(
        *package_key(package_id),
        package_id=package_id,
        created_at=int(clock.now()),
        gsi1pk=PACKAGES,
        gsi1sk=package_id,
        **fields,
    )
    if not db.put_if_absent(item):
        raise RuntimeError(f"package id {package_id} already taken")
    return item


def get_package(package_id: str) -> PackageItem | None:
    return db.get_or_none(PackageItem, *package_key(package_id))


def packages() -> list[PackageItem]:
    return list(PackageItem.gsi1.query(PACKAGES))


def update_package(package: PackageItem, fields: dict[str, Any]) -> bool:
    """Set (or, for ``None``, remove) ``fields`` on a package that still exists."""
    actions = db.updates(PackageItem, {**fields, "updated_at": int(clock.now())})
    return db.update_if(package, actions, PackageItem.pk.exists())
